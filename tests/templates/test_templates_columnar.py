"""Columnar conversion equals the per-row one: ``convert_table == to_arrow(convert(...))``."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st
from template_fixtures import BUILTIN_NLI, BUILTIN_NLI_EXTRA

from instructkit import (
    ConfigurationError,
    DataError,
    Instruction,
    ItemReport,
    Task,
    Template,
    TemplateError,
    convert,
    to_arrow,
)
from instructkit import strategies as iks
from instructkit._templates import _columnar as columnar_module
from instructkit.templates import FewShot, convert_table

NLI = BUILTIN_NLI
TASK = NLI[0].task
EXTRA = BUILTIN_NLI_EXTRA
TEXTS = st.text(st.characters(codec="utf-8"), max_size=10) | st.sampled_from(
    ["", " ", "\n\t", "\u3000", "\x1c", 'quote " and \\ back', "ctl \x01\x7f", "é 漢 🙂"]
)
SETTINGS = st.fixed_dictionaries(
    {
        "per_example": st.sampled_from([1, 2, "all"]),
        "options": st.sampled_from([True, False, 0.5]) | st.floats(0, 1),
        "option_styles": st.sampled_from([None, "flan", ["letters", "inline", "numbers"]]),
        "shuffle_options": st.booleans(),
        "seed": st.integers(-(2**63), 2**64 - 1),
    }
)


def per_row(rows: list[dict[str, Any]], templates: Any, **kwargs: Any) -> tuple[Any, Any]:
    """The reference: per-row convert of the table's own rows, then to_arrow."""
    report = ItemReport()
    try:
        records = list(convert(rows, templates, on_error="collect", report=report, **kwargs))
    except ConfigurationError as err:
        return err, None
    return to_arrow(records, record=Instruction), report


def columnar(data: Any, templates: Any, **kwargs: Any) -> tuple[Any, Any]:
    report = ItemReport()
    try:
        table = convert_table(data, templates, on_error="collect", report=report, **kwargs)
    except ConfigurationError as err:
        return err, None
    return table, report


def assert_same(data: pa.Table, templates: Any, **kwargs: Any) -> None:
    expected, expected_report = per_row(data.to_pylist(), templates, **kwargs)
    got, got_report = columnar(data, templates, **kwargs)
    if isinstance(expected, ConfigurationError):
        assert isinstance(got, ConfigurationError)
        assert str(got) == str(expected)
        return
    assert got.schema == expected.schema
    assert got.equals(expected), _first_difference(got, expected)
    assert got_report.summary() == expected_report.summary()
    assert [(r.row, r.reason) for r in got_report.rejections] == [
        (r.row, r.reason) for r in expected_report.rejections
    ]
    # A batch gives a batch of the same records.
    if data.num_rows:
        batch = data.combine_chunks().to_batches()[0]
        alone = convert_table(batch, templates, on_error="skip", report=ItemReport(), **kwargs)
        assert isinstance(alone, pa.RecordBatch)
        assert pa.Table.from_batches([alone]).equals(expected.combine_chunks())


def _first_difference(got: pa.Table, expected: pa.Table) -> str:
    for index, (a, b) in enumerate(zip(got.to_pylist(), expected.to_pylist(), strict=False)):
        if a != b:
            return f"record {index}: {a} != {b}"
    return f"{got.num_rows} records != {expected.num_rows}"


@st.composite
def nli_tables(draw: st.DrawFn) -> pa.Table:
    count = draw(st.integers(0, 14))
    id_kind = draw(st.sampled_from(["text", "int", "none"]))
    with_dataset = draw(st.booleans())
    rows = []
    for index in range(count):
        row: dict[str, Any] = {
            "premise": draw(TEXTS | st.none()),
            "hypothesis": draw(TEXTS),
            "label": draw(st.sampled_from([0, 1, 2, 2, 1, -1, None])),
        }
        if id_kind == "text":
            row["id"] = draw(st.sampled_from([f"r{index}", f'"q{index}\\', "", None]))
        elif id_kind == "int":
            row["id"] = draw(st.sampled_from([index, -index, None]))
        if with_dataset:
            row["dataset"] = draw(st.sampled_from([None, "nli", "other", ""]))
        rows.append(row)
    table = pa.Table.from_pylist(rows)
    cut = draw(st.integers(0, count))
    # Two record batches: row numbers in rejections count across them.
    return pa.concat_tables([table.slice(0, cut), table.slice(cut)])


@given(
    table=nli_tables(),
    settings=SETTINGS,
    templates=st.lists(st.sampled_from(NLI + EXTRA), min_size=1, max_size=5, unique_by=id),
    dataset=st.sampled_from([None, "nli"]),
    fewshot=st.sampled_from([None, 1, 2]),
)
def test_columnar_conversion_equals_per_row_conversion(
    table: pa.Table,
    settings: dict[str, Any],
    templates: list[Template],
    dataset: str | None,
    fewshot: int | None,
) -> None:
    if settings["per_example"] == 2 and len(templates) < 2:
        settings["per_example"] = 1
    shots = None
    if fewshot is not None:
        pool = [r for r in table.to_pylist() if r["label"] in (0, 1, 2) and r["premise"]]
        shots = FewShot(pool=pool, k=fewshot)
    assert_same(table, templates, dataset=dataset, fewshot=shots, **settings)


@given(
    pairs=st.lists(iks.task_rows(), min_size=1, max_size=8),
    settings=SETTINGS,
    drop=st.lists(st.integers(0, 7), max_size=2),
)
def test_columnar_conversion_equals_per_row_conversion_on_generated_tasks(
    pairs: list[iks.TemplatedRow], settings: dict[str, Any], drop: list[int]
) -> None:
    # One task: the first pair's; its template with a few more of other pairs' shapes.
    template = pairs[0].template
    rows = []
    for index, (other, row) in enumerate(pairs):
        if other.task != template.task:
            continue
        row = {**row, "id": f"g{index}"}
        if index in drop:
            row.pop(sorted(row)[0])  # a missing field: rejected, on both paths
        rows.append(row)
    try:
        table = pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return  # values Arrow cannot hold in one column (ints with text): not a table
    settings["per_example"] = 1
    assert_same(table, [template], **settings)


def test_common_rows_are_rendered_column_by_column() -> None:
    rows = [
        {"id": f"e{i}", "premise": f"P {i}.", "hypothesis": f"H {i}.", "label": i % 3}
        for i in range(200)
    ]
    table = pa.Table.from_pylist(rows)
    report = ItemReport()
    out = convert_table(table, NLI, seed=5, options=0.5, report=report, on_error="collect")
    assert out.equals(to_arrow(list(convert(rows, NLI, seed=5, options=0.5))))
    assert report.summary() == "200 seen, 200 valid, 0 rejected, 0 blank"


def test_raise_stops_at_the_first_bad_row_with_its_index() -> None:
    rows = [
        {"id": f"e{i}", "premise": "P.", "hypothesis": "H.", "label": -1 if i in (3, 5) else 0}
        for i in range(8)
    ]
    table = pa.concat_tables([pa.Table.from_pylist(rows[:2]), pa.Table.from_pylist(rows[2:])])
    with pytest.raises(TemplateError, match=r"unlabeled row.*row 3") as caught:
        convert_table(table, NLI, seed=0)
    with pytest.raises(TemplateError) as expected:
        list(convert(rows, NLI, seed=0))
    assert str(caught.value) == str(expected.value)


def test_data_must_be_an_arrow_table_or_batch() -> None:
    with pytest.raises(ConfigurationError, match="expected a pyarrow Table or RecordBatch"):
        convert_table([{"id": "a"}], NLI, seed=0)  # type: ignore[arg-type]


def test_a_task_without_labels_renders_columnar() -> None:
    task = Task(name="qa", fields={"question": "text", "answer": "text"}, target="answer")
    template = Template(id="qa", task=task, instruction="Q: {question}", response="{answer}")
    table = pa.table({"id": [1, 2, 3], "question": ["a?", "b?", None], "answer": ["x", " ", "z"]})
    assert_same(table, [template], seed=1)


def test_a_report_stopped_by_raise_counts_as_the_per_row_one() -> None:
    rows = [
        {"id": f"e{i}", "premise": "P.", "hypothesis": "H.", "label": -1 if i == 4 else 0}
        for i in range(9)
    ]
    expected, got = ItemReport(), ItemReport()
    with pytest.raises(TemplateError):
        list(convert(rows, NLI, seed=0, report=expected))
    with pytest.raises(TemplateError):
        convert_table(pa.Table.from_pylist(rows), NLI, seed=0, report=got)
    assert got.summary() == expected.summary() == "5 seen, 4 valid, 1 rejected, 0 blank"


def test_dictionary_encoded_and_large_text_columns_render_alike() -> None:
    rows = [
        {"id": f"e{i}", "premise": f"P{i % 3}.", "hypothesis": "H.", "label": i % 3}
        for i in range(30)
    ]
    table = pa.Table.from_pylist(rows)
    encoded = table.set_column(1, "premise", pc.dictionary_encode(table.column("premise")))
    large = table.set_column(2, "hypothesis", table.column("hypothesis").cast(pa.large_string()))
    expected = to_arrow(list(convert(rows, NLI, seed=2, options=0.5)))
    for data in (encoded, large):
        assert convert_table(data, NLI, seed=2, options=0.5).equals(expected)


def test_large_batches_are_converted_a_slice_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar_module, "_SLICE", 3)
    rows = [
        {"id": f"e{i}", "premise": f"P {i}.", "hypothesis": f"H {i}.", "label": i % 3}
        for i in range(10)
    ]
    rows[4]["label"] = -1  # rejected: its index counts across the slices
    table = pa.Table.from_pylist(rows)
    report = ItemReport()
    out = convert_table(table, NLI, seed=5, per_example=2, report=report, on_error="collect")
    expected = list(convert(rows, NLI, seed=5, per_example=2, report=ItemReport(), on_error="skip"))
    assert out.equals(to_arrow(expected))
    # Each slice of 3 rows gives its own chunk of at most 6 records.
    assert [len(chunk) for chunk in out.column("id").chunks] == [6, 4, 6, 2]
    assert [r.row for r in report.rejections] == [4]


def test_json_typed_columns_render_as_the_values_they_hold() -> None:
    # datasets' Json() feature: alternatives stored as JSON text are a list of answers.
    task = Task(name="qa", fields={"question": "text", "answer": "alternatives"}, target="answer")
    template = Template(id="qa-1", task=task, instruction="Q: {question}", response="{answer}")
    answers = ['["x", "y"]', '"z"', "[1, 2"]
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "question": ["one?", "two?", "three?"],
            "answer": pa.array(answers, pa.json_()),
        }
    )
    ok = table.slice(0, 2)
    values = [["x", "y"], "z"]
    rows = [{**row, "answer": value} for row, value in zip(ok.to_pylist(), values, strict=True)]
    got = convert_table(ok, template, seed=3)
    assert got.equals(to_arrow(list(convert(rows, template, seed=3))))
    assert got.column("response").to_pylist()[1] == "z"
    # Text that is not JSON is refused at its own row.
    with pytest.raises(DataError, match=r"row 2"):
        convert_table(table, template, seed=3)
