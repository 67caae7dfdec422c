"""Compressed input and limits: bounded decompression, checksums, the line cap, allocation
failures, and linear sniffing of whitespace before a JSON array.

The memory tests run a child process under an address-space limit (RLIMIT_AS) set just above
what the interpreter has mapped once instructkit is imported, so that a reader that holds
too much fails there with a MemoryError instead of slowing the machine down.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from instructkit import (
    ConfigurationError,
    DataError,
    Instruction,
    InstructkitError,
    ItemReport,
    MalformedJSONError,
    read,
    read_raw,
    read_table,
    write,
)
from instructkit._io._compression import open_source
from instructkit._io._jsonl import CHUNK_SIZE
from instructkit.strategies import instructions

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

LIMITED = pytest.mark.skipif(
    resource is None or not hasattr(resource, "RLIMIT_AS") or not os.path.exists("/proc/self"),
    reason="needs RLIMIT_AS and /proc (Linux)",
)

_PRELUDE = """
import itertools, resource, sys
import orjson, pyarrow, pyarrow.json, zstandard
from instructkit import DataError, read_raw, read_table

def limit(extra_mb):
    with open("/proc/self/status") as status:
        mapped = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (mapped + (extra_mb << 20), resource.RLIM_INFINITY))
"""


def run_limited(code: str, cwd: Path) -> str:
    """Run ``code`` in a child process (after the prelude) and return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bombs")
    # 512 MiB of short rows in about 50 KB of zstd.
    rows = b'{"a": 1}\n' * (1 << 17)
    compress = zstandard.ZstdCompressor(level=3).compressobj()
    parts = [compress.compress(rows) for _ in range((512 << 20) // len(rows))]
    (folder / "rows.jsonl.zst").write_bytes(b"".join([*parts, compress.flush()]))
    # 1 GiB of zero bytes, one endless line, in about 1 MB of gzip (64 members).
    zeros = gzip.compress(b"\0" * (16 << 20), compresslevel=9)
    (folder / "zeros.jsonl.gz").write_bytes(zeros * 64)
    # A JSON array whose first element is a 1 GiB string.
    text = gzip.compress(b"x" * (16 << 20), compresslevel=9)
    (folder / "element.json.gz").write_bytes(gzip.compress(b'[{"a": "') + text * 64)
    return folder


# -- decompression bombs and the line cap, under a memory limit -----------------------------


@LIMITED
def test_a_zstd_bomb_is_decompressed_in_bounded_steps(bombs: Path) -> None:
    out = run_limited(
        """
        limit(128)
        with read_raw("rows.jsonl.zst") as rows:
            print(len(list(itertools.islice(rows, 100_000))))
        """,
        bombs,
    )
    assert out.split() == ["100000"]


@LIMITED
def test_an_endless_line_of_zeros_stops_at_the_line_cap(bombs: Path) -> None:
    out = run_limited(
        """
        limit(128)
        for reader in (read_raw, lambda path, **kw: list(read_table(path, **kw))):
            try:
                list(reader("zeros.jsonl.gz", max_line_bytes=2 << 20))
            except DataError as err:
                print(err.line, err.file, "max_line_bytes=2097152" in err.reason)
        """,
        bombs,
    )
    assert out.splitlines() == ["1 zeros.jsonl.gz True"] * 2


@LIMITED
def test_the_default_line_cap_holds_under_a_memory_limit(bombs: Path) -> None:
    # 1 GiB of one line in 400 MiB of address space: the default cap, 256 MiB, stops it.
    out = run_limited(
        """
        limit(400)
        try:
            list(read_raw("zeros.jsonl.gz", on_error="skip"))
        except DataError as err:
            print(err.line, "max_line_bytes=268435456" in err.reason)
        """,
        bombs,
    )
    assert out.split() == ["1", "True"]


@LIMITED
def test_one_endless_json_array_element_stops_at_the_line_cap(bombs: Path) -> None:
    out = run_limited(
        """
        limit(128)
        try:
            list(read_raw("element.json.gz", max_line_bytes=1 << 20))
        except DataError as err:
            print(err.line, "array element" in err.reason, "max_line_bytes=1048576" in err.reason)
        """,
        bombs,
    )
    assert out.split() == ["1", "True", "True"]


@LIMITED
def test_a_valid_line_that_does_not_fit_in_memory_is_a_memory_error(tmp_path: Path) -> None:
    (tmp_path / "big.jsonl").write_bytes(
        b'{"a": 1}\n{"a": "' + b"x" * (64 << 20) + b'"}\n{"a": 2}\n'
    )
    out = run_limited(
        """
        limit(280)
        try:
            list(read_raw("big.jsonl", on_error="skip", rejects="rejects.jsonl"))
        except MemoryError as err:
            print("MemoryError", "line 2" in str(err))
        """,
        tmp_path,
    )
    assert out.split() == ["MemoryError", "True"]
    assert (tmp_path / "rejects.jsonl").read_bytes() == b""  # the valid line is no reject


# -- the line cap ----------------------------------------------------------------------------


@given(
    lengths=st.lists(st.integers(0, 300), min_size=1, max_size=12),
    cap=st.integers(20, 300),
    suffix=st.sampled_from(["jsonl", "jsonl.gz", "json"]),
)
def test_the_line_cap_rejects_exactly_the_first_line_longer_than_it(
    tmp_path_factory: pytest.TempPathFactory, lengths: list[int], cap: int, suffix: str
) -> None:
    # Rows {"a": "xx..."} of the given lengths, so that some are longer than the cap.
    rows = [b'{"a":"' + b"x" * max(n - 8, 0) + b'"}' for n in lengths]
    if suffix == "json":
        data = b"[\n" + b",\n".join(rows) + b"\n]\n"
        too_long = [i for i, row in enumerate(rows) if len(row) > cap]
        lines = [i + 2 for i in too_long]
    else:
        data = b"\n".join(rows) + b"\n"
        too_long = [i for i, row in enumerate(rows) if len(row) > cap]
        lines = [i + 1 for i in too_long]
        if suffix == "jsonl.gz":
            data = gzip.compress(data)
    path = tmp_path_factory.mktemp("cap") / f"rows.{suffix}"
    path.write_bytes(data)
    if not too_long:
        with read_raw(path, max_line_bytes=cap) as reader:
            assert len(list(reader)) == len(rows)
        return
    # Whatever on_error is: a line cannot be framed past.
    with pytest.raises(DataError) as caught:
        list(read_raw(path, max_line_bytes=cap, on_error="skip"))
    assert caught.value.line == lines[0]
    assert f"max_line_bytes={cap}" in caught.value.reason


def test_the_line_cap_in_read_table_and_read(tmp_path: Path) -> None:
    records = [Instruction(instruction="Say hi.", response="x" * n) for n in (10, 5000, 10)]
    path = write(records, tmp_path / "rows.jsonl.zst").paths[0]
    for reader in (read, read_raw, read_table):
        with pytest.raises(DataError) as caught:
            list(reader(path, max_line_bytes=1000))
        assert (caught.value.line, caught.value.file) == (2, str(path))
    assert read_table(path, max_line_bytes=6000).num_rows == 3


@pytest.mark.parametrize("value", [0, -1, 1.5, "10", True, None])
def test_max_line_bytes_must_be_a_positive_integer(tmp_path: Path, value: Any) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": 1}\n')
    for reader in (read, read_raw, read_table):
        with pytest.raises(ConfigurationError, match="max_line_bytes"):
            reader(path, max_line_bytes=value)


# -- allocation failures ---------------------------------------------------------------------


def _failing_loads(real: Any) -> Any:
    """orjson.loads, except that text over 1000 bytes fails as orjson does without memory."""

    def loads(data: Any) -> Any:
        if len(data) > 1000:
            raise orjson.JSONDecodeError(
                "Not enough memory to allocate buffer for parsing", data.decode(), 0
            )
        return real(data)

    return loads


@pytest.mark.parametrize("suffix", ["jsonl", "json"])
def test_an_allocation_failure_is_a_memory_error_not_a_bad_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    rows = [b'{"a": 1}', b'{"a": "' + b"x" * 5000 + b'"}', b'{"a": 2}']
    data = b"[\n" + b",\n".join(rows) + b"\n]\n" if suffix == "json" else b"\n".join(rows)
    path = tmp_path / f"rows.{suffix}"
    path.write_bytes(data)
    monkeypatch.setattr(orjson, "loads", _failing_loads(orjson.loads))
    rejects = tmp_path / "rejects.jsonl"
    with (
        pytest.raises(MemoryError, match=r"line \d.*allocation failure"),
        read_raw(path, on_error="skip", rejects=rejects) as reader,
    ):
        list(reader)
    assert reader.report.rejected == 0
    assert rejects.read_bytes() == b""


# -- checksums and damage --------------------------------------------------------------------

RECORDS = [Instruction(instruction=f"Question {n}?", response=f"Answer {n}.") for n in range(40)]


def test_zstd_frames_are_written_with_a_content_checksum(tmp_path: Path) -> None:
    data = write(RECORDS, tmp_path / "a.jsonl.zst").paths[0].read_bytes()
    params = zstandard.get_frame_parameters(data)
    assert params.has_checksum
    # Other readers verify it too.
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data))
    assert reader.read().count(b"\n") == len(RECORDS)
    data = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(zstandard.ZstdError, match="checksum"):
        zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()


@pytest.mark.parametrize("suffix", ["jsonl.gz", "jsonl.zst"])
def test_every_single_bit_flip_is_caught_or_harmless(tmp_path: Path, suffix: str) -> None:
    data = write(RECORDS[:8], tmp_path / f"a.{suffix}").paths[0].read_bytes()
    damaged = tmp_path / f"b.{suffix}"
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        damaged.write_bytes(flipped)
        try:
            with read(damaged, on_error="collect") as reader:
                got = list(reader)
        except InstructkitError as err:
            failed: InstructkitError | None = err
        else:
            failed = None
        if failed is not None:
            assert getattr(failed, "file", None) == str(damaged)
            continue
        # Never a record that differs from what was written.
        assert got == RECORDS[: len(got)], bit
        assert got == RECORDS[:8] or reader.report.rejected, bit


def test_a_frame_whose_checksum_flag_was_cleared_is_an_error(tmp_path: Path) -> None:
    data = bytearray(write(RECORDS, tmp_path / "a.jsonl.zst").paths[0].read_bytes())
    data[4] &= ~0x04  # the frame header's checksum flag
    path = tmp_path / "b.jsonl.zst"
    path.write_bytes(data)
    with read(path, on_error="collect") as reader:
        got = list(reader)
    # The checksum that follows is not the start of a frame: the frame is not given out.
    assert got == []
    (rejection,) = reader.report.rejections
    assert isinstance(rejection.error, MalformedJSONError)
    assert (rejection.line, rejection.file) == (1, str(path))
    assert "corrupt zstd data" in rejection.reason
    assert "left out" in rejection.reason


def test_unverified_output_of_a_member_that_ends_early_is_left_out(tmp_path: Path) -> None:
    whole = write(RECORDS, tmp_path / "a.jsonl.gz").paths[0].read_bytes()
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[:-6])  # only the trailer's CRC and length are missing
    with read(path, on_error="collect") as reader:
        assert list(reader) == []
    (rejection,) = reader.report.rejections
    assert "left out" in rejection.reason
    assert "ends early" in rejection.reason


_DAMAGE = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 1 << 20), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 20), st.just(0)),
    st.tuples(st.just("drop"), st.integers(0, 1 << 20), st.integers(1, 16)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.integers(0, 255)),
)


def _damage(data: bytes, damage: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, where, value in damage:
        at = where % (len(out) + 1)
        if kind == "flip" and at < len(out):
            out[at] ^= 1 << value
        elif kind == "set" and at < len(out):
            out[at] = value
        elif kind == "cut":
            del out[at:]
        elif kind == "drop":
            del out[at : at + value]
        elif kind == "insert":
            out[at:at] = bytes([value])
    return bytes(out)


@given(
    records=st.lists(instructions(), min_size=1, max_size=6),
    suffix=st.sampled_from(["jsonl", "jsonl.gz", "jsonl.zst", "json"]),
    damage=st.lists(_DAMAGE, min_size=1, max_size=3),
)
def test_damaged_files_are_located_errors_or_fully_accounted(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[Instruction],
    suffix: str,
    damage: list[tuple[str, int, int]],
) -> None:
    folder = tmp_path_factory.mktemp("damage")
    written = write(records, folder / f"a.{suffix}").paths[0].read_bytes()
    path = folder / f"b.{suffix}"
    path.write_bytes(_damage(written, damage))
    try:
        with read(path, on_error="collect") as reader:
            got = list(reader)
    except InstructkitError as err:
        failed: InstructkitError | None = err
    else:
        failed = None
    if failed is not None:
        assert getattr(failed, "file", None) == str(path)  # located
    else:
        report = reader.report
        assert report.valid + report.rejected + report.blank == report.seen
        assert report.valid == len(got)
        if suffix in ("jsonl.gz", "jsonl.zst"):
            assert got == records[: len(got)]
    if suffix != "json":
        with contextlib.suppress(InstructkitError):  # and nothing else
            read_table(path, on_error="collect")


# -- bounded zstd decompression --------------------------------------------------------------


@given(
    frames=st.lists(
        st.tuples(st.binary(max_size=3000), st.booleans(), st.integers(1, 9), st.booleans()),
        min_size=1,
        max_size=4,
    ),
    read_size=st.integers(1, 5000),
)
def test_zstd_frames_read_back_and_an_early_end_is_noticed_exactly(
    frames: list[tuple[bytes, bool, int, bool]], read_size: int
) -> None:
    # Frames with and without checksums, at several levels, some after a skippable frame.
    parts = []
    for payload, checksum, level, skippable in frames:
        if skippable:
            parts.append((0x184D2A53).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"abc")
        parts.append(
            zstandard.ZstdCompressor(level=level, write_checksum=checksum).compress(payload)
        )
    data = b"".join(parts)
    expected = b"".join(payload for payload, *_ in frames)
    boundaries = {0}
    for part in parts:
        boundaries.add(max(boundaries) + len(part))

    def read_all(blob: bytes) -> tuple[bytes, str | None]:
        source = _open_bytes(blob, "zstd")
        out = []
        while chunk := source.read(read_size):
            out.append(chunk)
        return b"".join(out), source.truncated

    assert read_all(data) == (expected, None)
    for cut in range(0, len(data), max(1, len(data) // 40)):
        got, truncated = read_all(data[:cut])
        assert (truncated is None) == (cut in boundaries), cut
        assert expected.startswith(got)


def _open_bytes(data: bytes, codec: str) -> Any:
    from instructkit._io._compression import _Decompressing

    return _Decompressing(io.BytesIO(data), codec)  # type: ignore[arg-type]


def test_gzip_and_zstd_read_back_through_open_source(tmp_path: Path) -> None:
    payload = b"".join(b'{"n": %d}\n' % n for n in range(200_000))
    for name, blob in (
        ("a.jsonl.gz", gzip.compress(payload)),
        ("a.jsonl.zst", zstandard.ZstdCompressor(write_checksum=True).compress(payload)),
    ):
        (tmp_path / name).write_bytes(blob)
        source = open_source(tmp_path / name, "gzip" if name.endswith("gz") else "zstd")
        try:
            assert b"".join(iter(lambda s=source: s.read(CHUNK_SIZE), b"")) == payload
        finally:
            source.close()


# -- whitespace before a JSON array ----------------------------------------------------------


def test_whitespace_before_a_json_array_is_sniffed_in_linear_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import instructkit._io._reader as io_module

    scanned = 0
    real = io_module.sniff_layout

    def counting(data: bytes, **kwargs: Any) -> Any:
        nonlocal scanned
        scanned += len(data)
        return real(data, **kwargs)

    monkeypatch.setattr(io_module, "sniff_layout", counting)
    record = Instruction(instruction="Hi", response="Hello")
    for size in (1 << 20, 4 << 20):
        scanned = 0
        path = tmp_path / f"ws{size}.json"
        with open(path, "wb") as out:
            out.write(b" \n" * (size // 2))
            out.write(b'[{"instruction": "Hi", "response": "Hello"}]\n')
        with read(path) as reader:
            assert list(reader) == [record]
        # Each byte looked at about once (holding and re-sniffing all of it was quadratic).
        assert scanned <= size + 2 * CHUNK_SIZE, (size, scanned)
    # Line numbers still count the whitespace.
    path.write_bytes(b"\n" * (2 << 20) + b'[{"instruction": ""}]')
    with pytest.raises(DataError) as caught:
        list(read(path, dialect=None))
    assert caught.value.line == (2 << 20) + 1


def test_a_damaged_line_with_keys_inside_an_array_is_an_ordinary_parse_error(
    tmp_path: Path,
) -> None:
    # An object whose opening brace became "[": its "key": pairs sit in an array.
    line = b'["instruction":"0","input":"","response":"' + b"0" * 64 + b'","meta":{}}\n'
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(line)
    report = ItemReport()
    assert list(read(path, on_error="collect", report=report)) == []
    assert (report.seen, report.valid, report.rejected) == (1, 0, 1)
    assert report.rejections[0].line == 1
