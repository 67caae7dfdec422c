"""Reading and writing JSON Lines: round trips, every kind of bad line, rejects, reports."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from instructkit import (
    Conversation,
    DataError,
    DialectDetectionError,
    DialectError,
    Instruction,
    ItemReport,
    LossReport,
    MalformedJSONError,
    Preference,
    RecordValidationError,
    read,
    read_raw,
    write,
)
from instructkit._io._jsonl import (
    has_duplicate_keys,
    iter_jsonl,
    locate_duplicate_key,
)
from instructkit.strategies import (
    corrupt_jsonl_documents,
    instructions,
    jsonl_documents,
)
from record_fixtures import RECORDS_BY_NAME

TEXT_FORMATS = ["jsonl", "jsonl.gz", "jsonl.zst"]


def load_rejects(path: Path) -> list[dict[str, Any]]:
    """The rejects file's entries, with ``raw`` turned back into the exact bytes."""
    entries = []
    for line in path.read_bytes().splitlines():
        entry = orjson.loads(line)
        if entry["raw_encoding"] == "base64":
            entry["raw"] = base64.b64decode(entry["raw"])
        else:
            assert entry["raw_encoding"] == "utf-8"
            entry["raw"] = entry["raw"].encode("utf-8")
        entries.append(entry)
    return entries


def file_lines(data: bytes) -> list[bytes]:
    """The lines a JSONL reader sees: split on \\n only, BOM off the first, no phantom last."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def is_blank(line: bytes) -> bool:
    return not line.strip(b" \t\r")


# -- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(RECORDS_BY_NAME))
@given(data=st.data())
def test_write_then_read_gives_back_equal_records(kind: str, data: st.DataObject) -> None:
    records = data.draw(st.lists(RECORDS_BY_NAME[kind], max_size=4))
    fmt = data.draw(st.sampled_from(TEXT_FORMATS))
    dialect = data.draw(st.sampled_from(["auto", None, "instructkit"]))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data.{fmt}"
        result = write(records, path)
        assert result.rows == len(records)
        with read(path, dialect=dialect) as reader:
            assert list(reader) == records
        assert reader.report.valid == reader.report.seen == len(records)


@given(records=st.lists(st.one_of(*RECORDS_BY_NAME.values()), max_size=6))
def test_mixed_record_types_round_trip_and_write_is_deterministic(records: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        first, second = Path(folder) / "a.jsonl", Path(folder) / "b.jsonl"
        write(records, first)
        write(iter(records), second)  # an iterator, not a list
        assert first.read_bytes() == second.read_bytes()
        assert list(read(first)) == records
        # One record per line, framed on \n only, each line orjson's rendering of to_dict().
        lines = file_lines(first.read_bytes())
        assert lines == [orjson.dumps(r.to_dict()) for r in records]


@given(records=st.lists(instructions(), min_size=1, max_size=4))
def test_compressed_output_is_deterministic(records: list[Instruction]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for suffix in ("jsonl.gz", "jsonl.zst"):
            a, b = Path(folder) / f"a.{suffix}", Path(folder) / f"b.{suffix}"
            write(records, a)
            write(records, b)
            assert a.read_bytes() == b.read_bytes()


def test_text_is_written_raw_without_needless_escapes(tmp_path: Path) -> None:
    text = "café \u2028 \u2029 \x85 \x00 🎉 e\u0301 日本"
    record = Instruction(instruction=text, response="ok")
    path = tmp_path / "a.jsonl"
    write([record], path)
    data = path.read_bytes()
    assert "café \u2028 \u2029 \x85".encode() in data
    assert "🎉 e\u0301 日本".encode() in data
    assert b"\\u0000" in data  # NUL must be escaped in JSON
    assert data.count(b"\n") == 1
    assert data.endswith(b"\n")
    assert list(read(path)) == [record]


def test_none_and_empty_content_stay_apart(tmp_path: Path) -> None:
    chat = Conversation(
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "name": "w", "arguments": "{}"}],
            },
            {"role": "tool", "content": "", "tool_call_id": "c1"},
            {"role": "assistant", "content": "sunny"},
        ]
    )
    path = tmp_path / "chat.jsonl"
    write([chat], path)
    (back,) = read(path)
    assert back.messages[1].content is None
    assert back.messages[2].content == ""
    assert back == chat


def test_read_is_a_context_manager_that_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write([Instruction(instruction=f"q{i}", response="a") for i in range(3)], path)
    before = len(os.listdir("/proc/self/fd"))
    with read(path) as reader:
        next(reader)
        assert len(os.listdir("/proc/self/fd")) == before + 1
    assert len(os.listdir("/proc/self/fd")) == before
    with pytest.raises(StopIteration):
        next(reader)
    assert "closed" in repr(reader)


def test_a_missing_file_fails_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read(tmp_path / "nope.jsonl")


# -- valid documents with noise ----------------------------------------------------------


@given(doc=jsonl_documents())
def test_documents_with_noise_read_as_their_rows(doc: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.jsonl"
        path.write_bytes(doc.data)
        with read_raw(path) as rows:
            assert list(rows) == list(doc.rows)
        lines = file_lines(doc.data)
        report = rows.report
        assert report.seen == len(lines)
        assert report.blank == sum(map(is_blank, lines))
        assert report.valid == len(doc.rows)
        assert report.balanced
    # The general per-line parser agrees, whatever the chunk size.
    items = list(iter_jsonl(io.BytesIO(doc.data), file=None, chunk_size=7))
    assert [v for _, _, v in items if isinstance(v, dict)] == list(doc.rows)
    assert [line for line, _, _ in items] == list(range(1, len(items) + 1))


# -- bad lines -----------------------------------------------------------------------------

EXPECTED_CLASS = {
    "truncated": MalformedJSONError,
    "trailing_comma": MalformedJSONError,
    "duplicate_keys": MalformedJSONError,
    "invalid_utf8": MalformedJSONError,
    "bom": MalformedJSONError,
    "nan": MalformedJSONError,
    "bare_cr": MalformedJSONError,
    "not_an_object": DialectError,
}


@given(doc=corrupt_jsonl_documents(), policy=st.sampled_from(["skip", "collect"]))
def test_a_bad_line_raises_or_is_rejected_byte_for_byte(doc: Any, policy: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.jsonl"
        path.write_bytes(doc.data)
        # on_error="raise": the error's class and line.
        with pytest.raises(DataError) as caught, read_raw(path) as rows:
            list(rows)
        error = caught.value
        assert type(error) is EXPECTED_CLASS[doc.defect]
        assert error.line == doc.line
        assert error.file == str(path)
        assert f"line {doc.line}" in str(error)
        # "skip" and "collect": everything else, the counts, and the exact bytes rejected.
        rejects = Path(folder) / "rejects.jsonl"
        with read_raw(path, on_error=policy, rejects=rejects) as rows:  # type: ignore[arg-type]
            assert list(rows) == list(doc.rows)
        lines = file_lines(doc.data)
        report = rows.report
        assert (report.seen, report.valid, report.rejected) == (len(lines), len(doc.rows), 1)
        assert report.blank == sum(map(is_blank, lines))
        assert report.balanced
        (rejection,) = report.rejections
        assert rejection.line == doc.line
        assert (rejection.error is not None) == (policy == "collect")
        (entry,) = load_rejects(rejects)
        assert entry["line"] == doc.line
        assert entry["raw"] == lines[doc.line - 1]
        assert entry["error"] == EXPECTED_CLASS[doc.defect].__name__


def write_bytes(tmp_path: Path, data: bytes, name: str = "a.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def first_error(path: Path, **kwargs: Any) -> DataError:
    with pytest.raises(DataError) as caught:
        list(read_raw(path, **kwargs))
    return caught.value


def test_malformed_json_reports_line_column_and_byte_offset(tmp_path: Path) -> None:
    data = b'{"a": 1}\n{"\xc3\xa9": 1, x}\n'
    error = first_error(write_bytes(tmp_path, data))
    assert isinstance(error, MalformedJSONError)
    assert (error.line, error.column) == (2, 10)  # columns count characters, é is one
    assert error.offset == data.index(b"x}")
    assert "line 2" in str(error)
    assert "column 10" in str(error)
    assert f"byte {error.offset}" in str(error)


def test_invalid_utf8_is_located_and_rejected_as_base64(tmp_path: Path) -> None:
    data = b'{"a": 1}\n{"a": "ok \xff\xfe"}\n{"a": 2}\n'
    path = write_bytes(tmp_path, data)
    error = first_error(path)
    assert isinstance(error, MalformedJSONError)
    assert (error.line, error.column, error.offset) == (2, 11, data.index(b"\xff"))
    assert "UTF-8" in error.reason
    rejects = tmp_path / "rejects.jsonl"
    with read_raw(path, on_error="skip", rejects=rejects) as rows:
        assert list(rows) == [{"a": 1}, {"a": 2}]
    (entry,) = load_rejects(rejects)
    assert entry["raw"] == b'{"a": "ok \xff\xfe"}'
    assert orjson.loads(rejects.read_bytes())["raw_encoding"] == "base64"


@pytest.mark.parametrize("word", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_reported(tmp_path: Path, word: bytes) -> None:
    error = first_error(write_bytes(tmp_path, b'{"score": ' + word + b"}\n"))
    assert isinstance(error, MalformedJSONError)
    assert error.line == 1
    assert "NaN and Infinity are not JSON" in error.reason


def test_duplicate_keys_are_reported_with_their_path(tmp_path: Path) -> None:
    data = b'{"a": 1}\n{"meta": {"x": [1, {"k": 1, "k": 2}]}}\n'
    error = first_error(write_bytes(tmp_path, data))
    assert isinstance(error, MalformedJSONError)
    assert error.line == 2
    assert error.loc == "$.meta.x[1].k"
    assert error.offset == data.index(b'"k": 2')
    assert "'k' a second time" in error.reason


def test_duplicate_keys_spelled_differently_are_still_duplicates(tmp_path: Path) -> None:
    error = first_error(write_bytes(tmp_path, b'{"input": "", "\\u0069nput": "x"}\n'))
    assert error.loc == "$.input"


def test_a_bom_at_the_start_is_skipped_and_elsewhere_reported(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    path = write_bytes(tmp_path, bom + b'{"a": 1}\n' + bom + b'{"a": 2}\n')
    rejects = tmp_path / "rejects.jsonl"
    with read_raw(path, on_error="skip", rejects=rejects) as rows:
        assert list(rows) == [{"a": 1}]
    (entry,) = load_rejects(rejects)
    assert entry["line"] == 2
    assert entry["raw"] == bom + b'{"a": 2}'
    error = first_error(path)
    assert (error.line, error.offset) == (2, 12)  # offsets count the leading BOM


def test_a_utf16_file_is_named_as_such(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, '{"a": 1}\n'.encode("utf-16"))
    error = first_error(path)
    assert error.line == 1
    assert "UTF-16" in error.reason


def test_crlf_endings_and_blank_lines(tmp_path: Path) -> None:
    data = b'{"a": 1}\r\n\r\n   \r\n\t\n{"a": 2}\r\n'
    with read_raw(write_bytes(tmp_path, data)) as rows:
        assert list(rows) == [{"a": 1}, {"a": 2}]
    assert (rows.report.seen, rows.report.blank, rows.report.valid) == (5, 3, 2)


def test_unicode_line_separators_do_not_split_lines(tmp_path: Path) -> None:
    text = "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg"
    data = orjson.dumps({"t": text}) + b"\n"
    assert "\u2028".encode() in data  # written raw, so a splitlines() reader would break it
    with read_raw(write_bytes(tmp_path, data)) as rows:
        assert list(rows) == [{"t": text}]


def test_a_truncated_last_line(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b'{"a": 1}\n{"a": 2}\n{"a": ')
    error = first_error(path)
    assert isinstance(error, MalformedJSONError)
    assert error.line == 3
    assert "truncated" in error.reason
    # A last line without its newline is fine when it is complete.
    with read_raw(write_bytes(tmp_path, b'{"a": 1}\n{"a": 2}', "b.jsonl")) as rows:
        assert list(rows) == [{"a": 1}, {"a": 2}]


def test_an_empty_file(tmp_path: Path) -> None:
    for data in (b"", b"\n\n", b"\xef\xbb\xbf"):
        path = write_bytes(tmp_path, data)
        with read(path) as reader:
            assert list(reader) == []
        report = reader.report
        assert report.valid == report.rejected == 0
        assert report.seen == report.blank == data.count(b"\n")


def test_lines_far_larger_than_a_chunk(tmp_path: Path) -> None:
    big = "x" * 3_000_000  # several read chunks
    records = [
        Instruction(instruction="short", response="a"),
        Instruction(instruction="big", response=big),
        Instruction(instruction="short again", response="b"),
    ]
    path = tmp_path / "big.jsonl"
    write(records, path)
    assert list(read(path)) == records
    # A huge bad line is still located and kept whole.
    data = b'{"a": 1}\n{"a": "' + b"y" * 3_000_000 + b'", oops}\n{"a": 2}\n{"a": [}\n'
    path.write_bytes(data)
    error = first_error(path)
    assert (error.line, error.offset) == (2, data.index(b"oops"))
    rejects = tmp_path / "rejects.jsonl"
    with read_raw(path, on_error="collect", rejects=rejects) as rows:
        assert list(rows) == [{"a": 1}, {"a": 2}]
    first, last = load_rejects(rejects)
    assert first["line"] == 2
    assert len(first["raw"]) == 3_000_000 + 15
    assert (last["line"], last["raw"]) == (4, b'{"a": [}')
    offsets = [getattr(r.error, "offset", None) for r in rows.report.rejections]
    assert offsets == [data.index(b"oops"), data.index(b"[}") + 1]  # across chunk boundaries


@pytest.mark.parametrize("suffix", ["jsonl.gz", "jsonl.zst"])
def test_compressed_files_that_end_early(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Output is held back until its checksum is verified, up to a bound; with a small bound
    # the verified part of this file is given out before the cut.
    monkeypatch.setattr("instructkit._io._compression._VERIFY_HOLD", 1 << 14)
    records = [
        Instruction(instruction=f"question {i}", response="answer " * 20) for i in range(3000)
    ]
    whole = tmp_path / f"whole.{suffix}"
    write(records, whole)
    cut = write_bytes(tmp_path, whole.read_bytes()[: whole.stat().st_size // 2], f"cut.{suffix}")
    error = first_error(cut)
    assert isinstance(error, MalformedJSONError)
    assert "ends early" in error.reason
    rejects = tmp_path / "rejects.jsonl"
    with read(cut, on_error="skip", rejects=rejects) as reader:
        got = list(reader)
    assert got == records[: len(got)]
    assert 0 < len(got) < len(records)
    report = reader.report
    assert (report.valid, report.rejected, report.seen) == (len(got), 1, len(got) + 1)
    assert error.line == len(got) + 1
    (entry,) = load_rejects(rejects)
    # The incomplete last line, byte for byte: a prefix of the record that was cut.
    full_line = orjson.dumps(records[len(got)].to_dict())
    assert full_line.startswith(entry["raw"])
    assert entry["raw"] != full_line


def test_damaged_gzip_data_is_reported(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(b'{"a": 1}\n' * 1000))
    data[len(data) // 2] ^= 0xFF
    error = first_error(write_bytes(tmp_path, bytes(data), "bad.jsonl.gz"))
    assert isinstance(error, MalformedJSONError)
    assert "gzip" in error.reason


def test_concatenated_gzip_members_and_zero_padding(tmp_path: Path) -> None:
    data = gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"a": 2}\n') + b"\0" * 8
    with read_raw(write_bytes(tmp_path, data, "multi.jsonl.gz")) as rows:
        assert list(rows) == [{"a": 1}, {"a": 2}]


def test_rejects_file_is_written_even_when_reading_stops_on_an_error(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b'{"a": 1}\n{bad\n{"a": 2}\n')
    rejects = tmp_path / "rejects.jsonl"
    with pytest.raises(MalformedJSONError), read_raw(path, rejects=rejects) as rows:
        list(rows)
    (entry,) = load_rejects(rejects)
    assert (entry["line"], entry["raw"]) == (2, b"{bad")
    # And an empty rejects file when nothing was rejected.
    write_bytes(tmp_path, b'{"a": 1}\n', "good.jsonl")
    with read_raw(tmp_path / "good.jsonl", rejects=rejects) as rows:
        list(rows)
    assert rejects.read_bytes() == b""


# -- records, dialects and conversions -------------------------------------------------------


def test_invalid_records_report_line_and_field_path(tmp_path: Path) -> None:
    good = Instruction(instruction="q", response="a").to_dict()
    bad = dict(good, response="")
    path = write_bytes(tmp_path, b"\n".join(orjson.dumps(r) for r in (good, bad, good)) + b"\n")
    with pytest.raises(RecordValidationError) as caught:
        list(read(path))
    assert (caught.value.line, caught.value.loc) == (2, "$.response")
    report = ItemReport()
    with read(path, on_error="collect", report=report) as reader:
        assert len(list(reader)) == 2
    assert reader.report is report
    assert (report.valid, report.rejected) == (2, 1)
    assert report.rejections[0].loc == "$.response"
    assert isinstance(report.rejections[0].error, RecordValidationError)


def test_dialect_auto_detects_alpaca_and_reports_losses(tmp_path: Path) -> None:
    rows = [{"instruction": f"q{i}", "input": "", "output": "a", "id": i} for i in range(5)]
    path = write_bytes(tmp_path, b"\n".join(orjson.dumps(r) for r in rows))
    losses = LossReport()
    with read(path, losses=losses) as reader:
        records = list(reader)
    assert reader.dialect == "alpaca"
    assert reader.guess is not None
    assert reader.guess.confidence == 1.0
    assert [r.id for r in records] == [str(i) for i in range(5)]
    assert losses  # an integer id becomes text


def test_column_map(tmp_path: Path) -> None:
    row = {"instruction": "q", "input": "", "response": "a"}
    path = write_bytes(tmp_path, orjson.dumps(row) + b"\n")
    (record,) = read(path, dialect="alpaca", column_map={"output": "response"})
    assert record == Instruction(instruction="q", response="a")


def test_undetectable_dialect_raises_whatever_on_error_says(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b'{"foo": 1}\n{"bar": 2}\n')
    with pytest.raises(DialectDetectionError) as caught:
        list(read(path, on_error="skip"))
    assert caught.value.file == str(path)


def test_record_conversion_both_ways(tmp_path: Path) -> None:
    records = [Instruction(instruction="Translate.", input="Hallo", response="Hello", id="1")]
    path = tmp_path / "a.jsonl"
    write(records, path)
    (chat,) = read(path, record=Conversation)
    assert chat == records[0].to_conversation()
    write([chat], tmp_path / "chat.jsonl")
    assert list(read(tmp_path / "chat.jsonl", record="instruction")) == records


def test_impossible_conversions_are_located_bad_rows(tmp_path: Path) -> None:
    pref = Preference(
        prompt=[{"role": "user", "content": "hi"}],
        chosen=[{"role": "assistant", "content": "hello"}],
        rejected=[{"role": "assistant", "content": "go away"}],
    )
    ok = Instruction(instruction="q", response="a")
    path = tmp_path / "mixed.jsonl"
    write([ok, pref, ok], path)
    with pytest.raises(RecordValidationError) as caught:
        list(read(path, record=Instruction))
    assert caught.value.line == 2
    assert "Preference" in caught.value.reason
    with read(path, record=Instruction, on_error="skip") as reader:
        assert list(reader) == [ok, ok]
    assert (reader.report.valid, reader.report.rejected) == (2, 1)


def test_read_raw_yields_plain_dicts_and_rejects_non_objects(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, b'{"x": 1}\n[1, 2]\n"text"\n{"y": null}\n')
    with read_raw(path, on_error="skip") as rows:
        assert list(rows) == [{"x": 1}, {"y": None}]
    assert [r.line for r in rows.report.rejections] == [2, 3]
    assert all("expected a JSON object" in r.reason for r in rows.report.rejections)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "csv"}, "format"),
        ({"on_error": "ignore"}, "on_error"),
        ({"dialect": "nope"}, "dialect"),
        ({"record": "Message"}, "record"),
        ({"report": LossReport()}, "ItemReport"),
    ],
)
def test_bad_keywords_are_configuration_errors(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    from instructkit import ConfigurationError

    path = write_bytes(tmp_path, b"")
    with pytest.raises(ConfigurationError, match=message):
        read(path, **kwargs)


def test_unknown_suffix_and_rejects_onto_the_input(tmp_path: Path) -> None:
    from instructkit import ConfigurationError

    with pytest.raises(ConfigurationError, match="file name ending"):
        read(write_bytes(tmp_path, b"", "a.txt"))
    path = write_bytes(tmp_path, b"")
    with pytest.raises(ConfigurationError, match="rejects"):
        read(path, rejects=path)
    (record,) = read(
        write_bytes(tmp_path, b'{"instruction":"q","input":"","output":"a"}', "a.txt"),
        format="jsonl",
    )
    assert record.response == "a"


# -- duplicate keys: the detector itself -------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
json_styles = st.sampled_from(
    [
        {"separators": (",", ":"), "ensure_ascii": False},
        {"separators": (", ", ": "), "ensure_ascii": True},
        {"indent": 1, "ensure_ascii": False},
    ]
)


@given(value=json_values, style=json_styles)
def test_no_duplicates_are_found_where_there_are_none(value: Any, style: dict[str, Any]) -> None:
    raw = json.dumps(value, **style).encode()
    assert not has_duplicate_keys(raw, orjson.loads(raw))
    assert locate_duplicate_key(raw) is None


@given(
    value=st.dictionaries(st.text(max_size=6), json_values, min_size=1, max_size=4),
    extra=json_values,
    style=json_styles,
    data=st.data(),
)
def test_a_repeated_key_is_always_found(
    value: dict[str, Any], extra: Any, style: dict[str, Any], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(value)))
    body = json.dumps(value, **style)
    repeat = json.dumps({key: extra}, **style)
    # Splice the extra member in before the closing brace: {...,"key":extra}.
    raw = (body[:-1].rstrip() + ", " + repeat.strip()[1:].strip()).encode()
    parsed = orjson.loads(raw)
    assert has_duplicate_keys(raw, parsed)
    found = locate_duplicate_key(raw)
    assert found is not None
    assert found[0] == ()
    assert found[1] == key
