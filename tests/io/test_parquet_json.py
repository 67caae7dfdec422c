"""Open-ended JSON in Parquet: what `datasets`, pyarrow, polars and DuckDB see, and exactness.

Tool schemas, tool-call arguments, meta and side columns hold JSON of any shape. Inferred as
Arrow structs, they would be merged across rows (each schema gaining the others' keys as
nulls) and their nulls would be lost on the way back; stored as Arrow's JSON type with the
`datasets` Json() feature declared, every reader gets them exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st

import instructkit
from instructkit import (
    Conversation,
    DialectError,
    Instruction,
    LossReport,
    Message,
    Preference,
    ToolCall,
    from_arrow,
    read_table,
    to_arrow,
    to_row,
)
from instructkit._arrow import conform_table, storage_schema
from instructkit._io._parquet import iter_parquet_rows
from instructkit._io._parquet_writer import _DialectTables, write_parquet
from instructkit.arrow import ARROW_SCHEMA_VERSION, arrow_schema
from instructkit.strategies import conversations, instructions, preferences

datasets = pytest.importorskip("datasets")
datasets.disable_progress_bars()

# Two tools whose parameters share no property, one with a genuine null default.
WEATHER = (
    '{"type":"function","function":{"name":"weather","parameters":{"type":"object",'
    '"properties":{"city":{"type":"string","default":null}}}}}'
)
SHAPE = (
    '{"type":"function","function":{"name":"draw","parameters":{"type":"object",'
    '"properties":{"shape":{"type":"string"},"sides":{"type":"integer"}}}}}'
)


def tool_chat(arguments: str, tools: list[str], index: int) -> Conversation:
    call_id = f"call_{index}"
    return Conversation(
        messages=[
            Message(role="user", content="Go."),
            Message(
                role="assistant",
                content=None,
                tool_calls=[ToolCall(id=call_id, name="weather", arguments=arguments)],
            ),
            Message(role="tool", content="ok", tool_call_id=call_id),
            Message(role="assistant", content="Done."),
        ],
        tools=tools,
    )


TOOL_CHATS = [
    tool_chat('{"city":"Oslo","days":null}', [WEATHER], 0),
    tool_chat('{"shape":"square","sides":4}', [SHAPE, WEATHER], 1),
]


def load(path: Path, tmp_path: Path) -> list[dict[str, Any]]:
    loaded = datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    return list(loaded.to_list())


# --- dialect Parquet ------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["openai", "trl"])
def test_dialect_tool_schemas_reach_datasets_exactly(tmp_path: Path, dialect: str) -> None:
    path = tmp_path / f"{dialect}.parquet"
    instructkit.write(TOOL_CHATS, path, dialect=dialect)
    rows = load(path, tmp_path)
    # Each schema keeps its own keys (no "shape": null merged in) and its null default.
    assert [row["tools"] for row in rows] == [
        [orjson.loads(t) for t in chat.tools] for chat in TOOL_CHATS
    ]
    arguments = [row["messages"][1]["tool_calls"][0]["function"]["arguments"] for row in rows]
    if dialect == "trl":  # JSON values, nulls included
        assert arguments == [{"city": "Oslo", "days": None}, {"shape": "square", "sides": 4}]
    else:  # OpenAI's JSON text in a string
        assert arguments == [c.messages[1].tool_calls[0].arguments for c in TOOL_CHATS]


@pytest.mark.parametrize("dialect", ["openai", "trl"])
def test_dialect_tool_data_reads_back_with_its_nulls(tmp_path: Path, dialect: str) -> None:
    path = tmp_path / f"{dialect}.parquet"
    written = LossReport()
    instructkit.write(TOOL_CHATS, path, dialect=dialect, losses=written)
    read = LossReport()
    with instructkit.read(path, losses=read) as reader:
        assert list(reader) == TOOL_CHATS
    assert list(written) == []
    # TRL rows carry no call ids; reading invents them by position, and reports it.
    assert [loss.kind for loss in read if "tool_call" not in loss.field] == []


def test_trl_arguments_of_different_json_types_are_written(tmp_path: Path) -> None:
    chats = [tool_chat('"12345"', [], 0), tool_chat("12345", [], 1), tool_chat("[1.5]", [], 2)]
    path = tmp_path / "trl.parquet"
    instructkit.write(chats, path, dialect="trl")
    assert list(instructkit.read(path)) == chats
    rows = load(path, tmp_path)
    # A JSON string in TRL arguments stays its JSON text (so reading gives the record back).
    assert [r["messages"][1]["tool_calls"][0]["function"]["arguments"] for r in rows] == [
        '"12345"',
        12345,
        [1.5],
    ]


def weighted(weight: float) -> Conversation:
    return Conversation(
        messages=[
            Message(role="user", content="Hi"),
            Message(role="assistant", content="Hello", weight=weight),
        ]
    )


@pytest.mark.parametrize("weights", [(1.0, 0.5), (0.5, 0.0), (0.25, 1.0, 0.0)])
def test_whole_and_fractional_weights_share_a_float_column(
    tmp_path: Path, weights: tuple[float, ...]
) -> None:
    # Rows write weights 0.0 and 1.0 as the integers 0 and 1 next to 0.5: one float column.
    chats = [weighted(weight) for weight in weights]
    path = tmp_path / "trl.parquet"
    instructkit.write(chats, path, dialect="trl")
    kind = pq.read_schema(path).field("messages").type.value_type.field("weight").type
    assert kind == pa.float64()
    assert list(instructkit.read(path)) == chats
    assert [r["messages"][1]["weight"] for r in load(path, tmp_path)] == list(weights)


def test_integers_not_exact_as_floats_still_clash_with_floats() -> None:
    # No record field holds such a number today; the planner must still refuse to round one.
    rows = [{"messages": [{"role": "user", "content": "a", "n": 2**53 + 1}]}]
    rows.append({"messages": [{"role": "user", "content": "b", "n": 0.5}]})
    planner = _DialectTables("x.parquet", dialect="trl", column_map=None)
    with pytest.raises(instructkit.DataError, match=r"row 0 and a float in row 1"):
        planner.table(rows, 0)
    exact = [{"messages": [{"role": "user", "content": "a", "n": 2**53}]}, rows[1]]
    table = _DialectTables("x.parquet", dialect="trl", column_map=None).table(exact, 0)
    assert table.column("messages").to_pylist()[0][0]["n"] == 2**53


def test_turn_lists_of_a_row_share_one_message_type(tmp_path: Path) -> None:
    # A key that only the chosen turns have must not come back as a null in chosen alone:
    # TRL finds an implicit prompt by comparing the turns of chosen and rejected.
    call = ToolCall(id="c1", name="f", arguments="{}")
    pair = Preference(
        prompt=[Message(role="user", content="Go")],
        chosen=[Message(role="assistant", content=None, tool_calls=[call])],
        rejected=[Message(role="assistant", content="No.")],
    )
    path = tmp_path / "trl.parquet"
    instructkit.write([pair], path, dialect="trl", layout="conversational_implicit_preference")
    schema = pq.read_schema(path)
    assert schema.field("chosen").type == schema.field("rejected").type
    (row,) = load(path, tmp_path)
    assert row["chosen"][0] == row["rejected"][0]
    (back,) = instructkit.read(path)
    assert back.model_copy(update={"meta": {}}) == pair  # meta remembers the layout


def test_dialect_json_columns_in_pyarrow_polars_and_duckdb(tmp_path: Path) -> None:
    path = tmp_path / "trl.parquet"
    instructkit.write(TOOL_CHATS, path, dialect="trl")
    table = pq.read_table(path)
    assert table.schema.field("tools").type == pa.list_(pa.field("element", pa.json_()))
    assert table.column("tools").to_pylist()[0] == [WEATHER]
    frame = pl.read_parquet(path)
    assert frame["tools"].to_list()[1] == [SHAPE, WEATHER]
    found = (
        duckdb.connect()
        .execute(
            "SELECT typeof(tools[1]), tools[1]->>'$.function.name', "
            "messages[2].tool_calls[1].function.arguments->>'$.city' FROM read_parquet(?)",
            [str(path)],
        )
        .fetchall()
    )
    assert found == [("JSON", "weather", "Oslo"), ("JSON", "draw", None)]


def test_dialect_side_columns_keep_null_apart_from_absent(tmp_path: Path) -> None:
    records = [
        Instruction(instruction="a", response="b", meta={"note": None}),
        Instruction(instruction="c", response="d"),
        Instruction(instruction="e", response="f", meta={"note": {"k": None}}),
    ]
    path = tmp_path / "alpaca.parquet"
    instructkit.write(records, path, dialect="alpaca")
    assert list(instructkit.read(path)) == records
    assert [row.get("note", "absent") for _, row in iter_parquet_rows(path)] == [
        None,
        "absent",
        {"k": None},
    ]


_EVERY_DIALECT = [
    ("openai", TOOL_CHATS),
    ("trl", TOOL_CHATS),
    ("sharegpt", TOOL_CHATS),
    ("instructkit", TOOL_CHATS),
    ("alpaca", [Instruction(instruction="a", response="b", meta={"src": {"k": None}})]),
    ("dolly", [Instruction(instruction="a", response="b", meta={"n": 1})]),
    ("flan", [Instruction(instruction="a", input="x", response="b")]),
    (
        "openai_dpo",
        [
            Preference.from_transcripts(
                TOOL_CHATS[0], TOOL_CHATS[1].model_copy(update={"tools": TOOL_CHATS[0].tools})
            )
        ],
    ),
    (
        "hh",
        [
            Preference(
                prompt=[Message(role="user", content="q")],
                chosen=[Message(role="assistant", content="a")],
                rejected=[Message(role="assistant", content="b")],
                meta={"k": [None]},
            )
        ],
    ),
]


@pytest.mark.parametrize(("dialect", "records"), _EVERY_DIALECT, ids=[d for d, _ in _EVERY_DIALECT])
def test_every_dialects_parquet_loads_in_datasets_as_written(
    tmp_path: Path, dialect: str, records: list[Any]
) -> None:
    path = tmp_path / "rows.parquet"
    column_map = {"meta": "extras"} if dialect == "instructkit" else None  # rows, not records
    write_parquet(records, path, dialect=dialect, column_map=column_map)
    schema = pq.read_schema(path)
    wanted = [
        _normal_row(to_row(r, dialect=dialect, column_map=column_map), schema) for r in records
    ]
    assert _same_json([_normal_row(row, schema) for row in load(path, tmp_path)], wanted)


# --- native Parquet -------------------------------------------------------------------------


def test_native_tools_and_arguments_reach_datasets_as_values(tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    records = [*TOOL_CHATS, Conversation(messages=[Message(role="user", content="x")])]
    records[0] = records[0].model_copy(update={"meta": {"k": None, "n": [1]}})
    instructkit.write(records, path)
    rows = load(path, tmp_path)
    # TRL's SFTTrainer takes `tools` as a list of JSON schemas (dicts), not of strings.
    assert all(isinstance(tool, dict) for row in rows for tool in row["tools"])
    assert [row["tools"] for row in rows] == [[orjson.loads(t) for t in r.tools] for r in records]
    assert rows[0]["messages"][1]["tool_calls"][0]["arguments"] == {"city": "Oslo", "days": None}
    assert [row["meta"] for row in rows] == [r.meta for r in records]


def test_native_table_goes_through_datasets(tmp_path: Path) -> None:
    table = to_arrow(TOOL_CHATS)
    assert table.schema.equals(arrow_schema(Conversation), check_metadata=True)
    dataset = datasets.Dataset(table)
    assert dataset[1]["tools"][0]["function"]["name"] == "draw"
    listed = datasets.Dataset.from_list([r.to_dict() for r in TOOL_CHATS])
    assert listed.num_rows == 2
    path = tmp_path / "train.parquet"
    instructkit.write(TOOL_CHATS, path)
    assert pq.read_schema(path).equals(arrow_schema(Conversation))
    footer = pq.read_schema(path).metadata
    assert footer[b"huggingface"] == arrow_schema(Conversation).metadata[b"huggingface"]


def version_1(table: pa.Table) -> pa.Table:
    # The previous schema: the same columns with plain text where JSON is typed now.
    plain = storage_schema(table.schema)
    metadata = {**plain.metadata, b"instructkit.schema_version": b"1"}
    del metadata[b"huggingface"]
    return table.cast(plain).replace_schema_metadata(metadata)


@pytest.mark.parametrize("records", [TOOL_CHATS, [Instruction(instruction="a", response="b")]])
def test_version_1_tables_and_files_still_read(tmp_path: Path, records: list[Any]) -> None:
    assert ARROW_SCHEMA_VERSION == 2
    old = version_1(to_arrow(records))
    kind = type(records[0])
    assert pa.types.is_string(old.schema.field("meta").type)
    assert from_arrow(old) == records
    assert conform_table(old, kind).equals(to_arrow(records))
    path = tmp_path / "old.parquet"
    pq.write_table(old, path)
    assert list(instructkit.read(path)) == records
    assert read_table(path).equals(to_arrow(records))
    assert read_table(path).schema.equals(arrow_schema(kind), check_metadata=True)
    assert [row for _, row in iter_parquet_rows(path)] == [r.to_dict() for r in records]


def test_dialect_files_of_the_previous_writer_still_read(tmp_path: Path) -> None:
    # Side columns were plain text listed in the footer key instructkit.json_columns.
    table = pa.table({"instruction": ["a"], "input": [""], "output": ["b"], "extra": ['{"x":1}']})
    table = table.replace_schema_metadata(
        {"instructkit.dialect": "alpaca", "instructkit.json_columns": '["extra"]'}
    )
    path = tmp_path / "old.parquet"
    pq.write_table(table, path)
    assert list(instructkit.read(path)) == [
        Instruction(instruction="a", response="b", meta={"extra": {"x": 1}})
    ]


# --- the law: every dialect's Parquet gives the written rows to instructkit and datasets ----


def _same_json(a: Any, b: Any) -> bool:
    # Tells 1 from 1.0 and True from 1, which == does not. Keys are sorted: struct fields
    # come in the schema's order (the key order of JSON values is checked above).
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _rounded(value: Any) -> Any:
    # `datasets` parses JSON with its ujson helper, which may round a float's last digits
    # (1.0000000000000002e16 comes back as 1e16) and can change more of a float near the
    # bottom of the range (5e-324 comes back as 0.0, 4.9e-322 as 4.84e-322, the smallest
    # normal float as a subnormal); everything else it gives back exactly.
    if isinstance(value, float):
        return 0.0 if abs(value) < 1e-307 else float(f"{value:.9g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def from_datasets(path: Path) -> list[dict[str, Any]]:
    # What `datasets` makes of the file's schema and features (load_dataset does the same
    # decoding, with a cache on disk; the tests above use it, this law runs many examples).
    return list(datasets.Dataset(pq.read_table(path)).to_list())


def _normal(value: Any, kind: pa.DataType) -> Any:
    """A row value with absent-versus-null erased where Arrow erases it (not in JSON)."""
    if isinstance(kind, pa.JsonType) or value is None:
        return value
    if pa.types.is_list(kind):
        return [_normal(item, kind.value_type) for item in value]
    if pa.types.is_struct(kind):
        return {
            key: _normal(item, kind.field(key).type) if kind.get_field_index(key) >= 0 else item
            for key, item in value.items()
            if item is not None
        }
    return value


def _normal_row(row: dict[str, Any], schema: pa.Schema) -> dict[str, Any]:
    return {
        key: _normal(value, schema.field(key).type) if key in schema.names else value
        for key, value in row.items()
        if value is not None
    }


# Weights of 0 and 1 are written as integers by OpenAI-style dialects, others as floats, and
# one Arrow column cannot hold both exactly (such files are refused, see test_parquet.py).
_WEIGHTS = st.none() | st.sampled_from((0.0, 1.0))
_CASES = [
    ("openai", conversations(weights=_WEIGHTS)),
    ("trl", conversations(weights=_WEIGHTS)),
    ("trl", preferences(weights=_WEIGHTS)),
    ("trl", instructions()),
    ("sharegpt", conversations(weights=_WEIGHTS)),
    ("openai_dpo", preferences(weights=_WEIGHTS)),
    ("alpaca", instructions()),
    ("dolly", instructions()),
    ("flan", instructions()),
    ("hh", preferences(weights=_WEIGHTS)),
]


@pytest.mark.parametrize(
    ("dialect", "strategy"), _CASES, ids=[f"{d}-{i}" for i, (d, _) in enumerate(_CASES)]
)
def test_every_dialects_parquet_reads_back_as_written(
    tmp_path_factory: pytest.TempPathFactory, dialect: str, strategy: Any
) -> None:
    @settings(max_examples=6)
    @given(st.lists(strategy, min_size=1, max_size=4))
    def check(records: list[Any]) -> None:
        folder = tmp_path_factory.mktemp("law")
        path = folder / "rows.parquet"
        try:
            expected = [to_row(r, dialect=dialect) for r in records]
        except DialectError:
            reject()  # the dialect cannot write these records at all (e.g. HH speaker markers)
        # pyarrow looks fields up by C string, so `datasets` cannot load a column whose name
        # holds a NUL character (here a meta key written as a column).
        assume(all("\x00" not in key for row in expected for key in row))
        write_parquet(records, path, dialect=dialect)
        schema = pq.read_schema(path)
        wanted = [_normal_row(row, schema) for row in expected]
        ours = [_normal_row(row, schema) for _, row in iter_parquet_rows(path)]
        assert _same_json(ours, wanted)
        assert list(instructkit.read(path, dialect=dialect)) == [
            instructkit.parse_row(row, dialect=dialect) for row in expected
        ]
        theirs = [_normal_row(row, schema) for row in from_datasets(path)]
        assert _same_json(_rounded(theirs), _rounded(wanted))

    check()


@settings(max_examples=10)
@given(
    st.lists(conversations() | preferences(), min_size=1, max_size=3).filter(
        lambda rs: len({type(r) for r in rs}) == 1
    )
)
def test_native_parquet_gives_datasets_the_records_json(
    tmp_path_factory: pytest.TempPathFactory, records: list[Any]
) -> None:
    folder = tmp_path_factory.mktemp("native")
    path = folder / "train.parquet"
    write_parquet(records, path)
    for row, record in zip(from_datasets(path), records, strict=True):
        assert _same_json(_rounded(row["meta"]), _rounded(record.meta))
        assert _same_json(_rounded(row["tools"]), _rounded([orjson.loads(t) for t in record.tools]))
        turns = [
            m for name in ("messages", "prompt", "chosen", "rejected") for m in row.get(name, [])
        ]
        calls = [c["arguments"] for m in turns for c in m["tool_calls"]]
        written = [
            orjson.loads(c.arguments)
            for name in ("messages", "prompt", "chosen", "rejected")
            for m in getattr(record, name, ())
            for c in m.tool_calls
        ]
        assert _same_json(_rounded(calls), _rounded(written))
    assert isinstance(records[0], (Conversation, Preference))
