"""Parquet writing and reading: round trips, determinism, atomicity, footers, bad files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import instructkit
from instructkit import (
    ConfigurationError,
    Conversation,
    DataError,
    Instruction,
    ItemReport,
    Message,
    RecordValidationError,
    __version__,
    parse_row,
    read_table,
    to_arrow,
)
from instructkit._arrow import storage_schema
from instructkit._io._parquet import (
    iter_parquet_records,
    iter_parquet_rows,
    parquet_info,
    read_parquet_table,
)
from instructkit._io._parquet_writer import write_parquet
from instructkit.arrow import ARROW_SCHEMA_VERSION, arrow_schema
from record_fixtures import numbered_instructions, record_lists


@given(record_lists(max_size=5), st.integers(1, 3))
def test_round_trip_records_and_rows(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[type[Any], list[Any]], group: int
) -> None:
    kind, records = case
    path = tmp_path_factory.mktemp("pq") / "data.parquet"
    written = write_parquet(iter(records), path, record=kind, row_group_size=group)
    assert written.paths == [path]
    assert written.rows_per_file == [len(records)]
    assert list(iter_parquet_records(path)) == records
    assert [row for _, row in iter_parquet_rows(path)] == [r.to_dict() for r in records]
    assert pq.read_schema(path).equals(arrow_schema(kind))
    info = parquet_info(path)
    assert (info.num_rows, info.record_type) == (len(records), kind)
    assert info.num_row_groups == -(-len(records) // group)


@given(record_lists(max_size=3))
def test_writing_is_deterministic(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[type[Any], list[Any]]
) -> None:
    kind, records = case
    folder = tmp_path_factory.mktemp("det")
    write_parquet(records, folder / "a.parquet", record=kind)
    write_parquet(iter(records), folder / "b.parquet", record=kind)
    assert (folder / "a.parquet").read_bytes() == (folder / "b.parquet").read_bytes()


def test_footer_metadata(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    write_parquet(numbered_instructions(2), path, metadata={"source": "unit test"})
    footer = pq.ParquetFile(path).metadata.metadata
    assert footer[b"instructkit.version"] == __version__.encode()
    assert footer[b"instructkit.record"] == b"Instruction"
    assert footer[b"instructkit.schema_version"] == str(ARROW_SCHEMA_VERSION).encode()
    assert footer[b"instructkit.dialect"] == b"instructkit"
    assert footer[b"source"] == b"unit test"
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    info = parquet_info(path)
    assert (info.dialect, info.schema_version, info.library_version) == (
        "instructkit",
        ARROW_SCHEMA_VERSION,
        __version__,
    )


def test_empty_input_writes_a_file_with_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    write_parquet([], path, record="Conversation")
    assert pq.read_table(path).schema.equals(arrow_schema(Conversation))
    assert list(iter_parquet_records(path)) == []
    with pytest.raises(ConfigurationError, match="record="):
        write_parquet([], tmp_path / "unknown.parquet")


def test_row_groups_end_by_rows_and_by_bytes(tmp_path: Path) -> None:
    records = numbered_instructions(10)
    write_parquet(records, tmp_path / "rows.parquet", row_group_size=4)
    sizes = [
        pq.ParquetFile(tmp_path / "rows.parquet").metadata.row_group(i).num_rows for i in range(3)
    ]
    assert sizes == [4, 4, 2]
    write_parquet(records, tmp_path / "bytes.parquet", row_group_bytes=1)
    assert pq.ParquetFile(tmp_path / "bytes.parquet").metadata.num_row_groups == 10


def test_streaming_consumes_the_input_lazily(tmp_path: Path) -> None:
    # A generator is pulled as the writer goes, not drained up front: an exception raised
    # after the first chunk still leaves no file behind, and nothing is read past it.
    pulled = []

    def records() -> Iterator[Instruction]:
        for i, record in enumerate(numbered_instructions(20_000)):
            pulled.append(i)
            yield record
        raise AssertionError("unreachable")  # pragma: no cover

    target = tmp_path / "lazy.parquet"

    def limited() -> Iterator[Instruction]:
        for i, record in enumerate(records()):
            if i == 9_000:
                raise RuntimeError("stop")
            yield record

    with pytest.raises(RuntimeError, match="stop"):
        write_parquet(limited(), target)
    assert len(pulled) == 9_001
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.parquet"
    write_parquet(numbered_instructions(3), target)
    before = target.read_bytes()

    def broken() -> Iterator[Instruction]:
        yield from numbered_instructions(2)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_parquet(broken(), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.parquet"]


def test_errors_while_writing_a_row_group_reach_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Row groups are written on a background thread; its errors must not be lost.
    target = tmp_path / "disk.parquet"
    write_parquet(numbered_instructions(3), target)
    before = target.read_bytes()

    def full_disk(
        self: pq.ParquetWriter, table: pa.Table, row_group_size: int | None = None
    ) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_parquet(numbered_instructions(50), target, row_group_size=10)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk.parquet"]


def test_killed_writer_leaves_previous_content(tmp_path: Path) -> None:
    target = tmp_path / "killed.parquet"
    write_parquet(numbered_instructions(3), target)
    before = target.read_bytes()
    script = textwrap.dedent(
        f"""
        import os
        from instructkit import Instruction
        from instructkit._io._parquet_writer import write_parquet

        def records():
            for i in range(50_000):
                if i == 30_000:
                    os._exit(3)
                yield Instruction(instruction=f"q{{i}}", response="a")

        write_parquet(records(), {str(target)!r}, row_group_size=10_000)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, timeout=120)
    assert done.returncode == 3
    assert target.read_bytes() == before


def test_shards_concatenate_to_the_unsharded_output(tmp_path: Path) -> None:
    records = numbered_instructions(25)
    paths, counts = write_parquet(
        records, tmp_path / "train.parquet", max_rows_per_file=10, row_group_size=4
    )
    assert counts == [10, 10, 5]
    assert [p.name for p in paths] == [
        "train-00000-of-00003.parquet",
        "train-00001-of-00003.parquet",
        "train-00002-of-00003.parquet",
    ]
    assert [parquet_info(p).num_rows for p in paths] == [10, 10, 5]
    assert [r for p in paths for r in iter_parquet_records(p)] == records
    write_parquet(records, tmp_path / "whole.parquet")
    assert pa.concat_tables(pq.read_table(p) for p in paths).equals(
        pq.read_table(tmp_path / "whole.parquet")
    )


def test_dialect_writing_round_trips_through_the_dialect(tmp_path: Path) -> None:
    records = [
        Instruction(instruction="Add 2 and 2.", response="4"),
        Instruction(instruction="Translate.", input="Bonjour", response="Hello"),
    ]
    path = tmp_path / "alpaca.parquet"
    write_parquet(records, path, dialect="alpaca")
    assert pq.read_schema(path).names == ["instruction", "input", "output"]
    info = parquet_info(path)
    assert (info.dialect, info.record_type, info.schema_version) == ("alpaca", None, None)
    rows = [row for _, row in iter_parquet_rows(path)]
    assert [parse_row(row, dialect="alpaca") for row in rows] == records
    with pytest.raises(DataError, match="dialect 'alpaca'"):
        list(iter_parquet_records(path))


def test_dialect_columns_never_get_null_types(tmp_path: Path) -> None:
    records = numbered_instructions(3)  # system and id are None everywhere
    path = tmp_path / "renamed.parquet"
    write_parquet(records, path, dialect="instructkit", column_map={"response": "answer"})
    schema = pq.read_schema(path)
    assert schema.field("system").type == pa.string()
    assert schema.field("answer").type == pa.string()
    assert parquet_info(path).record_type is None


def test_dialect_rows_that_grow_a_column_later_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import instructkit._io._parquet_writer as parquet_module

    monkeypatch.setattr(parquet_module, "_CHUNK", 2)  # the first 2 rows fix the columns
    records = [
        *numbered_instructions(3),
        Instruction(instruction="q", response="a", meta={"lang": "en"}),
    ]
    with pytest.raises(DataError, match="new column 'lang'") as caught:
        write_parquet(records, tmp_path / "x.parquet", dialect="alpaca")
    assert caught.value.row == 3  # the row that has it, not the chunk's first
    assert list(tmp_path.iterdir()) == []
    # Within the first rows, the extra column is simply part of the layout.
    path = tmp_path / "ok.parquet"
    write_parquet(records[2:], path, dialect="alpaca")
    rows = [row for _, row in iter_parquet_rows(path)]
    assert rows[1] == {"instruction": "q", "input": "", "output": "a", "lang": "en"}
    assert [parse_row(row, dialect="alpaca") for row in rows] == records[2:]


def test_dialect_object_columns_are_json_text_and_nothing_is_merged(tmp_path: Path) -> None:
    records = [
        Instruction(instruction="a", response="b", meta={"extra": {"x": 1, "y": [1, 2]}}),
        Instruction(instruction="c", response="d", meta={"extra": {"theta": 2.5}}),
    ]
    path = tmp_path / "objects.parquet"
    write_parquet(records, path, dialect="alpaca")
    assert pq.read_schema(path).field("extra").type == pa.json_()
    rows = [row for _, row in iter_parquet_rows(path)]
    assert [row["extra"] for row in rows] == [{"x": 1, "y": [1, 2]}, {"theta": 2.5}]
    assert [parse_row(row, dialect="alpaca") for row in rows] == records


def test_dialect_side_columns_are_json_and_keep_their_types(tmp_path: Path) -> None:
    # Arrow would promote [1] to [1.0] in one inferred column; as JSON each row keeps its own.
    records = [
        Instruction(instruction="a", response="b", meta={"score": [1]}),
        Instruction(instruction="c", response="d", meta={"score": [1.5]}),
        Instruction(instruction="e", response="f", meta={"score": "1"}),
    ]
    path = tmp_path / "side.parquet"
    write_parquet(records, path, dialect="alpaca")
    assert pq.read_schema(path).field("score").type == pa.json_()
    assert list(instructkit.read(path)) == records


def test_bad_options_are_configuration_errors(tmp_path: Path) -> None:
    records = numbered_instructions(1)
    with pytest.raises(ConfigurationError, match="compression"):
        write_parquet(records, tmp_path / "a.parquet", compression="zip")
    with pytest.raises(ConfigurationError, match="row_group_size"):
        write_parquet(records, tmp_path / "a.parquet", row_group_size=0)
    with pytest.raises(ConfigurationError, match="reserved"):
        write_parquet(records, tmp_path / "a.parquet", metadata={"instructkit.record": "x"})
    with pytest.raises(ConfigurationError, match="dialect"):
        write_parquet(records, tmp_path / "a.parquet", dialect="nope")
    write_parquet(records, tmp_path / "snappy.parquet", compression="snappy")
    assert list(iter_parquet_records(tmp_path / "snappy.parquet")) == records


# --- bad files -----------------------------------------------------------------------------


def good_rows(count: int = 3) -> list[dict[str, Any]]:
    return to_arrow(numbered_instructions(count)).to_pylist()


def test_missing_and_extra_columns_are_named(tmp_path: Path) -> None:
    table = to_arrow(numbered_instructions(2))
    path = tmp_path / "bad.parquet"
    pq.write_table(
        table.drop_columns(["response"]).append_column("output", pa.array(["a", "b"])), path
    )
    for read in (
        lambda: list(iter_parquet_records(path, record=Instruction)),
        lambda: read_table(path, record=Instruction),
    ):
        with pytest.raises(DataError, match="missing 'response'; unexpected 'output'") as caught:
            read()
        assert caught.value.file == str(path)


def test_mistyped_columns_are_named_down_to_nested_fields(tmp_path: Path) -> None:
    path = tmp_path / "typed.parquet"
    table = to_arrow(numbered_instructions(2)).set_column(2, "response", pa.array([1, 2]))
    pq.write_table(table, path)
    with pytest.raises(DataError, match="column 'response': expected string, got int64"):
        list(iter_parquet_records(path))
    chats = pa.table(
        {
            "messages": pa.array(
                [
                    [
                        {
                            "role": 1,
                            "content": "x",
                            "name": None,
                            "tool_calls": [],
                            "tool_call_id": None,
                            "reasoning": None,
                            "weight": None,
                        }
                    ]
                ]
            ),
            "tools": pa.array([[]], pa.list_(pa.string())),
            "id": pa.array([None], pa.string()),
            "meta": pa.array(["{}"]),
        }
    )
    pq.write_table(chats, path)
    with pytest.raises(DataError, match=r"column 'messages\[\]\.role': expected string, got int64"):
        list(iter_parquet_records(path))
    with pytest.raises(DataError, match=r"messages\[\]\.role"):
        read_parquet_table(path)


def test_invalid_rows_are_located_by_row(tmp_path: Path) -> None:
    rows = good_rows(6)
    rows[4]["instruction"] = ""
    path = tmp_path / "rows.parquet"
    pq.write_table(
        pa.Table.from_pylist(rows, schema=storage_schema(arrow_schema(Instruction))),
        path,
        row_group_size=2,
    )
    with pytest.raises(RecordValidationError) as caught:
        list(iter_parquet_records(path, batch_size=2))
    assert (caught.value.row, caught.value.loc, caught.value.file) == (
        4,
        "$.instruction",
        str(path),
    )
    report = ItemReport()
    kept = list(iter_parquet_records(path, on_error="skip", report=report))
    assert len(kept) == 5
    assert (report.seen, report.valid, report.rejected, report.balanced) == (6, 5, 1, True)
    assert report.rejections[0].row == 4
    with pytest.raises(RecordValidationError) as caught:
        read_table(path)
    assert caught.value.row == 4


def test_invalid_utf8_in_a_parquet_file_is_a_located_data_error(tmp_path: Path) -> None:
    table = to_arrow(numbered_instructions(3))
    texts = pa.array([b"question 0", b"bad \xff byte", b"question 2"], pa.binary())
    table = table.set_column(0, table.schema.field(0), texts.view(pa.string()))
    path = tmp_path / "utf8.parquet"
    pq.write_table(table, path)
    with pytest.raises(RecordValidationError, match="UTF-8") as caught:
        list(iter_parquet_records(path))
    assert (caught.value.row, caught.value.loc) == (1, "$.instruction")
    report = ItemReport()
    assert len(list(iter_parquet_records(path, on_error="skip", report=report))) == 2
    assert (report.rejected, report.valid) == (1, 2)
    with pytest.raises(DataError, match="UTF-8") as raw:
        list(iter_parquet_rows(path))
    assert raw.value.row == 1
    with pytest.raises(DataError, match="column 'instruction'"):
        read_table(path)


def test_not_parquet_and_truncated_files_are_data_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError, match="Parquet"):
        parquet_info(junk)
    good = tmp_path / "good.parquet"
    write_parquet(numbered_instructions(100), good)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(DataError):
        list(iter_parquet_records(cut))
    with pytest.raises(FileNotFoundError):
        parquet_info(tmp_path / "absent.parquet")


def test_files_without_our_metadata_are_recognised_by_their_columns(tmp_path: Path) -> None:
    records = [Conversation(messages=[Message(role="user", content="hi")], meta={"k": [1]})]
    path = tmp_path / "plain.parquet"
    pq.write_table(to_arrow(records).replace_schema_metadata(None), path)
    info = parquet_info(path)
    assert (info.record_type, info.dialect) == (Conversation, None)
    assert list(iter_parquet_records(path)) == records
