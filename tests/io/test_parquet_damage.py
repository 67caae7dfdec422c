"""Damaged Parquet files: every row read is a row written, or the damage is a located error."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instructkit import (
    Conversation,
    DataError,
    Instruction,
    InstructkitError,
    ItemReport,
    Message,
    ToolCall,
    from_arrow,
    read,
    read_raw,
    read_table,
    write,
)
from instructkit._io._parquet import iter_parquet_rows

ROWS = 14


def chats() -> list[Conversation]:
    """Distinct conversations using every column kind: texts, lists, structs, floats, meta."""
    out = []
    for i in range(ROWS):
        call = ToolCall(id=f"c{i}", name="add", arguments=f'{{"a": {i}}}')
        out.append(
            Conversation(
                messages=[
                    Message(role="user", content=f"Add {i} and {i}, please.", weight=0.0),
                    Message(role="assistant", content=None, tool_calls=[call]),
                    Message(role="tool", content=str(2 * i), tool_call_id=f"c{i}"),
                    Message(role="assistant", content=f"It is {2 * i}.", reasoning="Sum."),
                ],
                tools=['{"name":"add"}'],
                id=f"chat-{i}",
                meta={"n": i, "score": i / 7, "tags": ["x"] * (i % 3)},
            )
        )
    return out


@cache
def written(compression: str, group: int) -> bytes:
    """The bytes ``instructkit.write`` gives for :func:`chats` (made once per option set)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.parquet"
        write(chats(), path, compression=compression, row_group_size=group)
        return path.read_bytes()


def flip_in_page_header(data: bytes) -> bytes:
    """``data`` with one bit flipped in byte 1 of column 2's first data page header."""
    import io

    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    offset = meta.row_group(0).column(2).data_page_offset
    damaged = bytearray(data)
    damaged[offset + 1] ^= 0x01
    return bytes(damaged)


def test_a_page_header_that_hides_a_column_is_a_located_error(tmp_path: Path) -> None:
    # pyarrow reads this file as having no rows at all, without an error.
    path = tmp_path / "damaged.parquet"
    records = [Instruction(instruction=f"Q{i}?", response=f"A{i}") for i in range(ROWS)]
    write(records, path)
    path.write_bytes(flip_in_page_header(path.read_bytes()))
    report = ItemReport()
    with pytest.raises(DataError, match=r"row group 0 \(rows 0-13\).*14 rows, got 0") as caught:
        list(read(path, on_error="collect", report=report))
    assert caught.value.file == str(path)
    assert report.valid == 0
    for reading in (
        lambda: list(read_raw(path, on_error="collect")),
        lambda: list(iter_parquet_rows(path)),
        lambda: read_table(path, on_error="collect"),
        lambda: list(read(path, dialect="alpaca", on_error="collect")),
        lambda: list(read(path, on_error="skip", rejects=tmp_path / "rejects.jsonl")),
    ):
        with pytest.raises(DataError, match="row group 0") as caught:
            reading()
        assert caught.value.file == str(path)
    alpaca = tmp_path / "alpaca.parquet"
    write(records, alpaca, dialect="alpaca")
    alpaca.write_bytes(flip_in_page_header(alpaca.read_bytes()))
    with pytest.raises(DataError, match="row group 0") as caught:
        list(read(alpaca, on_error="collect"))
    assert caught.value.file == str(alpaca)


def test_a_file_without_row_groups_is_an_empty_table(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    write([], path, record=Conversation)
    assert pq.ParquetFile(path).metadata.num_row_groups == 0
    assert read_table(path).num_rows == 0
    assert list(read(path)) == []


def test_a_footer_whose_row_counts_disagree_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "counts.parquet"
    write(chats(), path, row_group_size=5)
    data = path.read_bytes()
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == ROWS
    # Parquet writes no page index here, so the footer's row count of the file is the thrift
    # varint of 14 (zigzag: 28, 0x1c) after the field header of FileMetaData.num_rows (i64,
    # field 3): 0x16. Change it to 15.
    footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    at = data.index(bytes([0x16, 0x1C]), footer_start)
    damaged = data[: at + 1] + bytes([0x1E]) + data[at + 2 :]
    path.write_bytes(damaged)
    with pytest.raises(DataError, match="footer") as caught:
        list(read(path, on_error="collect"))
    assert caught.value.file == str(path)


def test_a_changed_value_inside_a_page_fails_its_checksum(tmp_path: Path) -> None:
    path = tmp_path / "plain.parquet"
    records = [Instruction(instruction=f"Question {i}?", response=f"Answer {i}.") for i in range(3)]
    # Uncompressed, so a changed byte of text is still a readable page: only the checksum
    # tells it apart from what was written.
    write(records, path, compression="none")
    data = path.read_bytes()
    at = data.index(b"Answer 1.")
    path.write_bytes(data[:at] + b"Answer 7." + data[at + 9 :])
    with pytest.raises(DataError, match="row group 0") as caught:
        list(read(path, on_error="collect"))
    assert caught.value.file == str(path)
    assert "CRC" in str(caught.value) or "checksum" in str(caught.value).lower()
    with pytest.raises(DataError, match="row group 0"):
        read_table(path)


@st.composite
def damages(draw: st.DrawFn, size: int) -> list[tuple[str, int, Any]]:
    """Byte-level damage: bit flips, overwritten ranges, a truncation (applied in order)."""
    steps: list[tuple[str, int, Any]] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "overwrite", "truncate"]))
        at = draw(st.integers(0, size - 1))
        if kind == "flip":
            steps.append((kind, at, draw(st.integers(0, 7))))
        elif kind == "overwrite":
            steps.append((kind, at, draw(st.binary(min_size=1, max_size=16))))
        else:
            steps.append((kind, at, None))
    return steps


def damage(data: bytes, steps: list[tuple[str, int, Any]]) -> bytes:
    out = bytearray(data)
    for kind, at, arg in steps:
        if not out:
            break
        at %= len(out)
        if kind == "flip":
            out[at] ^= 1 << arg
        elif kind == "overwrite":
            out[at : at + len(arg)] = arg
        else:
            del out[at:]
    return bytes(out)


def is_subsequence(part: list[Any], whole: list[Any]) -> bool:
    remaining = iter(whole)
    return all(any(item == other for other in remaining) for item in part)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["zstd", "none"]),
    st.sampled_from([ROWS, 5]),
    st.data(),
)
def test_damage_never_changes_a_record(
    tmp_path_factory: pytest.TempPathFactory, compression: str, group: int, data: st.DataObject
) -> None:
    original = written(compression, group)
    steps = data.draw(damages(len(original)))
    path = tmp_path_factory.mktemp("damage") / "train.parquet"
    path.write_bytes(damage(original, steps))
    records = chats()
    got: list[Any] = []
    report = ItemReport()
    failure: InstructkitError | None = None
    try:
        with read(path, on_error="collect", report=report) as reader:
            got.extend(reader)
    except InstructkitError as err:
        failure = err
    if failure is not None:
        # Damage the reader cannot get past: a located data error, and nothing changed before.
        assert isinstance(failure, DataError)
        assert failure.file == str(path)
        assert is_subsequence(got, records)
    else:
        assert report.valid + report.rejected == report.seen
        rejected = {rejection.row for rejection in report.rejections}
        assert got == [records[i] for i in range(report.seen) if i not in rejected]
    failure = None
    try:
        table = read_table(path, on_error="collect")
    except InstructkitError as err:
        failure = err
    if failure is not None:
        assert isinstance(failure, DataError)
        assert failure.file == str(path)
    else:
        assert is_subsequence(from_arrow(table), records)
