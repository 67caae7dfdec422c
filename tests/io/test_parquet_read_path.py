"""One read path for Parquet: the same records and rejections whatever the keywords."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instructkit import (
    Conversation,
    DataError,
    Instruction,
    ItemReport,
    LossReport,
    Preference,
    RecordValidationError,
    from_arrow,
    read,
    read_raw,
    read_table,
    to_arrow,
    write,
)
from instructkit._arrow import storage_schema


def numbered(count: int) -> list[Instruction]:
    return [
        Instruction(instruction=f"Question {i}?", response=f"Answer {i}.", meta={"n": i})
        for i in range(count)
    ]


def stored(records: list[Any]) -> pa.Table:
    """The records' table with plain text types, so single values can be replaced."""
    table = to_arrow(records)
    return table.cast(storage_schema(table.schema))


def with_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    index = table.schema.get_field_index(name)
    return table.set_column(index, name, values)


def outcome(path: Path, **keywords: Any) -> tuple[list[Any], list[tuple[int | None, str]]]:
    """The records a read gives and its rejections (row, reason)."""
    report = ItemReport()
    with read(path, report=report, **keywords) as reader:
        records = list(reader)
    assert report.balanced
    return records, [(r.row, r.reason) for r in report.rejections]


KEYWORD_SETS: list[dict[str, Any]] = [
    {"on_error": "skip"},
    {"on_error": "collect"},
    {"on_error": "collect", "losses": LossReport()},
    {"on_error": "skip", "rejects": "rejects.jsonl"},
    {"on_error": "collect", "rejects": "rejects.jsonl", "losses": LossReport()},
    {"on_error": "collect", "dialect": None, "rejects": "rejects.jsonl"},
]


def every_way(path: Path) -> list[tuple[list[Any], list[tuple[int | None, str]]]]:
    out = []
    for keywords in KEYWORD_SETS:
        given_keywords = dict(keywords)
        if "rejects" in given_keywords:
            given_keywords["rejects"] = path.parent / given_keywords["rejects"]
        out.append(outcome(path, **given_keywords))
    return out


BAD_ROWS = {
    "meta not JSON": ("meta", "{not json"),
    "meta null": ("meta", None),
    "meta not an object": ("meta", "[1]"),
    "instruction empty": ("instruction", ""),
}


@settings(max_examples=15, deadline=None)
@given(
    st.integers(2, 6),
    st.dictionaries(st.integers(0, 5), st.sampled_from(sorted(BAD_ROWS)), max_size=3),
)
def test_the_keywords_never_change_the_records_or_the_rejections(
    tmp_path_factory: pytest.TempPathFactory, count: int, damage: dict[int, str]
) -> None:
    records = numbered(count)
    table = stored(records)
    bad = {row: BAD_ROWS[kind] for row, kind in damage.items() if row < count}
    for column in {name for name, _ in bad.values()}:
        values = table.column(column).to_pylist()
        for row, (name, value) in bad.items():
            if name == column:
                values[row] = value
        table = with_column(table, column, pa.array(values, pa.string()))
    path = tmp_path_factory.mktemp("keywords") / "rows.parquet"
    pq.write_table(table, path, row_group_size=2)
    results = every_way(path)
    expected = [r for i, r in enumerate(records) if i not in bad]
    assert results[0][0] == expected
    assert sorted(row for row, _ in results[0][1]) == sorted(bad)
    assert all(result == results[0] for result in results)
    entries = [
        json.loads(line) for line in (path.parent / "rejects.jsonl").read_text().splitlines()
    ]
    assert [(e["file"], e["row"]) for e in entries] == [(str(path), row) for row in sorted(bad)]


def test_a_struct_meta_reads_the_same_with_a_rejects_file(tmp_path: Path) -> None:
    # What `datasets` writes for meta objects of one shape: a struct column, not JSON text.
    records = numbered(3)
    table = with_column(stored(records), "meta", pa.array([{"n": i} for i in range(3)]))
    path = tmp_path / "datasets.parquet"
    pq.write_table(table, path)
    results = every_way(path)
    assert results[0] == (records, [])
    assert all(result == results[0] for result in results)
    with read_raw(path, on_error="collect") as rows:
        assert [row["meta"] for row in rows] == [{"n": i} for i in range(3)]


def test_bad_rows_of_the_row_path_are_rejected_alone(tmp_path: Path) -> None:
    table = stored(numbered(4))
    table = with_column(table, "meta", pa.array(['{"n":0}', "{not json", None, '{"n":3}']))
    texts = pa.array([b"Answer 0.", b"Answer 1.", b"Answer 2.", b"bad \xff"], pa.binary())
    table = with_column(table, "response", texts.cast(pa.string(), safe=False))
    path = tmp_path / "bad.parquet"
    pq.write_table(table, path)
    report = ItemReport()
    rejects = tmp_path / "rejects.jsonl"
    with read_raw(path, on_error="collect", report=report, rejects=rejects) as rows:
        assert [row["meta"] for row in rows] == [{"n": 0}]
    assert [r.row for r in report.rejections] == [1, 2, 3]
    entries = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(e["row"], e["raw_encoding"]) for e in entries] == [
        (1, "json"),
        (2, "json"),
        (3, "json"),
    ]
    assert json.loads(entries[0]["raw"])["meta"] == "{not json"
    records, rejections = outcome(path, on_error="collect", rejects=rejects)
    assert [r.response for r in records] == ["Answer 0."]
    assert [row for row, _ in rejections] == [1, 2, 3]
    assert "UTF-8" in rejections[2][1]


def test_files_read_refuses_are_refused_with_a_rejects_file(tmp_path: Path) -> None:
    extra = stored(numbered(2)).append_column("extra", pa.array(["x", "y"]))
    pq.write_table(extra, tmp_path / "extra.parquet")
    no_chosen = to_arrow(
        [
            Preference(
                prompt=[{"role": "user", "content": "Hi"}],
                chosen=[{"role": "assistant", "content": "Hello"}],
                rejected=[{"role": "assistant", "content": "Go"}],
            )
        ]
    ).drop_columns(["chosen"])
    pq.write_table(no_chosen, tmp_path / "no_chosen.parquet")
    for name, match in (("extra", "unexpected 'extra'"), ("no_chosen", "missing 'chosen'")):
        path = tmp_path / f"{name}.parquet"
        for keywords in KEYWORD_SETS:
            given_keywords = dict(keywords)
            if "rejects" in given_keywords:
                given_keywords["rejects"] = tmp_path / "rejects.jsonl"
            with pytest.raises(DataError, match=match) as caught:
                list(read(path, **given_keywords))
            assert caught.value.file == str(path)


def test_a_null_tool_schema_is_rejected_with_or_without_a_rejects_file(tmp_path: Path) -> None:
    chats = [Conversation(messages=[{"role": "user", "content": f"Hi {i}"}]) for i in range(2)]
    table = stored(chats)
    table = with_column(table, "tools", pa.array([[], [None]], pa.list_(pa.string())))
    path = tmp_path / "tools.parquet"
    pq.write_table(table, path)
    results = every_way(path)
    assert results[0][0] == chats[:1]
    assert [row for row, _ in results[0][1]] == [1]
    assert all(result == results[0] for result in results)


def test_a_conversion_failure_is_located_by_row_in_the_rejects_file(tmp_path: Path) -> None:
    chats = [
        Conversation(
            messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
        ),
        Conversation(messages=[{"role": "user", "content": "Hi"}]),
    ]
    path = tmp_path / "chats.parquet"
    write(chats, path)
    rejects = tmp_path / "rejects.jsonl"
    records, rejections = outcome(path, record=Instruction, on_error="skip", rejects=rejects)
    assert [r.response for r in records] == ["Yo"]
    assert [row for row, _ in rejections] == [1]
    (entry,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert (entry["file"], entry["row"]) == (str(path), 1)
    assert json.loads(entry["raw"]) == chats[1].to_dict()


def meta_with_nan() -> pa.Table:
    table = stored(numbered(3))
    metas = pa.array([{"score": 0.5}, {"score": math.nan}, {"score": 1.0}])
    return with_column(table, "meta", metas)


def test_a_nan_in_a_struct_meta_rejects_its_row_only(tmp_path: Path) -> None:
    table = meta_with_nan()
    report = ItemReport()
    kept = from_arrow(table, on_error="collect", report=report)
    assert [r.meta for r in kept] == [{"score": 0.5}, {"score": 1.0}]
    ((rejection),) = report.rejections
    assert (rejection.row, rejection.loc) == (1, "$.meta['score']")
    assert "finite" in rejection.reason
    with pytest.raises(RecordValidationError, match="finite") as caught:
        from_arrow(table)
    assert caught.value.row == 1
    path = tmp_path / "nan.parquet"
    pq.write_table(table, path)
    records, rejections = outcome(path, on_error="collect")
    assert records == kept
    assert [row for row, _ in rejections] == [1]
    assert "finite" in rejections[0][1]
    table_report = ItemReport()
    valid = read_table(path, on_error="collect", report=table_report)
    assert valid.column("meta").to_pylist() == ['{"score":0.5}', '{"score":1.0}']
    assert [(r.row, r.loc) for r in table_report.rejections] == [(1, "$.meta['score']")]
