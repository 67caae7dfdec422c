"""The shared limits: maximum depth and integer range, the same for every reader and record."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import instructkit as ik
from instructkit._limits import INT_MAX, INT_MIN, MAX_DEPTH, MAX_TEXT_DEPTH

GOOD = b'{"instruction":"a","input":"","response":"b","system":null,"id":null,"meta":{}}\n'


def nest(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def native_line(meta_value: bytes) -> bytes:
    return (
        b'{"instruction":"a","input":"","response":"b","system":null,"id":null,"meta":{"k":'
        + meta_value
        + b"}}"
    )


def deep_text(levels: int) -> bytes:
    return b"[" * levels + b"1" + b"]" * levels


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        return "ok", run()
    except ik.DataError as err:
        return "error", (err.reason, err.loc)


def every_path(line: bytes, meta: Any) -> dict[str, tuple[str, Any]]:
    """What each reader and each record path makes of a native row with ``meta``."""
    row = orjson.loads(line)
    row["meta"] = meta  # the Python value, not what orjson read
    out = {
        "record": _outcome(lambda: ik.Instruction(instruction="a", response="b", meta=meta).meta),
        "parse_row": _outcome(lambda: ik.parse_row(row, dialect="instructkit").meta),
    }
    with tempfile.TemporaryDirectory() as folder:
        jsonl = Path(folder) / "rows.jsonl"
        jsonl.write_bytes(GOOD + line + b"\n")
        array = Path(folder) / "rows.json"
        array.write_bytes(b"[\n" + GOOD[:-1] + b",\n" + line + b"\n]\n")
        out["read"] = _outcome(lambda: list(ik.read(jsonl))[1].meta)
        out["read_array"] = _outcome(lambda: list(ik.read(array))[1].meta)
        out["read_raw"] = _outcome(lambda: list(ik.read_raw(jsonl))[1]["meta"])
        out["read_table"] = _outcome(
            lambda: json.loads(ik.read_table(jsonl).column("meta")[1].as_py())
        )
    return out


def _same_everywhere(line: bytes, meta: Any, accepted: bool) -> None:
    results = every_path(line, meta)
    if accepted:
        assert all(result == ("ok", meta) for result in results.values()), results
    else:
        first = results["record"]
        assert all(result == first for result in results.values()), results
        kind, (_reason, loc) = first
        assert kind == "error", results
        assert loc.startswith("$.meta.k"), results


@settings(max_examples=25)
@given(levels=st.integers(min_value=0, max_value=300))
def test_any_depth_round_trips_or_is_refused_alike_everywhere(levels: int) -> None:
    meta = {"k": nest(levels)}
    # The row is level 1, meta level 2, the value under "k" starts at level 3.
    _same_everywhere(native_line(deep_text(levels)), meta, accepted=levels + 2 <= MAX_DEPTH)


@pytest.mark.parametrize("levels", [MAX_DEPTH - 2, MAX_DEPTH - 1])
def test_depth_at_the_limit(levels: int) -> None:
    _same_everywhere(native_line(deep_text(levels)), {"k": nest(levels)}, levels == MAX_DEPTH - 2)


@settings(max_examples=30)
@given(
    number=st.one_of(
        st.integers(),
        st.integers(min_value=INT_MAX - 2, max_value=INT_MAX + 2),
        st.integers(min_value=INT_MIN - 2, max_value=INT_MIN + 2),
        st.integers(min_value=-(2**200), max_value=2**200),
    )
)
def test_any_integer_round_trips_or_is_refused_alike_everywhere(number: int) -> None:
    meta = {"k": [0, number]}
    line = native_line(b"[0, " + str(number).encode() + b"]")
    _same_everywhere(line, meta, accepted=INT_MIN <= number <= INT_MAX)


def test_a_large_integer_is_refused_with_its_path_and_range(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"q": 1}\n{"q": 123456789012345678901234567890}\n')
    with pytest.raises(ik.DataError) as caught:
        list(ik.read_raw(path))
    assert caught.value.loc == "$.q"
    assert caught.value.line == 2
    assert "123456789012345678901234567890" in caught.value.reason
    assert str(INT_MAX) in caught.value.reason
    # A float of that size, and digits in text, are not integers: kept as they are.
    path.write_bytes(b'{"q": 1.2345678901234567e29, "t": "123456789012345678901234567890"}\n')
    assert list(ik.read_raw(path)) == [
        {"q": 1.2345678901234567e29, "t": "123456789012345678901234567890"}
    ]


@pytest.mark.parametrize("levels", [200, 300, 1_000, 1_100])
@pytest.mark.parametrize("reader", ["read", "read_raw", "read_table", "read_array"])
def test_deep_lines_are_bad_lines_not_crashes(tmp_path: Path, levels: int, reader: str) -> None:
    # orjson reads 1,024 levels but writes 254: lines in between used to escape as TypeError.
    path = tmp_path / ("rows.json" if reader == "read_array" else "rows.jsonl")
    line = native_line(deep_text(levels))
    if reader == "read_array":
        path.write_bytes(b"[" + GOOD[:-1] + b",\n" + line + b"]\n")
    else:
        path.write_bytes(GOOD + line + b"\n")
    run = {
        "read": lambda **kw: list(ik.read(path, **kw)),
        "read_array": lambda **kw: list(ik.read(path, **kw)),
        "read_raw": lambda **kw: list(ik.read_raw(path, **kw)),
        "read_table": lambda **kw: ik.read_table(path, **kw).to_pylist(),
    }[reader]
    with pytest.raises(ik.DataError) as caught:
        run()
    assert caught.value.line == 2
    assert caught.value.loc == "$.meta.k" + "[0]" * (MAX_DEPTH - 2)
    report = ik.ItemReport()
    assert len(run(on_error="skip", report=report)) == 1
    assert (report.valid, report.rejected) == (1, 1)


def test_read_table_does_not_crash_on_lines_deeper_than_pyarrow_can_parse(tmp_path: Path) -> None:
    # 20,000 levels overflowed the stack of pyarrow's JSON parser and killed the process;
    # run in a child process so that a crash fails this test instead of the whole run.
    path = tmp_path / "rows.jsonl"
    path.write_bytes(GOOD + native_line(deep_text(20_000)) + b"\n")
    script = textwrap.dedent(
        f"""
        import instructkit as ik
        try:
            ik.read_table({str(path)!r})
        except ik.DataError as err:
            print(err.loc[:11], err.line)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [b"$.meta.k[0]", b"2"]


def test_read_table_locates_a_key_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(GOOD + GOOD[:-2] + b',"\xff":1}\n')
    with pytest.raises(ik.MalformedJSONError) as caught:
        ik.read_table(path)
    assert caught.value.line == 2
    assert "ff" in caught.value.reason
    report = ik.ItemReport()
    assert ik.read_table(path, on_error="skip", report=report).num_rows == 1
    assert report.rejected == 1


def test_parse_row_refuses_deep_python_values_without_recursion_error() -> None:
    row = orjson.loads(GOOD)
    row["meta"] = {"k": nest(5_000)}
    with pytest.raises(ik.DataError) as caught:
        ik.parse_row(row, dialect="instructkit")
    assert caught.value.loc == "$.meta.k" + "[0]" * (MAX_DEPTH - 2)


def test_the_deepest_meta_writes_and_reads_back_in_every_format(tmp_path: Path) -> None:
    record = ik.Instruction(instruction="a", response="b", meta={"k": nest(MAX_DEPTH - 2)})
    for name in ["a.jsonl", "a.json", "a.jsonl.gz", "a.parquet"]:
        ik.write([record], tmp_path / name)
        assert list(ik.read(tmp_path / name)) == [record], name
    assert json.loads(ik.read_table(tmp_path / "a.jsonl").column("meta")[0].as_py()) == record.meta
    with pytest.raises(ik.RecordValidationError):
        ik.Instruction(instruction="a", response="b", meta={"k": nest(MAX_DEPTH - 1)})


def _call_with_arguments(levels: int) -> ik.Conversation:
    arguments = json.dumps({"x": nest(levels - 1)})
    return ik.Conversation(
        messages=[
            {"role": "user", "content": "Go."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "name": "f", "arguments": arguments}],
            },
            {"role": "tool", "content": "done", "tool_call_id": "c1"},
        ]
    )


@pytest.mark.parametrize("dialect", [None, "openai", "trl"])
def test_the_deepest_tool_arguments_write_and_read_back(tmp_path: Path, dialect: str) -> None:
    # Dialects write arguments as JSON values several levels down their rows (TRL), so the
    # text a record keeps is held to a smaller depth that leaves room for them.
    record = _call_with_arguments(MAX_TEXT_DEPTH)
    path = tmp_path / "a.jsonl"
    ik.write([record], path, dialect=dialect)
    (back,) = ik.read(path, dialect=dialect or "instructkit")
    assert back.messages[1].tool_calls[0].parsed_arguments == (
        record.messages[1].tool_calls[0].parsed_arguments
    )
    with pytest.raises(ik.RecordValidationError) as caught:
        _call_with_arguments(MAX_TEXT_DEPTH + 1)
    assert caught.value.loc == "$.messages[1].tool_calls[0].arguments"
    assert f"at most {MAX_TEXT_DEPTH} levels" in caught.value.reason


def test_tool_arguments_with_a_large_integer_are_refused() -> None:
    with pytest.raises(ik.RecordValidationError) as caught:
        ik.ToolCall(id="c1", name="f", arguments='{"n": 123456789012345678901234567890}')
    assert caught.value.loc == "$.arguments"
    assert "at $.n inside the text" in caught.value.reason


def test_rows_beyond_the_limits_do_not_decide_the_dialect(tmp_path: Path) -> None:
    # Sampled, the row made detection fail for the whole file, whatever on_error said.
    path = tmp_path / "rows.jsonl"
    path.write_bytes(
        b'{"instruction": "a", "input": "", "output": "b", "x": ' + deep_text(1_000) + b"}\n"
    )
    with ik.read(path, on_error="skip") as reader:
        assert list(reader) == []
    assert reader.report.rejected == 1


_OPENERS = 8192  # instructkit._io._table._PYARROW_SAFE_OPENERS


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from([b"{", b"[", b"x", b"[x"]),
            st.sampled_from([0, 1, 4095, 4096, 4097, 8191, 8192, 8193, 20_000]),
        ),
        max_size=6,
    ),
    final_newline=st.booleans(),
    chunk=st.sampled_from([1 << 12, 1 << 13, 1 << 14, 1 << 22]),
    compression=st.sampled_from(["", ".gz"]),
)
def test_the_depth_guard_scan_finds_exactly_the_lines_with_too_many_openers(
    lines: list[tuple[bytes, int]], final_newline: bool, chunk: int, compression: str
) -> None:
    # The scan before pyarrow's JSON reader only measures lines long enough to matter and
    # refills one buffer in chunks: lines across chunk boundaries, at window edges and at the
    # end of the file without a newline must all be measured as the plain definition would.
    import gzip

    from instructkit._io import _table

    data = b"\n".join(piece * (size // len(piece)) for piece, size in lines)
    data += b"\n" if final_newline and data else b""
    expected = all(line.count(b"[") + line.count(b"{") <= _OPENERS for line in data.split(b"\n"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"rows.jsonl{compression}"
        path.write_bytes(gzip.compress(data) if compression else data)
        default = _table._SCAN_CHUNK
        _table._SCAN_CHUNK = chunk
        try:
            assert _table._fits_pyarrow(str(path), 1 << 28) is expected
        finally:
            _table._SCAN_CHUNK = default
