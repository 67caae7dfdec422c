"""Interop with real readers and writers: Hugging Face datasets, polars and DuckDB.

Files instructkit writes must load unchanged elsewhere, and files that `datasets` writes must
read back through instructkit. Data is tiny; `datasets` is imported once for the module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import instructkit
from instructkit import (
    Conversation,
    Instruction,
    Message,
    Preference,
    ToolCall,
    from_arrow,
    read_table,
    to_arrow,
)
from instructkit._io._parquet import iter_parquet_records
from instructkit._io._parquet_writer import write_parquet
from instructkit.arrow import arrow_schema

datasets = pytest.importorskip("datasets")
datasets.disable_progress_bars()

INSTRUCTIONS = [
    Instruction(instruction="Add 2 and 2.", response="4", id="a", meta={"source": "unit"}),
    Instruction(
        instruction="Translate to French.",
        input="Good morning \u2028 \U0001f600",
        response="Bonjour",
        system="Be brief.",
    ),
]
CHATS = [
    Conversation(
        messages=[
            Message(role="system", content="You can call tools."),
            Message(role="user", content="Weather in Oslo?"),
            Message(
                role="assistant",
                content=None,
                tool_calls=[ToolCall(id="c1", name="weather", arguments='{"city": "Oslo"}')],
            ),
            Message(role="tool", content="", tool_call_id="c1"),
            Message(role="assistant", content="Cloudy.", weight=0.5, reasoning="look it up"),
        ],
        tools=['{"type": "function", "function": {"name": "weather"}}'],
        id="chat-1",
    ),
    Conversation(
        messages=[Message(role="user", content="hi"), Message(role="assistant", content="hello")]
    ),
]
PREFERENCES = [
    Preference(
        prompt=[Message(role="user", content="Say hi.")],
        chosen=[Message(role="assistant", content="Hi!")],
        rejected=[Message(role="assistant", content="No.")],
        meta={"score": 0.5},
    )
]
ALL = {"instructions": INSTRUCTIONS, "chats": CHATS, "preferences": PREFERENCES}


def expected_rows(records: list[Any]) -> list[dict[str, Any]]:
    # What an Arrow reader sees: the records' JSON form with meta as JSON text.
    return to_arrow(records).to_pylist()


def _decoded_turns(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **turn,
            "tool_calls": [
                {**call, "arguments": orjson.loads(call["arguments"])}
                for call in turn["tool_calls"]
            ],
        }
        for turn in turns
    ]


def decoded_rows(records: list[Any]) -> list[dict[str, Any]]:
    # What `datasets` hands out: the JSON columns (meta, tools, arguments) as Python values.
    rows = expected_rows(records)
    for row in rows:
        row["meta"] = orjson.loads(row["meta"])
        if "tools" in row:
            row["tools"] = [orjson.loads(tool) for tool in row["tools"]]
        for name in ("messages", "prompt", "chosen", "rejected"):
            if name in row:
                row[name] = _decoded_turns(row[name])
    return rows


@pytest.fixture(params=sorted(ALL))
def records(request: pytest.FixtureRequest) -> list[Any]:
    return ALL[request.param]


def test_our_parquet_loads_unchanged_in_datasets(tmp_path: Path, records: list[Any]) -> None:
    path = tmp_path / "train.parquet"
    write_parquet(records, path)
    loaded = datasets.Dataset.from_parquet(str(path), cache_dir=str(tmp_path / "cache"))
    assert loaded.to_list() == decoded_rows(records)
    # The declared features carry no `null` types: every column keeps its fixed type.
    assert "null" not in repr(loaded.features).lower()


def test_our_parquet_loads_unchanged_in_polars_and_duckdb(
    tmp_path: Path, records: list[Any]
) -> None:
    path = tmp_path / "train.parquet"
    write_parquet(records, path)
    assert pl.read_parquet(path).to_dicts() == expected_rows(records)
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{path}')")
    columns = [c[0] for c in relation.description]
    rows = [dict(zip(columns, values, strict=True)) for values in relation.fetchall()]
    assert rows == expected_rows(records)


def test_hub_style_chat_queries_work_in_duckdb(tmp_path: Path) -> None:
    path = tmp_path / "chats.parquet"
    write_parquet(CHATS, path)
    roles = duckdb.sql(
        f"SELECT m.role FROM (SELECT unnest(messages) AS m FROM read_parquet('{path}'))"
    ).fetchall()
    assert [r[0] for r in roles] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
    ]


def test_our_jsonl_loads_unchanged_in_datasets_and_polars(
    tmp_path: Path, records: list[Any]
) -> None:
    path = tmp_path / "train.jsonl"
    instructkit.write(records, path)
    loaded = datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert [{**row, "meta": row["meta"]} for row in loaded.to_list()] == [
        r.to_dict() for r in records
    ]
    frame = pl.read_ndjson(path)
    assert frame.height == len(records)
    assert frame.columns == list(arrow_schema(type(records[0])).names)


def test_datasets_parquet_reads_back_through_instructkit(
    tmp_path: Path, records: list[Any]
) -> None:
    # A dataset built from our JSON rows, written by datasets itself (with its own types:
    # null-typed all-None columns, its JSON extension type for meta, `element` list fields).
    source = tmp_path / "src.jsonl"
    instructkit.write(records, source)
    built = datasets.load_dataset(
        "json", data_files=str(source), split="train", cache_dir=str(tmp_path / "cache")
    )
    path = tmp_path / "from_datasets.parquet"
    built.to_parquet(str(path))
    assert list(iter_parquet_records(path)) == records
    assert list(instructkit.read(path)) == records
    assert from_arrow(read_table(path)) == records


def test_datasets_jsonl_reads_back_through_instructkit(tmp_path: Path, records: list[Any]) -> None:
    source = tmp_path / "src.jsonl"
    instructkit.write(records, source)
    built = datasets.load_dataset(
        "json", data_files=str(source), split="train", cache_dir=str(tmp_path / "cache")
    )
    path = tmp_path / "from_datasets.jsonl"
    built.to_json(str(path))
    assert list(instructkit.read(path)) == records
    assert from_arrow(read_table(path)) == records


def test_datasets_alpaca_and_messages_files_read_through_dialects(tmp_path: Path) -> None:
    alpaca = datasets.Dataset.from_list(
        [
            {"instruction": "Add 2 and 2.", "input": "", "output": "4"},
            {"instruction": "Translate.", "input": "Bonjour", "output": "Hello"},
        ]
    )
    alpaca.to_parquet(str(tmp_path / "alpaca.parquet"))
    alpaca.to_json(str(tmp_path / "alpaca.jsonl"))
    expected = [
        Instruction(instruction="Add 2 and 2.", response="4"),
        Instruction(instruction="Translate.", input="Bonjour", response="Hello"),
    ]
    assert list(instructkit.read(tmp_path / "alpaca.parquet")) == expected
    assert list(instructkit.read(tmp_path / "alpaca.jsonl")) == expected
    hub = datasets.Dataset.from_list(
        [
            {
                "messages": [
                    {"content": "hi", "role": "user"},
                    {"content": "hello", "role": "assistant"},
                ]
            },
            {
                "messages": [
                    {"content": "2+2?", "role": "user"},
                    {"content": "4", "role": "assistant"},
                ]
            },
        ]
    )
    hub.to_parquet(str(tmp_path / "hub.parquet"))
    chats = list(instructkit.read(tmp_path / "hub.parquet", dialect="openai"))
    assert [[(m.role, m.content) for m in c.messages] for c in chats] == [
        [("user", "hi"), ("assistant", "hello")],
        [("user", "2+2?"), ("assistant", "4")],
    ]


def test_our_parquet_is_one_arrow_type_across_files(tmp_path: Path) -> None:
    # Two writes with very different data (all None vs all set) give the same schema, so the
    # files concatenate without promotion; pyarrow inference would give two schemas here.
    sparse = [Conversation(messages=[Message(role="user", content="x")])]
    write_parquet(sparse, tmp_path / "a.parquet")
    write_parquet(CHATS, tmp_path / "b.parquet")
    tables = [pq.read_table(tmp_path / name) for name in ("a.parquet", "b.parquet")]
    assert tables[0].schema.equals(tables[1].schema)
    assert pa.concat_tables(tables).num_rows == 3
    inferred = [pa.Table.from_pylist([r.to_dict() for r in rs]) for rs in (sparse, CHATS)]
    assert not inferred[0].schema.equals(inferred[1].schema)


def test_datasets_features_match_the_documented_schema(tmp_path: Path) -> None:
    path = tmp_path / "chats.parquet"
    write_parquet(CHATS, path)
    loaded = datasets.Dataset.from_parquet(str(path), cache_dir=str(tmp_path / "cache"))
    message = loaded.features["messages"].feature
    assert list(message) == [
        "role",
        "content",
        "parts",
        "name",
        "tool_calls",
        "tool_call_id",
        "reasoning",
        "weight",
    ]
    # Tool schemas arrive as dicts (datasets' Json() feature), as TRL expects them.
    assert loaded[0]["tools"][0]["function"]["name"] == "weather"
