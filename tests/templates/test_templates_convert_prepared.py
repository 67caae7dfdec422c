"""Per-row convert's prepared, batched path gives what rendering each row on its own gives.

The reference is the straightforward path: the seeded picks from the public stable hashes
(:func:`stable_index` for the template, :func:`stable_unit` for the options), and the record
from :func:`render` (``render_row``, ``Rendered.provenance``, ``instruction_record``).
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from template_fixtures import BUILTIN_NLI, BUILTIN_NLI_EXTRA

from instructkit import (
    ConfigurationError,
    Conversation,
    DataError,
    Instruction,
    ItemReport,
    Task,
    Template,
    convert,
    render,
)
from instructkit._templates._convert import BATCH_ROWS
from instructkit._templates._hashing import stable_index, stable_unit

NLI = BUILTIN_NLI
TASK = NLI[0].task
EXTRA = BUILTIN_NLI_EXTRA
TEXTS = st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
    ["", " ", "\u3000", "é 漢 🙂", "broken \ud800", 'quote " {label}']
)


def reference(
    rows: list[dict[str, Any]],
    templates: list[Template],
    *,
    seed: int,
    dataset: str | None,
    options: float,
    option_styles: Any,
    shuffle_options: bool,
    record: str,
) -> tuple[list[Instruction | Conversation], list[tuple[int, str]]]:
    """Each row on its own: its picks from the stable hashes, its record from render()."""
    canonical = sorted(templates, key=lambda t: t.id)
    records: list[Instruction | Conversation] = []
    rejected: list[tuple[int, str]] = []
    for index, row in enumerate(rows):
        name = row.get("dataset") or dataset or templates[0].task.name
        example = str(row["id"])
        template = canonical[stable_index(seed, name, example, "template", len(canonical))]
        purpose = f"with-options:{template.id}"
        shown = options >= 1.0 or (
            options > 0.0 and stable_unit(seed, name, example, purpose) < options
        )
        try:
            made = render(
                template,
                row,
                seed=seed,
                dataset=dataset,
                options=shown,
                option_styles=option_styles,
                shuffle_options=shuffle_options,
            )
            records.append(made.to_conversation() if record == "conversation" else made)
        except DataError as err:
            report = ItemReport()
            report.reject(err.located(row=index), on_error="collect")
            rejected += [(r.row, r.reason) for r in report.rejections]
    return records, rejected


def assert_same(rows: list[dict[str, Any]], templates: list[Template], **kwargs: Any) -> None:
    report = ItemReport()
    try:
        got = list(convert(iter(rows), templates, on_error="collect", report=report, **kwargs))
    except ConfigurationError:
        return  # refused at call time (a marker-only template without options)
    expected, rejected = reference(rows, templates, **kwargs)
    assert got == expected
    for a, b in zip(got, expected, strict=True):
        assert type(a) is type(b)
        assert a.model_fields_set == b.model_fields_set
        assert orjson.dumps(a.model_dump()) == orjson.dumps(b.model_dump())
    assert [(r.row, r.reason) for r in report.rejections] == rejected
    assert (report.seen, report.valid) == (len(rows), len(rows) - len(rejected))


@st.composite
def nli_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 20))
    named = draw(st.booleans())
    rows = []
    for index in range(count):
        row: dict[str, Any] = {
            "id": draw(st.sampled_from([f"r{index}", index, f"id-{index}-\x00", f"é{index}"])),
            "premise": draw(TEXTS | st.none()),
            "hypothesis": draw(TEXTS),
            "label": draw(st.sampled_from([0, 1, 2, 2, 1, -1, None, "1", True])),
        }
        if named:
            row["dataset"] = draw(st.sampled_from(["nli", "other"]))
        rows.append(row)
    return rows


@given(
    rows=nli_rows(),
    templates=st.lists(st.sampled_from(NLI + EXTRA), min_size=1, max_size=5, unique_by=id),
    seed=st.integers(-(2**63), 2**64 - 1),
    dataset=st.sampled_from([None, "nli"]),
    options=st.sampled_from([1.0, 0.0, 0.5]) | st.floats(0, 1),
    option_styles=st.sampled_from([None, "flan", ["letters", "inline", "numbers"]]),
    shuffle_options=st.booleans(),
    record=st.sampled_from(["instruction", "conversation"]),
)
def test_convert_equals_rendering_each_row_on_its_own(
    rows: list[dict[str, Any]], templates: list[Template], **kwargs: Any
) -> None:
    if kwargs["dataset"] is not None:
        rows = [{k: v for k, v in row.items() if k != "dataset"} for row in rows]
    assert_same(rows, templates, **kwargs)


def test_rows_across_many_batches_equal_the_reference() -> None:
    # Batches grow from one row to BATCH_ROWS; bad rows and rows of two datasets among them.
    rows: list[dict[str, Any]] = []
    for index in range(3 * BATCH_ROWS + 17):
        rows.append(
            {
                "id": f"ex-{index}",
                "premise": f"A premise {index}." if index % 97 else None,
                "hypothesis": f"Hypothesis {index % 11}",
                "label": index % 3 if index % 89 else 7,
                "dataset": "snli" if index % 5 else "mnli",
            }
        )
    assert_same(
        rows,
        list(NLI),
        seed=3,
        dataset=None,
        options=0.5,
        option_styles=None,
        shuffle_options=False,
        record="instruction",
    )


def test_rows_before_a_failing_source_come_out_before_its_error() -> None:
    rows = [{"id": f"e{i}", "premise": "P.", "hypothesis": "H.", "label": i % 3} for i in range(40)]

    def failing() -> Any:
        yield from rows[:37]
        raise OSError("disk gone")

    report = ItemReport()
    got: list[Instruction] = []
    stream = convert(failing(), NLI, seed=0, on_error="collect", report=report)
    got.extend(itertools.islice(stream, 37))
    with pytest.raises(OSError, match="disk gone"):
        next(stream)
    assert got == list(convert(rows[:37], NLI, seed=0))
    assert report.seen == report.valid == 37


def test_a_rejected_row_raises_after_the_records_before_it() -> None:
    rows = [{"id": f"e{i}", "premise": "P.", "hypothesis": "H.", "label": 0} for i in range(9)]
    rows[6] = {**rows[6], "label": 5}
    stream = convert(rows, NLI, seed=0)
    assert len(list(itertools.islice(stream, 6))) == 6
    with pytest.raises(DataError, match="row 6"):
        next(stream)


QA = Task(
    name="qa",
    fields={"question": "text", "answer": "alternatives", "hint": "number", "tags": "list"},
    target="answer",
)
QA_TEMPLATES = [
    Template(id="qa-1", task=QA, instruction="Q: {question}", response="{answer}"),
    Template(
        id="qa-2",
        task=QA,
        system="Hint {hint}.",
        instruction="{question} ({tags})",
        response="A: {answer}",
    ),
    Template(id="qa-3", task=QA, instruction="{answer}?", response="{question}", inverted=True),
]


@st.composite
def qa_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for index in range(draw(st.integers(0, 12))):
        rows.append(
            {
                "id": f"q{index}",
                "question": draw(TEXTS),
                "answer": draw(st.lists(TEXTS, max_size=4) | TEXTS | st.none()),
                "hint": draw(st.integers(-3, 3) | st.floats() | st.just("x")),
                "tags": draw(st.lists(TEXTS, max_size=3) | st.just(3)),
            }
        )
    return rows


@given(
    rows=qa_rows(),
    templates=st.lists(st.sampled_from(QA_TEMPLATES), min_size=1, max_size=3, unique_by=id),
    seed=st.integers(-(2**63), 2**64 - 1),
    record=st.sampled_from(["instruction", "conversation"]),
)
def test_convert_of_other_field_kinds_equals_rendering_each_row(
    rows: list[dict[str, Any]], templates: list[Template], seed: int, record: str
) -> None:
    assert_same(
        rows,
        templates,
        seed=seed,
        dataset=None,
        options=True,
        option_styles=None,
        shuffle_options=False,
        record=record,
    )
