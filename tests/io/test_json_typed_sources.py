"""Values of Arrow's JSON type (``datasets``' ``Json()`` feature) arrive as the values they stand
for, from every source that read, read_raw, adapt and convert take: as ``datasets`` gives them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instructkit import (
    Conversation,
    DataError,
    ItemReport,
    adapt,
    convert,
    parse_row,
    read,
    read_raw,
    to_arrow,
    to_dataset,
)
from instructkit._sources import iter_rows
from instructkit.strategies._json import json_values
from instructkit.templates import Task, Template

datasets = pytest.importorskip("datasets")
Features, Json, List, Value = datasets.Features, datasets.Json, datasets.List, datasets.Value

TOOL = {
    "type": "function",
    "function": {
        "name": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
OPENAI_ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"Weather in {city}?", "tool_calls": None},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": f"call_{i}",
                        "type": "function",
                        "function": {"name": "weather", "arguments": {"city": city, "n": i}},
                    }
                ],
            },
        ],
        "tools": [TOOL],
    }
    for i, city in enumerate(["Paris", "Oslo", "Lima"])
]
# tools and tool-call arguments as Json(), as `datasets` makes them of mixed-type JSON.
OPENAI_FEATURES = Features(
    {
        "messages": List(
            {
                "role": Value("string"),
                "content": Value("string"),
                "tool_calls": List(
                    {
                        "id": Value("string"),
                        "type": Value("string"),
                        "function": {"name": Value("string"), "arguments": Json()},
                    }
                ),
            }
        ),
        "tools": List(Json()),
    }
)

SQUAD_ROWS = [
    {
        "id": f"q{i}",
        "title": "Geography",
        "context": f"Paris is in France, row {i}.",
        "question": "Where is Paris?",
        "answers": {"text": ["France", "in France"], "answer_start": [12, 9]},
    }
    for i in range(3)
]
SQUAD_FEATURES = Features(
    {
        "id": Value("string"),
        "title": Value("string"),
        "context": Value("string"),
        "question": Value("string"),
        "answers": Json(),
    }
)

QA = Task(
    name="squad",
    fields={"context": "text", "question": "text", "answers": "alternatives"},
    target="answers",
)
QA_TEMPLATE = Template(
    id="qa-1", task=QA, instruction="{context}\n\nQ: {question}", response="{answers}"
)


def _sources(dataset: Any) -> dict[str, Callable[[], Any]]:
    """The same rows as each kind of source (fresh each call: some are read once)."""
    table = dataset.data.table
    return {
        "Dataset": lambda: dataset,
        "IterableDataset": lambda: dataset.to_iterable_dataset(),
        "Table": lambda: table,
        "batches": lambda: table.to_batches(max_chunksize=2),
        "batch iterator": lambda: iter(table.to_batches(max_chunksize=2)),
    }


def test_openai_rows_with_json_tools_read_as_datasets_gives_them() -> None:
    dataset = datasets.Dataset.from_list(OPENAI_ROWS, features=OPENAI_FEATURES)
    decoded = list(dataset)  # datasets' own view: tools and arguments are dicts
    assert decoded[0]["tools"] == [TOOL]
    expected = [parse_row(row, dialect="openai") for row in decoded]
    for kind, source in _sources(dataset).items():
        with read_raw(source()) as reader:
            rows = list(reader)
        assert [row["tools"] for row in rows] == [[TOOL]] * 3, kind
        assert rows[1]["messages"][1]["tool_calls"][0]["function"]["arguments"] == {
            "city": "Oslo",
            "n": 1,
        }, kind
        with read(source(), dialect="openai", record=Conversation) as records:
            assert list(records) == expected, kind


def test_adapt_and_convert_see_json_columns_as_values() -> None:
    dataset = datasets.Dataset.from_list(SQUAD_ROWS, features=SQUAD_FEATURES)
    assert dataset[0]["answers"] == SQUAD_ROWS[0]["answers"]
    expected = list(adapt("squad", SQUAD_ROWS))
    for kind, source in _sources(dataset).items():
        assert list(adapt("squad", source())) == expected, kind

    # A task's list field held as Json(): the alternatives, not their JSON text.
    task_rows = [
        {"id": row["id"], "context": row["context"], "question": row["question"], "answers": a}
        for row, a in zip(
            SQUAD_ROWS, [["France"], ["in France", "France"], ["France"]], strict=True
        )
    ]
    once = list(convert(task_rows, QA_TEMPLATE, seed=3))
    assert {r.response for r in once} <= {"France", "in France"}
    task_dataset = datasets.Dataset.from_list(
        task_rows,
        features=Features(
            {name: Value("string") for name in ("id", "context", "question")} | {"answers": Json()}
        ),
    )
    for kind, source in _sources(task_dataset).items():
        assert list(convert(source(), QA_TEMPLATE, seed=3)) == once, kind


def test_instructkit_tables_keep_the_typed_path_and_give_values_to_converters() -> None:
    chats = [
        parse_row(row, dialect="openai").model_copy(update={"meta": {"n": i}})
        for i, row in enumerate(OPENAI_ROWS)
    ]
    for source in (to_arrow(chats), to_dataset(chats)):
        with read(source) as reader:
            assert list(reader) == chats
        assert reader.dialect == "instructkit"
        # The rows a converter is given hold meta and the tool schemas as values.
        rows = list(iter_rows(source))
        assert [row["meta"] for row in rows] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert rows[0]["tools"] == [TOOL]


def _json_column(texts: list[str | None]) -> pa.Array:
    return pa.array(texts, pa.string()).cast(pa.json_())


def test_text_that_is_not_json_is_refused_where_it_is() -> None:
    table = pa.table(
        {
            "id": ["a", "b"],
            "context": ["c", "c"],
            "question": ["q", "q"],
            "answers": _json_column(['["x"]', '["x", oops]']),
        }
    )
    with pytest.raises(DataError, match="expected JSON text") as caught:
        list(convert(table, QA_TEMPLATE, seed=1))
    assert (caught.value.loc, caught.value.row, caught.value.file) == (
        "$.answers",
        1,
        "<pyarrow.Table>",
    )

    # Rows are counted across batches.
    answers = [orjson.dumps(row["answers"]).decode() for row in SQUAD_ROWS * 2]
    answers[3] = answers[3][:-1]
    squad = pa.Table.from_pylist(SQUAD_ROWS * 2).set_column(4, "answers", _json_column(answers))
    with pytest.raises(DataError, match="expected JSON text") as caught:
        list(adapt("squad", squad.to_batches(max_chunksize=2)))
    assert (caught.value.loc, caught.value.row) == ("$.answers", 3)

    # Nested: the path goes down to the list item.
    nested = pa.table(
        {
            "n": list(range(5)),
            "tools": pa.array(
                [["{}"], ["{}"], ["{}"], ["{}", "{nope"], None], pa.list_(pa.string())
            ).cast(pa.list_(pa.json_())),
        }
    )
    with pytest.raises(DataError, match="expected JSON text") as caught:
        list(iter_rows(nested.to_batches(max_chunksize=2)))
    assert (caught.value.loc, caught.value.row) == ("$.tools[1]", 3)
    with read_raw(nested, on_error="collect") as reader:
        good = list(reader)
    assert [row["n"] for row in good] == [0, 1, 2, 4]
    (rejection,) = reader.report.rejections
    assert (rejection.error.loc, rejection.error.row) == ("$.tools[1]", 3)


# JSON values that pandas' ujson (which `datasets` parses with) reads exactly as well: its float
# parser may be off in the last digit, so floats here are short binary fractions.
EXACT_FLOATS = st.integers(-(2**20), 2**20).map(lambda i: i / 64)
PLAIN_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | EXACT_FLOATS
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
NESTED = pa.struct([("name", pa.string()), ("data", pa.json_())])
JSON_SCHEMA = pa.schema([("value", pa.json_()), ("items", pa.list_(pa.json_())), ("pair", NESTED)])


def _json_table(values: list[Any]) -> pa.Table:
    """Rows holding each value three ways: a JSON column, a list of them, a struct field."""

    def text(value: Any) -> str:
        return orjson.dumps(value).decode()

    storage = pa.Table.from_pylist(
        [
            {
                "value": text(value),
                "items": [text(value), text([value])],
                "pair": {"name": str(i), "data": text(value)},
            }
            for i, value in enumerate(values)
        ],
        schema=pa.schema(
            [
                ("value", pa.string()),
                ("items", pa.list_(pa.string())),
                ("pair", pa.struct([("name", pa.string()), ("data", pa.string())])),
            ]
        ),
    )
    return storage.cast(JSON_SCHEMA)


def _expected(values: list[Any]) -> list[dict[str, Any]]:
    return [
        {"value": v, "items": [v, [v]], "pair": {"name": str(i), "data": v}}
        for i, v in enumerate(values)
    ]


@settings(max_examples=30, deadline=None)
@given(values=st.lists(PLAIN_JSON, min_size=1, max_size=5))
def test_json_values_read_back_as_datasets_reads_them(values: list[Any]) -> None:
    table = _json_table(values)
    dataset = datasets.Dataset(table)
    expected = _expected(values)
    assert list(dataset) == expected  # what `datasets` itself yields
    assert list(iter_rows(dataset)) == expected  # what adapt and convert are given
    assert list(iter_rows(table.to_batches(max_chunksize=2))) == expected
    with read_raw(dataset) as reader:
        assert list(reader) == expected


@settings(max_examples=30, deadline=None)
@given(values=st.lists(json_values(), min_size=1, max_size=5))
def test_any_json_value_reads_back_exactly(values: list[Any]) -> None:
    # Every finite float and 64-bit integer, exactly (where `datasets` may round a float).
    table = _json_table(values)
    assert list(iter_rows(table)) == _expected(values)
    with read_raw(table) as reader:
        assert list(reader) == _expected(values)


@settings(max_examples=20, deadline=None)
@given(
    answers=st.lists(
        st.lists(st.text(st.characters(codec="utf-8"), min_size=1, max_size=6), min_size=1),
        min_size=1,
        max_size=6,
    ),
    seed=st.integers(0, 2**32),
)
def test_convert_of_a_dataset_equals_convert_of_the_rows_datasets_gives(
    answers: list[list[str]], seed: int
) -> None:
    rows = [
        {"id": f"r{i}", "context": "c", "question": "q", "answers": a}
        for i, a in enumerate(answers)
    ]
    features = Features(
        {name: Value("string") for name in ("id", "context", "question")} | {"answers": Json()}
    )
    dataset = datasets.Dataset.from_list(rows, features=features)
    assert list(dataset) == rows
    # A blank answer (" ") is rejected: alike on both sides, with the same reason and row.
    reports = ItemReport(), ItemReport()
    got = list(convert(dataset, QA_TEMPLATE, seed=seed, on_error="collect", report=reports[0]))
    want = list(convert(rows, QA_TEMPLATE, seed=seed, on_error="collect", report=reports[1]))
    assert got == want
    assert [(r.row, r.reason) for r in reports[0].rejections] == [
        (r.row, r.reason) for r in reports[1].rejections
    ]
    assert reports[0].summary() == reports[1].summary()
