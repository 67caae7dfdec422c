"""Reading and writing JSON array files: streaming element by element, errors located."""

from __future__ import annotations

import base64
import io
import json
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from instructkit import (
    DataError,
    Instruction,
    MalformedJSONError,
    read,
    read_raw,
    write,
)
from instructkit._io._json import iter_json_array, sniff_layout
from instructkit.strategies import conversations, instructions, preferences

RECORDS = st.one_of(instructions(), conversations(), preferences())


def load_rejects(path: Path) -> list[dict[str, Any]]:
    entries = []
    for line in path.read_bytes().splitlines():
        entry = orjson.loads(line)
        raw = entry["raw"]
        entry["raw"] = (
            base64.b64decode(raw) if entry["raw_encoding"] == "base64" else raw.encode("utf-8")
        )
        entries.append(entry)
    return entries


def save(tmp_path: Path, data: bytes, name: str = "a.json") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- round trips -----------------------------------------------------------------------------


@given(records=st.lists(RECORDS, max_size=5), suffix=st.sampled_from(["json", "json.gz"]))
def test_write_then_read_gives_back_equal_records(records: list[Any], suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data.{suffix}"
        write(records, path)
        with read(path) as reader:
            assert list(reader) == records
        assert reader.report.seen == reader.report.valid == len(records)
        if suffix == "json":
            # A plain JSON array any JSON parser reads, one record per line.
            data = path.read_bytes()
            assert json.loads(data) == [r.to_dict() for r in records]
            assert data.count(b"\n") == len(records) + 1 + bool(records)


def test_empty_array_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    write([], path)
    assert path.read_bytes() == b"[]\n"
    assert list(read(path)) == []
    for data in (b"", b"  \n ", b"[ ]", b"\xef\xbb\xbf[]"):
        with read(save(tmp_path, data)) as reader:
            assert list(reader) == []
        # Whitespace alone reads as JSON Lines: blank lines, counted.
        lines = 0 if data.lstrip(b" \n").startswith((b"[", b"\xef")) else len(data.splitlines())
        assert reader.report.seen == reader.report.blank == lines


# -- the scanner -----------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=10,
)
styles = st.sampled_from(
    [
        {"separators": (",", ":"), "ensure_ascii": False},
        {"separators": (", ", ": "), "ensure_ascii": True},
        {"indent": 2, "ensure_ascii": False},
        {"indent": "\t"},
    ]
)


@given(
    elements=st.lists(json_values, max_size=6),
    style=styles,
    chunk_size=st.integers(1, 64),
    bom=st.booleans(),
    padding=st.sampled_from([b"", b"\n", b"  \r\n\t"]),
)
def test_elements_come_out_exactly_whatever_the_chunk_size(
    elements: list[Any], style: dict[str, Any], chunk_size: int, bom: bool, padding: bytes
) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + padding
    data += json.dumps(elements, **style).encode() + padding
    items = list(
        iter_json_array(io.BytesIO(data), file=None, first_chunk=b"", chunk_size=chunk_size)
    )
    assert [value for _, _, value in items] == orjson.loads(data.lstrip(b"\xef\xbb\xbf"))
    cursor = 0
    for line, raw, value in items:
        # Each element's bytes are exact, and start on the line reported.
        assert orjson.loads(raw) == value
        start = data.index(raw, cursor)
        assert data[cursor:start].strip(b" \t\r\n,[\xef\xbb\xbf") == b""
        assert data[:start].count(b"\n") + 1 == line
        cursor = start + len(raw)


@given(
    before=st.lists(json_values, max_size=4),
    after=st.lists(json_values, max_size=2),
    style=styles,
    chunk_size=st.integers(1, 64),
)
def test_errors_are_located_whatever_the_chunk_size(
    before: list[Any], after: list[Any], style: dict[str, Any], chunk_size: int
) -> None:
    marker = "\u2603 MARK \u2603"
    text = json.dumps([*before, {"x": marker}, *after], **style)
    spelled = json.dumps(marker, ensure_ascii=style.get("ensure_ascii", True))
    where = text.index(spelled)
    data = text[:where] + "NaN" + text[where + len(spelled) :]
    raw = data.encode()
    source = io.BytesIO(raw)
    items = list(iter_json_array(source, file=None, first_chunk=b"", chunk_size=chunk_size))
    (error,) = [value for _, _, value in items if isinstance(value, MalformedJSONError)]
    assert error.offset == len(data[:where].encode())
    assert error.line == data[:where].count("\n") + 1
    assert error.column == len(data[:where].rsplit("\n", 1)[-1]) + 1


def test_sniffing_tells_arrays_from_json_lines() -> None:
    assert sniff_layout(b" \n [") == "array"
    assert sniff_layout(b'\xef\xbb\xbf{"a": 1}') == "lines"
    assert sniff_layout(b"\t") == "empty"


def test_a_json_file_holding_json_lines_is_read_as_such(tmp_path: Path) -> None:
    # datasets.Dataset.to_json writes JSON Lines even to a .json name.
    data = b'{"instruction":"q","input":"","output":"a"}\n'
    data += b'{"instruction":"r","input":"","output":"b"}\n'
    with read(save(tmp_path, data)) as reader:
        assert [r.instruction for r in reader] == ["q", "r"]
    assert reader.dialect == "alpaca"


def test_memory_stays_bounded_for_a_large_single_line_array(tmp_path: Path) -> None:
    records = [Instruction(instruction=f"question {i}", response="x" * 1000) for i in range(6000)]
    path = tmp_path / "big.json"
    path.write_bytes(orjson.dumps([r.to_dict() for r in records]))  # one line, about 6.5 MB
    assert path.read_bytes().count(b"\n") == 0
    tracemalloc.start()
    try:
        with read(path) as reader:
            count = sum(1 for _ in reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == len(records)
    assert peak < 3_000_000, peak  # a few chunks, not the whole file


# -- errors ----------------------------------------------------------------------------------


def first_error(path: Path) -> DataError:
    with pytest.raises(DataError) as caught, read_raw(path) as rows:
        list(rows)
    return caught.value


def skip_all(path: Path, tmp_path: Path) -> tuple[list[Any], Any, list[dict[str, Any]]]:
    rejects = tmp_path / "rejects.jsonl"
    with read_raw(path, on_error="skip", rejects=rejects) as rows:
        got = list(rows)
    return got, rows.report, load_rejects(rejects)


def test_a_bad_element_is_one_bad_item_and_reading_goes_on(tmp_path: Path) -> None:
    data = b'[\n  {"a": 1},\n  {"a": NaN},\n  {"a": 2}\n]\n'
    path = save(tmp_path, data)
    error = first_error(path)
    assert isinstance(error, MalformedJSONError)
    assert (error.line, error.column, error.offset) == (3, 9, data.index(b"NaN"))
    got, report, rejects = skip_all(path, tmp_path)
    assert got == [{"a": 1}, {"a": 2}]
    assert (report.seen, report.valid, report.rejected) == (3, 2, 1)
    assert [(e["line"], e["raw"]) for e in rejects] == [(3, b'{"a": NaN}')]


def test_errors_inside_a_multi_line_element_are_located(tmp_path: Path) -> None:
    data = b'[\n  {\n    "a": 1,\n    "b": [1, 2,]\n  }\n]'
    error = first_error(save(tmp_path, data))
    assert isinstance(error, MalformedJSONError)
    assert (error.line, error.column) == (4, 15)  # at the comma orjson rejects
    assert error.offset == data.index(b",]")


def test_duplicate_keys_in_an_element(tmp_path: Path) -> None:
    data = b'[{"a": 1},\n {"b": 1, "c": {"d": 1, "d": 2}}]'
    error = first_error(save(tmp_path, data))
    assert isinstance(error, MalformedJSONError)
    assert (error.line, error.loc) == (2, "$.c.d")
    assert error.offset == data.rindex(b'"d"')


def test_trailing_garbage_after_the_array(tmp_path: Path) -> None:
    data = b'[{"a": 1}, {"a": 2}]\n{"a": 3}\n'
    path = save(tmp_path, data)
    error = first_error(path)
    assert isinstance(error, MalformedJSONError)
    assert (error.line, error.column, error.offset) == (2, 1, data.index(b'{"a": 3}'))
    got, report, rejects = skip_all(path, tmp_path)
    assert got == [{"a": 1}, {"a": 2}]
    assert (report.seen, report.valid, report.rejected) == (3, 2, 1)
    assert rejects[0]["raw"] == b'{"a": 3}\n'  # everything after the array, byte for byte


@pytest.mark.parametrize(
    ("data", "line", "column", "words", "good"),
    [
        (b'[{"a": 1} {"a": 2}]', 1, 11, "expected ',' or ']'", 1),
        (b'[{"a": 1},\n]', 2, 1, "trailing comma", 1),
        (b'[{"a": 1},\n{"a": 2}', 2, 9, "close the array", 2),
        (b'[{"a": 1},\n{"a": ', 2, 7, "truncated", 1),
    ],
)
def test_broken_arrays(
    tmp_path: Path, data: bytes, line: int, column: int, words: str, good: int
) -> None:
    path = save(tmp_path, data)
    error = first_error(path)
    assert isinstance(error, MalformedJSONError)
    assert (error.line, error.column) == (line, column)
    assert words in error.reason
    got, report, rejects = skip_all(path, tmp_path)
    assert got == [{"a": 1}, {"a": 2}][:good]
    assert report.rejected == 1
    assert report.balanced
    assert data.endswith(rejects[0]["raw"])


def test_a_compressed_array_that_ends_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Output is held back until its checksum is verified, up to a bound; with a small bound
    # the verified part of this file is given out before the cut.
    monkeypatch.setattr("instructkit._io._compression._VERIFY_HOLD", 1 << 14)
    records = [Instruction(instruction=f"q{i}", response="answer " * 30) for i in range(2000)]
    whole = tmp_path / "whole.json.gz"
    write(records, whole)
    cut = save(tmp_path, whole.read_bytes()[: whole.stat().st_size // 2], "cut.json.gz")
    error = first_error(cut)
    assert "gzip stream ends early" in error.reason
    with read(cut, on_error="skip") as reader:
        got = list(reader)
    assert got == records[: len(got)]
    assert reader.report.rejected == 1
    assert error.line == len(got) + 2  # line 1 holds the opening bracket


def test_invalid_utf8_in_an_element(tmp_path: Path) -> None:
    data = b'[{"a": "x"},\n {"a": "\xff"}]'
    path = save(tmp_path, data)
    error = first_error(path)
    assert (error.line, error.offset) == (2, data.index(b"\xff"))
    _, _, rejects = skip_all(path, tmp_path)
    assert rejects[0]["raw"] == b'{"a": "\xff"}'
