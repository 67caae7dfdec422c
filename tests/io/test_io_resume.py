"""Resuming reads: read, stop anywhere, resume from ``reader.position`` == one uninterrupted read.

Also: every reader's report balances in every ``on_error`` mode, including after the error
that stopped a read under ``"raise"``.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import instructkit as ik
from instructkit import (
    ConfigurationError,
    DataError,
    Instruction,
    ItemReport,
    ReadPosition,
    read,
    read_raw,
    read_table,
    to_arrow,
    write,
)
from instructkit.strategies import instructions

# Lines that are bad in different ways: not JSON, not an object, a repeated key, not a record.
BAD_LINES = [
    b"not json",
    b"[1, 2]",
    b'{"instruction": "a", "instruction": "b", "response": "c"}',
    b'{"instruction": "", "response": "x"}',
    b'{"instruction": "a", "response": NaN}',
]
BLANK_LINES = [b"", b"  \t", b"\r"]

Item = tuple[str, Any]  # ("record", Instruction) | ("bad", bytes) | ("blank", bytes)

ITEMS = st.one_of(
    st.tuples(st.just("record"), instructions(meta=st.just({}))),
    st.tuples(st.just("bad"), st.sampled_from(BAD_LINES)),
    st.tuples(st.just("blank"), st.sampled_from(BLANK_LINES)),
)
TEXT_FORMATS = ["jsonl", "jsonl.gz", "jsonl.zst", "json", "json.gz"]


def _line(item: Item) -> bytes:
    kind, value = item
    if kind == "record":
        return orjson.dumps(value.to_dict())
    data: bytes = value
    return data


def _write_text(folder: Path, name: str, items: list[Item], *, final_newline: bool) -> Path:
    """A file of ``items`` in the format ``name`` ends with (a JSON array for ``.json``)."""
    path = folder / name
    if ".jsonl" in name:
        data = b"\n".join(_line(item) for item in items)
        if items and final_newline:
            data += b"\n"
    else:
        # A JSON array holds no blank elements; its bad elements are bad values between
        # commas (the array itself stays well formed).
        elements = [_line(item) for item in items if item[0] != "blank"]
        data = b"[\n" + b",\n".join(elements) + b"\n]\n"
    if name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    elif name.endswith(".zst"):
        zstandard = pytest.importorskip("zstandard")
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def _write_parquet(folder: Path, name: str, items: list[Item], group: int) -> Path:
    """A Parquet file in instructkit's schema; ``bad`` items become rows with an empty
    instruction (valid Arrow, invalid records), ``blank`` items are left out."""
    records = [
        value if kind == "record" else Instruction(instruction="x", response="bad")
        for kind, value in items
        if kind != "blank"
    ]
    table = to_arrow(records, record=Instruction)
    bad = [kind == "bad" for kind, _ in items if kind != "blank"]
    column = table.column("instruction").to_pylist()
    fixed = pa.array(["" if b else text for b, text in zip(bad, column, strict=True)])
    table = table.set_column(table.schema.get_field_index("instruction"), "instruction", fixed)
    path = folder / name
    pq.write_table(table, path, row_group_size=group)
    return path


@st.composite
def sources(
    draw: st.DrawFn, folder: Path, formats: tuple[str, ...] = (*TEXT_FORMATS, "parquet")
) -> list[Path]:
    """One to three files of mixed ``formats``, each of good, bad and blank lines."""
    paths = []
    for index in range(draw(st.integers(1, 3))):
        items = draw(st.lists(ITEMS, max_size=7))
        kind = draw(st.sampled_from(formats))
        name = f"part{index}.{kind}"
        if kind == "parquet":
            paths.append(_write_parquet(folder, name, items, draw(st.integers(1, 3))))
        else:
            paths.append(_write_text(folder, name, items, final_newline=draw(st.booleans())))
    return paths


Open = Callable[..., Any]
READERS: dict[str, Open] = {
    "read": lambda paths, **kw: read(paths, dialect=None, **kw),
    "read_raw": read_raw,
}


def _counts(report: ItemReport) -> tuple[int, int, int, int]:
    return report.seen, report.valid, report.rejected, report.blank


@given(
    data=st.data(),
    reader=st.sampled_from(sorted(READERS)),
    mode=st.sampled_from(["skip", "collect"]),
)
def test_read_stop_resume_gives_exactly_one_uninterrupted_read(
    data: st.DataObject, reader: str, mode: str
) -> None:
    open_reader = READERS[reader]
    with tempfile.TemporaryDirectory() as folder:
        paths = data.draw(sources(Path(folder)))
        with open_reader(paths, on_error=mode) as whole:
            expected = list(whole)
        assert whole.report.balanced
        # Stop after any number of items, possibly several times, each time through JSON.
        got: list[Any] = []
        position: ReadPosition | None = None
        for _ in range(data.draw(st.integers(0, 3))):
            stop = data.draw(st.integers(0, len(expected) - len(got)))
            with open_reader(paths, on_error=mode, resume=position) as part:
                got.extend(next(part) for _ in range(stop))
                assert part.report.balanced
                position = ReadPosition.from_dict(json.loads(json.dumps(part.position.to_dict())))
            counts = (position.seen, position.valid, position.rejected, position.blank)
            if reader == "read" and position.file.endswith(".parquet"):
                # Parquet in instructkit's schema is validated a batch at a time: the report
                # may count the rest of the batch already; the position never does.
                assert all(a >= b for a, b in zip(_counts(part.report), counts, strict=True))
            else:
                assert _counts(part.report) == counts
        with open_reader(paths, on_error=mode, resume=position) as rest:
            got.extend(rest)
        assert got == expected
        assert _counts(rest.report) == _counts(whole.report)
        assert rest.position.finished


@given(data=st.data(), reader=st.sampled_from(sorted(READERS)))
def test_resuming_after_each_raised_error_reads_what_skip_reads(
    data: st.DataObject, reader: str
) -> None:
    open_reader = READERS[reader]
    with tempfile.TemporaryDirectory() as folder:
        paths = data.draw(sources(Path(folder)))
        with open_reader(paths, on_error="skip") as skipping:
            expected = list(skipping)
        got: list[Any] = []
        errors = 0
        position: ReadPosition | None = None
        while True:
            current = open_reader(paths, resume=position)
            try:
                got.extend(current)
            except DataError:
                errors += 1
                # The bad item is counted as rejected: the report balances after the error.
                assert current.report.balanced
                assert current.report.rejected == current.position.rejected
                position = current.position
                current.close()
                continue
            break
        assert got == expected
        assert errors == skipping.report.rejected
        assert _counts(current.report) == _counts(skipping.report)


def _read_table(paths: list[Path], *, on_error: str, report: ItemReport) -> list[Any]:
    table = read_table(paths, record=Instruction, on_error=on_error, report=report)  # type: ignore[arg-type]
    rows: list[Any] = table.to_pylist()
    return rows


@given(
    data=st.data(),
    reader=st.sampled_from(["read", "read_raw", "read_table"]),
    mode=st.sampled_from(["raise", "skip", "collect"]),
)
def test_every_report_balances_in_every_mode(data: st.DataObject, reader: str, mode: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        # read_table reads JSON Lines and Parquet only.
        formats = ("jsonl", "jsonl.gz", "parquet") if reader == "read_table" else TEXT_FORMATS
        paths = data.draw(sources(Path(folder), (*formats, "parquet")))
        report = ItemReport()
        try:
            if reader == "read_table":
                _read_table(paths, on_error=mode, report=report)
            else:
                list(READERS[reader](paths, on_error=mode, report=report))
        except DataError as err:
            assert mode == "raise"
            stopped_by = err
        else:
            stopped_by = None
        if stopped_by is not None:
            # The item that stopped the read is counted, as rejected, with its error.
            assert report.rejections
            assert report.rejections[-1].error is stopped_by
        assert report.balanced, report.summary()


def test_position_names_the_file_line_and_byte_offset(tmp_path: Path) -> None:
    records = [Instruction(instruction=f"Say {n}.", response=str(n)) for n in range(4)]
    result = write(records, tmp_path / "train.jsonl", max_rows_per_file=2)
    names = [str(path) for path in result.paths]
    reader = read(result.paths)
    assert reader.position == ReadPosition(file=names[0], dialect=None)
    next(reader)
    next(reader)
    next(reader)
    position = reader.position
    reader.close()
    first_line = len(result.paths[1].read_bytes().splitlines()[0]) + 1
    assert (position.file, position.index, position.line, position.offset) == (
        names[1],
        1,
        1,
        first_line,
    )
    assert (position.seen, position.valid, position.dialect) == (3, 3, "instructkit")
    assert json.loads(json.dumps(position.to_dict())) == position.to_dict()
    with read(result.paths, resume=position) as rest:
        assert list(rest) == records[3:]
    assert rest.report.summary().endswith("4 seen, 4 valid, 0 rejected, 0 blank")


def test_resuming_keeps_the_detected_dialect(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    # Alpaca rows first; a resumed read sees only the last row, which would detect as
    # instructkit's own layout (and fail as alpaca): the position keeps the dialect.
    path.write_bytes(
        b'{"instruction": "a", "input": "", "output": "b"}\n'
        b'{"instruction": "c", "input": "", "output": "d"}\n'
        b'{"instruction": "e", "response": "f"}\n'
    )
    reader = read(path, on_error="skip")
    next(reader)
    position = reader.position
    reader.close()
    assert position.dialect == "alpaca"
    with read(path, on_error="skip", resume=position) as rest:
        assert [r.response for r in rest] == ["d"]
    assert rest.report.rejected == 1


def test_resuming_a_compressed_file_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl.gz"
    lines = [orjson.dumps({"instruction": f"q{n}", "response": "a"}) for n in range(3)]
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n"))
    reader = read(path)
    next(reader)
    position = reader.position
    reader.close()
    assert position.offset == 3 + len(lines[0]) + 1  # offsets count the byte order mark
    with read(path, resume=position) as rest:
        assert [r.instruction for r in rest] == ["q1", "q2"]


@pytest.mark.parametrize(
    ("resume", "words"),
    [
        ({"file": "a.jsonl"}, "ReadPosition"),
        (ReadPosition(file="other.jsonl"), "not file 0"),
        (ReadPosition(file="a.jsonl", index=3), "not file 3"),
    ],
)
def test_a_position_in_another_file_is_refused_at_the_call(
    tmp_path: Path, resume: Any, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write([Instruction(instruction="a", response="b")], "a.jsonl")
    with pytest.raises(ConfigurationError, match=words):
        read("a.jsonl", resume=resume)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], "as a dict"),
        ({"line": 3}, "with 'file'"),
        ({"file": "a", "lines": 3}, "keys among"),
        ({"file": "a", "line": -1}, "'line'.*a count"),
        ({"file": "a", "offset": True}, "'offset'.*a count"),
        ({"file": "a", "finished": 1}, "'finished'.*a boolean"),
        ({"file": 3}, "'file'.*a string"),
    ],
)
def test_a_bad_position_dict_is_refused(data: Any, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        ReadPosition.from_dict(data)


def test_position_is_exported() -> None:
    assert ik.ReadPosition is ReadPosition


def test_parquet_under_raise_gives_the_rows_before_the_bad_one_then_resumes_past_it(
    tmp_path: Path,
) -> None:
    good = [Instruction(instruction=f"q{n}", response="a") for n in range(3)]
    items: list[Item] = [
        ("record", good[0]),
        ("record", good[1]),
        ("bad", b""),
        ("record", good[2]),
    ]
    path = _write_parquet(tmp_path, "one-group.parquet", items, group=10)
    got: list[Any] = []
    reader = read(path)
    with pytest.raises(DataError, match="row 2"):
        got.extend(reader)
    # One batch holds all four rows: the two valid ones before the bad row still come first.
    assert got == good[:2]
    assert (reader.position.item, reader.report.rejected) == (3, 1)
    with read(path, resume=reader.position) as rest:
        assert list(rest) == good[2:]
