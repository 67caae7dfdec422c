"""benchmarks/convert.py: its plain loops render what instructkit renders, so the ratios
compare the same work (the benchmark itself is a script, run by hand)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import instructkit as ik

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "convert.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_convert", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("benchmark_convert", module)
    spec.loader.exec_module(module)
    return module


bench = load()
TEMPLATES = bench.templates()
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1)


def rows() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"id": st.just("x"), "premise": text, "hypothesis": text, "label": st.integers(0, 2)}
    )


@given(row=rows(), index=st.integers(0, len(TEMPLATES) - 1), shown=st.booleans())
def test_the_plain_loops_render_what_render_renders(
    row: dict[str, Any], index: int, shown: bool
) -> None:
    row = {**row, "premise": row["premise"].strip() or "p", "hypothesis": row["hypothesis"]}
    row["hypothesis"] = row["hypothesis"].strip() or "h"
    expected = ik.render(TEMPLATES[index], row, options=shown, option_styles="dash")
    instruction, response = bench._patterns()[index][0 if shown else 1]
    values = {**row, "answer": bench._LABELS[row["label"]], "options": bench._OPTIONS_BLOCK}
    assert instruction.format_map(values) == expected.instruction
    assert response.format_map(values) == expected.response


def test_the_jinja_templates_render_what_str_format_renders() -> None:
    jinja2 = pytest.importorskip("jinja2")
    environment = jinja2.Environment(autoescape=False, keep_trailing_newline=True)
    row = next(bench.snli_rows(1))
    values = {**row, "answer": bench._LABELS[row["label"]], "options": bench._OPTIONS_BLOCK}
    for pair in bench._patterns():
        for instruction, response in pair:
            source = bench._jinja_source(instruction) + " ||| " + bench._jinja_source(response)
            rendered = environment.from_string(source).render(
                row, answer_choices=bench._LABELS, options=bench._OPTIONS_BLOCK
            )
            assert rendered == f"{instruction.format_map(values)} ||| {response.format_map(values)}"


def test_the_rows_are_the_same_for_the_same_indices() -> None:
    assert list(bench.snli_rows(3, start=5)) == list(bench.snli_rows(8))[5:]


@pytest.mark.parametrize("case", ["datasets_map_1", "datasets_map_2"])
def test_the_datasets_cases_convert_every_engine_row(case: str, tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    result = bench._child_case(case, 10, 300, tmp_path)
    assert result["rows"] == 300
    # The inputs stay for the next run; the converted files go.
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "snli-300.datasets",
        "snli-300.parquet",
    ]
