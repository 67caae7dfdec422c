r"""JSON Lines: framing, parsing with located errors, duplicate-key detection, and writing.

Shared by the JSONL and JSON readers (:mod:`instructkit._io._json` uses the error and
duplicate-key helpers) and by :mod:`instructkit._io._reader`.

Framing. A file is read in binary chunks of 256 KiB (decompressed on the fly for ``.gz`` and
``.zst``) and split on ``b"\n"`` only, never with :meth:`str.splitlines`, because JSON text
may legally hold U+2028, U+2029 and U+0085 unescaped (orjson writes them raw). A line keeps
any ``\r`` before its ``\n`` (JSON treats it as whitespace). A UTF-8 byte order mark at the
very start of the file is skipped (and not part of line 1's raw bytes; byte offsets still
count it). A line holding only spaces, tabs and ``\r`` is *blank*: counted, never an error.
The last line needs no ``\n``. Memory is bounded by the chunk size plus the longest line,
and a line may be at most ``max_line_bytes`` long (:data:`MAX_LINE_BYTES`, 256 MiB, by
default): a longer one raises a located :class:`~instructkit.DataError` before it is held
whole, so that one endless line (a gigabyte of decompressed zeros, say) cannot take all
memory.

Each line becomes ``(line_number, raw_bytes, value)`` where ``value`` is the parsed JSON,
:data:`BLANK`, or a :class:`~instructkit.MalformedJSONError` (located: file, line, column
in characters, byte offset in the decompressed stream), or a
:class:`~instructkit.DataError` for JSON beyond the limits of :mod:`instructkit._limits`
(nested too deep, an integer beyond 64 bits; located by JSON path and line). Errors are
values here, not raised, so the caller applies its ``on_error`` policy.

Duplicate keys. orjson, like most parsers, silently keeps the last of two equal keys in an
object. Every parsed line is checked, cheaply: a line that is byte-for-byte the canonical
``orjson.dumps`` of its value cannot hold a repeated key (the dump of a value with a dropped
key is shorter), and neither can a line that holds no more ``:`` bytes than the parsed value
has keys (each key needs a ``:`` outside strings). Only lines that pass neither test (text
with colons in a non-canonical file) are scanned exactly, by a small tokenizer that also
locates the repeated key (JSON path, column, offset).
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any, BinaryIO, Final

import orjson

from instructkit._errors import ConfigurationError, DataError, MalformedJSONError, format_loc
from instructkit._io._paths import Compression
from instructkit._limits import limit_in_bytes, limit_in_value

__all__ = [
    "BLANK",
    "CHUNK_SIZE",
    "MAX_LINE_BYTES",
    "LineChunk",
    "check_max_line_bytes",
    "duplicate_key_error",
    "failed_line",
    "has_duplicate_keys",
    "iter_jsonl",
    "iter_line_chunks",
    "limit_error",
    "line_too_long",
    "malformed_error",
    "open_compressed_writer",
    "open_source",
    "parse_error",
    "read_start",
    "record_limit_error",
    "skip_to",
    "truncated_reason",
    "truncation_error",
    "write_jsonl_lines",
]

CHUNK_SIZE: Final = 1 << 18
"""Bytes read (after decompression) per chunk: 256 KiB (the lines of a chunk stay in cache)."""

MAX_LINE_BYTES: Final = 1 << 28
"""The default ``max_line_bytes`` of the readers: 256 MiB, the longest line (or JSON array
element) they hold in memory."""

_BOM: Final = b"\xef\xbb\xbf"
_BLANK_BYTES: Final = b" \t\r"


class _Blank:
    __slots__ = ()

    def __repr__(self) -> str:
        return "BLANK"


BLANK: Final = _Blank()
"""The value :func:`iter_jsonl` gives for a blank line."""


# -- compression ---------------------------------------------------------------------------


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        raise ConfigurationError(
            "expected the optional 'zstandard' package for .zst files, got it missing "
            "(pip install 'instructkit[zstd]')"
        ) from None
    return zstandard


_OUTPUT_STEP: Final = 1 << 20
# The most decompressed bytes one decompression call may produce. Compressed data can expand
# a thousandfold (gzip) or far more (zstd), so feeding a decompressor a whole read of input at
# once lets 16 KB of input become gigabytes in one call; bounded steps keep memory at the
# caller's read size plus this, whatever the ratio.

_VERIFY_HOLD: Final = 1 << 22
# Decompressed bytes of a gzip member or zstd frame held back until its checksum (gzip's
# CRC-32, zstd's content checksum) is verified: 4 MiB. Damaged data often still decompresses,
# into different valid-looking rows, and the checksum at the member's end is the only thing
# that tells; holding the member's output back means such rows are never given out. A
# member larger than this is released unverified as it goes, so that memory stays bounded
# (the checksum still fails at its end, with an error).

_ZSTD_MAGIC: Final = 0xFD2FB528
_ZSTD_MAGIC_BYTES: Final = _ZSTD_MAGIC.to_bytes(4, "little")
_ZSTD_SKIPPABLE: Final = 0x184D2A50  # the 16 magic numbers 0x184D2A50 to 0x184D2A5F
_ZSTD_BLOCK_MAX: Final = 1 << 17  # no block decompresses to more than 128 KiB


class _ZstdFrames:
    """Cuts a Zstandard stream into pieces whose decompressed size is bounded.

    ``zstandard``'s decompression object has no output limit (unlike ``zlib``'s
    ``max_length``), so the bound comes from the format itself: a frame is a header, blocks
    that each decompress to at most 128 KiB and whose 3-byte headers give their compressed
    size, then an optional checksum. Walking those headers (never the block contents) gives
    pieces of input of at most about :data:`_OUTPUT_STEP` bytes of output, each within one
    frame, and tells exactly whether the input ended between frames. Skippable frames are
    dropped here. Anything that is not a frame goes to the decompressor, which names the
    problem.
    """

    def __init__(self) -> None:
        self._data = bytearray()
        self._state = "magic"  # magic | block | body | checksum | skip
        self._left = 0  # bytes still to pass of the current block body, checksum or skip
        self._last = False  # the current block is its frame's last
        self._checksum = False  # the current frame ends with a checksum

    def add(self, data: bytes) -> None:
        """Append compressed input."""
        self._data += data

    @property
    def checksummed(self) -> bool:
        """Whether the frame read last (or being read) ends with a content checksum."""
        return self._checksum

    @property
    def in_frame(self) -> bool:
        """Whether the input so far stops inside a frame (or holds bytes not yet taken)."""
        return self._state != "magic" or bool(self._data)

    def take(self) -> tuple[bytes, bool] | None:
        """The next piece of input, and whether it ends a frame; ``None`` to ask for more."""
        data = self._data
        at = 0
        budget = _OUTPUT_STEP
        ends_frame = False
        while True:
            state = self._state
            if state == "skip":
                count = min(self._left, len(data))
                del data[:count]
                self._left -= count
                if self._left:
                    break
                self._state = "magic"
            elif state == "magic":
                if at or len(data) < 4:
                    break  # a piece never spans two frames
                magic = int.from_bytes(data[:4], "little")
                if magic & 0xFFFFFFF0 == _ZSTD_SKIPPABLE:
                    if len(data) < 8:
                        break
                    self._left = int.from_bytes(data[4:8], "little")
                    del data[:8]
                    self._state = "skip"
                    continue
                if magic != _ZSTD_MAGIC:
                    at = len(data)  # not a frame: the decompressor says what is wrong
                    break
                if len(data) < 5:
                    break
                descriptor = data[4]
                single = descriptor & 0x20
                size = (
                    6
                    - (1 if single else 0)
                    + (0, 1, 2, 4)[descriptor & 3]
                    + ((1 if single else 0), 2, 4, 8)[descriptor >> 6]
                )
                if len(data) < size:
                    break
                at = size
                self._checksum = bool(descriptor & 4)
                self._state = "block"
            elif state == "block":
                if len(data) < at + 3:
                    break
                header = int.from_bytes(data[at : at + 3], "little")
                kind = (header >> 1) & 3
                size = header >> 3
                bound = size if kind < 2 else _ZSTD_BLOCK_MAX  # raw and RLE: size is the output
                if bound > budget and budget < _OUTPUT_STEP:
                    break  # the next piece starts with this block
                budget -= bound
                at += 3
                self._last = bool(header & 1)
                self._left = 1 if kind == 1 else size  # an RLE block holds its one byte
                self._state = "body"
            else:  # body or checksum: pass bytes through
                count = min(self._left, len(data) - at)
                at += count
                self._left -= count
                if self._left:
                    break
                if state == "body" and not self._last:
                    self._state = "block"
                elif state == "body" and self._checksum:
                    self._left = 4
                    self._state = "checksum"
                else:
                    self._state = "magic"
                    ends_frame = True
                    break
        if not at:
            return None
        piece = bytes(data[:at])
        del data[:at]
        return piece, ends_frame


class _Decompressing:
    """A decompressing reader that notices a stream that ends early or is damaged.

    Both ``gzip`` and ``zstandard``'s own readers fall short here: ``gzip`` raises at the
    end and drops what it had decompressed in the same call, and ``zstandard``'s stream
    reader returns a short read without any error. Decompressing member by member (frame by
    frame) keeps every byte that decompressed and tells an early end from a normal one.
    Each decompression call makes at most about :data:`_OUTPUT_STEP` bytes, so a small file
    that expands enormously (a decompression bomb) costs time, never memory. A member's output
    is given out only once its checksum is verified (gzip's CRC-32; zstd's content checksum,
    which :func:`open_compressed_writer` writes), up to :data:`_VERIFY_HOLD` bytes; the output
    of a member that ends early or fails its check is dropped, never given out. A zstd frame
    without a checksum is given out once the next frame or the end of the file shows that it
    was written that way.
    """

    def __init__(self, raw: BinaryIO, codec: Compression) -> None:
        self._raw = raw
        self._codec = codec
        self._frames: _ZstdFrames | None = None
        if codec == "zstd":
            self._zstd = _zstandard()
            self._errors: tuple[type[Exception], ...] = (self._zstd.ZstdError,)
            self._frames = _ZstdFrames()
        else:
            self._errors = (zlib.error,)
        self._obj = self._new()
        self._in_member = False
        self._input = b""  # gzip input read but not yet decompressed
        self._buffer = bytearray()  # verified output, to give out
        self._held = bytearray()  # output of the current member, not yet verified
        self._done = False
        self.truncated: str | None = None

    def _new(self) -> Any:
        if self._codec == "zstd":
            return self._zstd.ZstdDecompressor().decompressobj()
        return zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size and not self._done:
            try:
                if self._step():
                    continue
                data = self._raw.read(1 << 16)
                if not data:
                    self._done = True
                    in_member = self._in_member if self._frames is None else self._frames.in_frame
                    if in_member:
                        self.truncated = f"the {self._codec} stream ends early{self._dropped()}"
                    else:  # a frame without a checksum, and nothing after it
                        self._release(verified=True)
                    break
                if self._frames is None:
                    self._input = data
                else:
                    self._frames.add(data)
            except self._errors as err:
                self._done = True
                self.truncated = f"corrupt {self._codec} data ({err}){self._dropped()}"
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def _dropped(self) -> str:
        """Drop the unverified output of the member that failed; say so, if there was any."""
        count = len(self._held)
        self._held.clear()
        if not count:
            return ""
        return (
            f"; {count} decompressed bytes of its last part, which no checksum vouched for, "
            "were left out"
        )

    def _release(self, *, verified: bool) -> None:
        """Give out the held output: once verified, or when there is too much to hold."""
        if verified or len(self._held) > _VERIFY_HOLD:
            self._buffer += self._held
            self._held.clear()

    def _step(self) -> bool:
        """Decompress one bounded step of the input at hand; ``False`` if it needs more."""
        if self._frames is not None:
            taken = self._frames.take()
            if taken is None:
                return False
            piece, ends_frame = taken
            if self._held and piece.startswith(_ZSTD_MAGIC_BYTES):
                # Held output of a whole frame without a checksum, now followed by another
                # frame: the frame was meant to have none. Had a damaged bit cleared its
                # checksum flag, its checksum would follow instead, and fail as a frame.
                self._release(verified=True)
            self._held += self._obj.decompress(piece)
            if ends_frame:
                if not self._obj.eof:
                    raise self._zstd.ZstdError("a frame ends before its last block")
                self._obj = self._new()
            self._release(verified=ends_frame and self._frames.checksummed)
            return True
        data = self._input
        if not self._in_member:
            # Zero bytes may pad a gzip file after (or between) members.
            data = data.lstrip(b"\0")
        if not data:
            self._input = b""
            return False
        self._in_member = True
        self._held += self._obj.decompress(data, _OUTPUT_STEP)
        ended = self._obj.eof  # its CRC-32 and length checked
        if ended:
            # One member done; whatever follows starts the next one.
            self._input = self._obj.unused_data
            self._obj = self._new()
            self._in_member = False
        else:
            self._input = self._obj.unconsumed_tail
        self._release(verified=ended)
        return True

    def close(self) -> None:
        self._raw.close()


def open_source(path: str | os.PathLike[str], compression: Compression | None) -> Any:
    """Open ``path`` for reading decompressed bytes (an object with ``read`` and ``close``).

    A compressed stream that ends early or is damaged does not raise: reads return ``b""``
    from there on and the reader's ``truncated`` attribute says what went wrong (see
    :func:`truncated_reason`).
    """
    raw = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if compression is None:
        return raw
    try:
        return _Decompressing(raw, compression)
    except BaseException:
        raw.close()
        raise


class _ZstdWriter:
    def __init__(self, raw: BinaryIO, level: int | None) -> None:
        zstd = _zstandard()
        # A content checksum per frame: without one, a damaged byte in a block often still
        # decompresses, into different valid-looking rows.
        compressor = zstd.ZstdCompressor(level=3 if level is None else level, write_checksum=True)
        self._raw = raw
        self._stream = compressor.stream_writer(raw, closefd=False)

    def write(self, data: bytes) -> int:
        written: int = self._stream.write(data)
        return written

    def writelines(self, lines: Iterable[bytes]) -> None:
        for line in lines:
            self._stream.write(line)

    def close(self) -> None:
        # Ends the frame; the raw file stays open for the atomic writer to fsync.
        self._stream.close()


def open_compressed_writer(
    raw: BinaryIO, compression: Compression | None, level: int | None = None
) -> Any:
    """Wrap ``raw`` in a deterministic compressor (no time stamp or name in gzip headers).

    The returned object has ``write``, ``writelines`` and ``close``; closing it finishes the
    compressed stream but leaves ``raw`` open.
    """
    if compression is None:
        return _Uncompressed(raw)
    if compression == "gzip":
        # mtime=0 and an empty name keep the bytes identical from run to run.
        return gzip.GzipFile(
            filename="",
            fileobj=raw,
            mode="wb",
            compresslevel=6 if level is None else level,
            mtime=0,
        )
    return _ZstdWriter(raw, level)


class _Uncompressed:
    def __init__(self, raw: BinaryIO) -> None:
        self.write = raw.write
        self.writelines = raw.writelines

    def close(self) -> None:
        pass


# -- errors --------------------------------------------------------------------------------


def _chars(data: bytes) -> int:
    return len(data.decode("utf-8", "replace"))


def position(raw: bytes, byte_pos: int, line: int, column0: int) -> tuple[int, int]:
    """The (line, 1-based column) of ``raw[byte_pos]`` when ``raw[0]`` is at ``line``, ``column0``.

    ``column0`` is the number of characters before ``raw`` on its first line.
    """
    newlines = raw.count(b"\n", 0, byte_pos)
    if newlines:
        start = raw.rfind(b"\n", 0, byte_pos) + 1
        return line + newlines, _chars(raw[start:byte_pos]) + 1
    return line, column0 + _chars(raw[:byte_pos]) + 1


def _snippet(text: str) -> str:
    return repr(text[:24] + ("..." if len(text) > 24 else ""))


def malformed_error(
    raw: bytes,
    err: ValueError | None,
    *,
    file: str | None,
    line: int,
    offset: int,
    column0: int = 0,
) -> MalformedJSONError:
    """A located :class:`~instructkit.MalformedJSONError` for bytes orjson could not parse.

    Args:
        raw: The bytes given to the parser (a line, or a JSON array's element).
        err: orjson's error, or ``None`` to diagnose from ``raw`` alone.
        file: The file name, for the message.
        line: The line on which ``raw`` starts.
        offset: The byte offset of ``raw[0]`` in the (decompressed) file.
        column0: Characters before ``raw`` on its first line.

    Returns:
        The error, with ``column`` (characters, 1-based) and ``offset`` of the problem.

    Raises:
        MemoryError: orjson failed for want of memory, not because of the bytes.
    """
    failure = str(getattr(err, "msg", ""))
    if "memory" in failure.lower():
        # orjson reports a failed allocation as a decode error. The text may well be valid,
        # so it must not be counted as bad data, nor copied into a rejects file.
        place = f"{file}, line {line}" if file is not None else f"line {line}"
        raise MemoryError(
            f"expected enough memory to parse {len(raw)} bytes of JSON ({place}), got an "
            f"allocation failure ({failure}); the data is not known to be bad: read it again "
            "with more memory available"
        ) from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as uerr:
        at = uerr.start
        bad = raw[uerr.start : uerr.end]
        if line == 1 and offset == 0 and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            reason = "expected UTF-8 text, got a UTF-16 byte order mark (save the file as UTF-8)"
        else:
            reason = f"expected UTF-8 text, got invalid byte(s) {bad.hex(' ')}"
        where, column = position(raw, at, line, column0)
        return MalformedJSONError(reason, file=file, line=where, column=column, offset=offset + at)
    pos = getattr(err, "pos", 0) or 0
    message = str(getattr(err, "msg", err or "not JSON"))
    rest = text[pos:]
    if message.startswith(("unexpected end of data", "EOF while parsing")) or (
        "empty" in message and not text.strip(" \t\r\n")
    ):
        reason = "expected a complete JSON value, got the end of the data (is it truncated?)"
    elif rest.startswith(("NaN", "Infinity")) or text[max(pos - 1, 0) :].startswith("-Infinity"):
        word = "NaN" if rest.startswith("NaN") else "Infinity"
        reason = f"expected a JSON value, got {word} (NaN and Infinity are not JSON)"
    elif "after document" in message or "trailing" in message:
        reason = f"expected one JSON value, got more content after it: {_snippet(rest)}"
    elif text.lstrip(" \t").startswith("\ufeff"):
        reason = "expected JSON, got a byte order mark (U+FEFF) at the start of the line"
    else:
        reason = f"expected valid JSON, got {_snippet(rest)} ({message})"
    at = len(text[:pos].encode("utf-8"))
    where, column = position(raw, at, line, column0)
    return MalformedJSONError(reason, file=file, line=where, column=column, offset=offset + at)


def limit_error(
    raw: bytes,
    *,
    file: str | None,
    line: int,
    canonical: bool = False,
) -> DataError | None:
    """The located error for JSON text nested too deep or holding a too large integer.

    Every reader calls this on every line (array element) before anything else handles the
    parsed value, so the limits of :mod:`instructkit._limits` hold for whatever a reader
    gives out, and past them each reader raises this same error.

    Args:
        raw: The bytes of the line or element (valid JSON or not).
        file: The file name, for the message.
        line: The line on which ``raw`` starts.
        canonical: ``raw`` is orjson's rendering of what it parsed to (see
            :func:`~instructkit._limits.limit_in_bytes`).

    Returns:
        The error (a :class:`~instructkit.DataError` at the JSON path, with the line on which
        the row starts), or ``None`` when ``raw`` is within the limits.
    """
    found = limit_in_bytes(raw, canonical=canonical)
    if found is None:
        return None
    path, reason, _at = found
    # The line the row starts on, as for an invalid record: the path says where inside.
    return DataError(reason, loc=format_loc(path), file=file, line=line)


def record_limit_error(
    raw: bytes, record: Any, *, file: str | None, line: int, canonical: bool
) -> DataError | None:
    """:func:`limit_error` for a line the fast path built ``record`` from, at less cost.

    Such a record's only open-ended part is ``meta``, so the depth is checked on it (usually
    empty) rather than by counting brackets over the whole line; a canonical line holds no
    integer beyond 64 bits, and any other line is checked in full. The error is the one
    :func:`limit_error` gives.
    """
    meta = record.meta
    beyond = limit_in_value(meta, start=1) if meta else None
    if beyond is not None:
        path, reason = beyond
        return DataError(reason, loc=format_loc(("meta", *path)), file=file, line=line)
    if canonical:
        return None
    return limit_error(raw, file=file, line=line)


def parse_error(
    raw: bytes,
    err: ValueError | None,
    *,
    file: str | None,
    line: int,
    offset: int,
    column0: int = 0,
) -> DataError:
    """What bytes orjson could not parse are: too deep for the limits, or malformed.

    orjson stops at 1,024 levels with a parse error; past :data:`~instructkit._limits.MAX_DEPTH`
    the limit's own error is the one to give, the same as for shallower text.
    """
    beyond = limit_error(raw, file=file, line=line)
    if beyond is not None:
        return beyond
    return malformed_error(raw, err, file=file, line=line, offset=offset, column0=column0)


# -- duplicate keys ------------------------------------------------------------------------

_TOKEN: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],:]', re.DOTALL)
_COLON: Final = ord(":")
_QUOTE: Final = ord('"')
_COMMA: Final = ord(",")
_OPEN_OBJECT: Final = ord("{")
_OPEN_ARRAY: Final = ord("[")


def _key_text(token: bytes) -> str:
    if b"\\" not in token:
        return token[1:-1].decode("utf-8", "surrogateescape")
    # Two spellings of one key ("a" and "\u0061") are still the same key.
    value: str = orjson.loads(token)
    return value


def locate_duplicate_key(text: bytes) -> tuple[tuple[str | int, ...], str, int] | None:
    """Find the first object key that repeats in ``text``, which must be valid JSON.

    Returns:
        ``(path_of_the_object, key, byte_position_of_the_second_occurrence)``, or ``None``.
    """
    # Each frame: [is_object, path, keys_seen, current_key_or_index]
    stack: list[list[Any]] = []
    last_string = b""
    last_start = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first == _QUOTE:
            last_string, last_start = token, match.start()
        elif first == _COLON:
            frame = stack[-1]
            key = _key_text(last_string)
            if key in frame[2]:
                return tuple(frame[1]), key, last_start
            frame[2].add(key)
            frame[3] = key
        elif first == _COMMA:
            frame = stack[-1]
            if not frame[0]:
                frame[3] += 1
        elif first in (_OPEN_OBJECT, _OPEN_ARRAY):
            path = (*stack[-1][1], stack[-1][3]) if stack else ()
            stack.append([first == _OPEN_OBJECT, path, set(), 0])
        else:
            stack.pop()
    return None


def _count_keys(value: Any) -> int:
    count = 0
    if type(value) is dict:
        count = len(value)
        items: Iterable[Any] = value.values()
    else:
        items = value
    for item in items:
        kind = type(item)
        if kind is dict or kind is list:
            count += _count_keys(item)
    return count


def has_duplicate_keys(raw: bytes, value: Any, *, canonical_known: bool = False) -> bool:
    """Whether the JSON text ``raw``, which parsed to ``value``, repeats a key in an object.

    Cheap sound tests first (see the module docstring), the exact scan only when they fail.

    Args:
        raw: The JSON text.
        value: What orjson parsed it to.
        canonical_known: The caller has already found that ``raw`` is not
            ``orjson.dumps(value)``, so that test is skipped.

    Example:
        >>> import orjson
        >>> raw = b'{"a": 1, "a": 2}'
        >>> has_duplicate_keys(raw, orjson.loads(raw))
        True
    """
    kind = type(value)
    if kind is not dict and kind is not list:
        return False
    # orjson's rendering of a value that lost a repeated key is shorter than the text, so
    # equality rules repeats out: one comparison, and it settles every line instructkit
    # wrote. Otherwise every key needs a ":" outside strings, so a text with no more colons
    # than its value has keys cannot repeat one.
    if not canonical_known and raw == orjson.dumps(value):
        return False
    # Counting by deletion uses memchr, about twice as fast as bytes.count here.
    colons = len(raw) - len(raw.replace(b":", b""))
    if kind is dict and colons <= len(value):
        return False
    if colons <= _count_keys(value):
        return False
    return locate_duplicate_key(raw) is not None


def duplicate_key_error(
    raw: bytes, *, file: str | None, line: int, offset: int, column0: int = 0
) -> MalformedJSONError:
    """The located error for ``raw``, which :func:`has_duplicate_keys` found to repeat a key."""
    found = locate_duplicate_key(raw)
    assert found is not None
    path, key, at = found
    where, column = position(raw, at, line, column0)
    return MalformedJSONError(
        f"expected each key once per JSON object, got {key!r} a second time "
        "(a JSON parser would silently keep only the last value)",
        loc=format_loc((*path, key)),
        file=file,
        line=where,
        column=column,
        offset=offset + at,
    )


# -- reading -------------------------------------------------------------------------------


def check_max_line_bytes(value: object) -> int:
    """Check a reader's ``max_line_bytes`` keyword: a positive integer.

    Raises:
        ConfigurationError: anything else.
    """
    if type(value) is not int or value < 1:
        raise ConfigurationError(
            f"expected max_line_bytes to be a positive integer (bytes), got {value!r}"
        )
    return value


def line_too_long(
    *, limit: int, file: str | None, line: int, offset: int, what: str = "line"
) -> DataError:
    """The error for a line (or other unit of text, ``what``) longer than ``limit`` bytes.

    Args:
        limit: The ``max_line_bytes`` in force.
        file: The file name.
        line: The line on which the long text starts.
        offset: The byte offset of its start in the (decompressed) file.
        what: What is too long, for the message.
    """
    return DataError(
        f"expected each {what} to be at most max_line_bytes={limit} bytes, got a longer one "
        f"starting at byte {offset} (raise max_line_bytes= to read it, if the memory is there)",
        file=file,
        line=line,
    )


def truncated_reason(source: Any) -> str | None:
    """Why a source from :func:`open_source` stopped early, or ``None`` if it did not."""
    reason: str | None = getattr(source, "truncated", None)
    return reason


def read_start(source: Any) -> bytes:
    """Read the first chunk of ``source``: at least 3 bytes unless the file is shorter."""
    # The byte order mark check needs three bytes; a decompressor may return fewer at first.
    data: bytes = source.read(CHUNK_SIZE)
    while data and len(data) < 3:
        more = source.read(CHUNK_SIZE)
        if not more:
            break
        data += more
    return data


class LineChunk:
    r"""Consecutive lines of a file, as :func:`iter_line_chunks` gives them.

    Attributes:
        lines: The lines, each without its ``
    ``.
        first_line: The 1-based number of ``lines[0]``.
        offset: The byte offset of ``lines[0]`` in the (decompressed) file.
        truncated: For the last chunk of a compressed stream that ends early or is damaged,
            what went wrong (``lines`` then holds the incomplete last line, maybe empty).
    """

    __slots__ = ("_index", "_offset", "first_line", "lines", "offset", "truncated")

    def __init__(
        self, lines: list[bytes], first_line: int, offset: int, truncated: str | None = None
    ) -> None:
        self.lines = lines
        self.first_line = first_line
        self.offset = offset
        self.truncated = truncated
        self._index = 0
        self._offset = offset

    def offset_of(self, line: int) -> int:
        """The byte offset of line number ``line`` (of this chunk)."""
        # Asked for in line order (errors), so walking on from the last answer is linear.
        target = line - self.first_line
        if target < self._index:
            self._index, self._offset = 0, self.offset
        while self._index < target:
            self._offset += len(self.lines[self._index]) + 1
            self._index += 1
        return self._offset


def iter_line_chunks(
    source: Any,
    *,
    first_chunk: bytes | None = None,
    chunk_size: int = CHUNK_SIZE,
    file: str | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    first_line: int = 1,
    start: int = 0,
) -> Iterator[LineChunk]:
    r"""Split a byte stream into lines on ``b"\n"``, a large chunk at a time.

    A UTF-8 byte order mark at the very start is dropped (offsets still count it). The last
    line needs no ``\n``. A line longer than a chunk is gathered in pieces and joined once.

    Args:
        source: An object with ``read(size) -> bytes`` (see :func:`open_source`).
        first_chunk: Bytes already read from ``source``, to use first.
        chunk_size: Bytes per read.
        file: The file name, for the error about a line that is too long.
        max_line_bytes: The longest line allowed (without its ``\n``).
        first_line: The number of the first line (a resumed read starts after line 1).
        start: The byte offset in the file of the stream's first byte (see
            :func:`skip_to`); only a stream from the file's start may begin with a byte
            order mark.

    Yields:
        :class:`LineChunk` objects, in file order.

    Raises:
        DataError: a line is longer than ``max_line_bytes``; raised as soon as that is
            known, before the line is held whole.
    """
    limit = max_line_bytes
    # A read of at most limit + 1 bytes cannot hold a whole line (with its newline) longer
    # than the limit, so only lines that span reads need their length checked.
    chunk_size = min(chunk_size, limit + 1)
    data = first_chunk if first_chunk is not None else read_start(source)
    consumed = start  # offset of the first byte of `pending` (or of the next line)
    if not start and data.startswith(_BOM):
        data = data[3:]
        consumed = 3
    line_no = first_line
    pending: list[bytes] = []
    pending_size = 0
    while data:
        lines = data.split(b"\n")
        tail = lines.pop()
        if len(data) > limit + 1 and lines:  # a first chunk read before the limit was known
            for index, raw in enumerate(lines):
                if len(raw) + (pending_size if index == 0 else 0) > limit:
                    at = consumed + sum(len(each) + 1 for each in lines[:index])
                    at += pending_size if index else 0
                    raise line_too_long(limit=limit, file=file, line=line_no + index, offset=at)
        if lines:
            if pending and pending_size + len(lines[0]) > limit:
                raise line_too_long(limit=limit, file=file, line=line_no, offset=consumed)
            if pending:
                pending.append(lines[0])
                lines[0] = b"".join(pending)
                pending = []
            yield LineChunk(lines, line_no, consumed)
            line_no += len(lines)
            consumed += len(data) - len(tail) + pending_size
            pending_size = 0
        if tail:
            pending.append(tail)
            pending_size += len(tail)
            if pending_size > limit:
                raise line_too_long(limit=limit, file=file, line=line_no, offset=consumed)
        data = source.read(chunk_size)
    truncated = truncated_reason(source)
    if pending or truncated is not None:
        yield LineChunk([b"".join(pending)], line_no, consumed, truncated)


def skip_to(source: Any, first_chunk: bytes, offset: int) -> bytes:
    """Move ``source`` on to byte ``offset`` of the file; return the first bytes from there.

    ``first_chunk`` holds the bytes already read from the file's start. A plain file seeks;
    a compressed stream cannot, so everything before ``offset`` is decompressed again and
    dropped (time grows with ``offset``, memory stays at one chunk).

    Returns:
        Bytes from ``offset`` on: empty only at the end of the data.
    """
    if offset <= len(first_chunk):
        rest = first_chunk[offset:]
    elif hasattr(source, "seek"):
        source.seek(offset)
        rest = b""
    else:
        left = offset - len(first_chunk)
        while left > 0:
            dropped = source.read(min(left, CHUNK_SIZE))
            if not dropped:
                break
            left -= len(dropped)
        rest = b""
    if rest:
        return rest
    data: bytes = source.read(CHUNK_SIZE)
    return data


def truncation_error(chunk: LineChunk, *, file: str | None) -> MalformedJSONError:
    """The error for the last, incomplete line of a compressed stream that ends early."""
    raw = chunk.lines[0]
    end = chunk.offset + len(raw)
    return MalformedJSONError(
        f"expected the compressed data to go on, got its end: {chunk.truncated} (the file "
        f"is truncated or damaged after {end} decompressed bytes)",
        file=file,
        line=chunk.first_line,
        column=_chars(raw) + 1,
        offset=end,
    )


def failed_line(
    raw: bytes, err: ValueError, *, file: str | None, line: int, chunk: LineChunk
) -> _Blank | DataError:
    """What a line orjson could not parse is: :data:`BLANK`, or a located error."""
    if not raw.strip(_BLANK_BYTES):
        return BLANK
    return parse_error(raw, err, file=file, line=line, offset=chunk.offset_of(line))


def iter_jsonl(
    source: Any,
    *,
    file: str | None,
    chunk_size: int = CHUNK_SIZE,
    first_chunk: bytes | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[tuple[int, bytes, Any]]:
    r"""Parse a JSON Lines stream line by line.

    The reader (:mod:`instructkit._io._reader`) runs the same steps inline for speed; this is the
    general form, one item per line.

    Args:
        source: An object with ``read(size) -> bytes`` (see :func:`open_source`).
        file: The file name for error messages.
        chunk_size: Bytes per read.
        first_chunk: Bytes already read from ``source`` (by a format sniffer), to use first.
        max_line_bytes: The longest line allowed; a longer one raises a located
            :class:`~instructkit.DataError`.

    Yields:
        ``(line_number, raw, value)``: ``raw`` is the line without its ``\n``; ``value`` is
        the parsed JSON, :data:`BLANK`, or a :class:`~instructkit.DataError` (malformed
        JSON, or JSON beyond the limits of :mod:`instructkit._limits`). A
        compressed stream that ends early gives a final error item whose ``raw`` is the
        incomplete last line (possibly empty).
    """
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    chunks = iter_line_chunks(
        source,
        first_chunk=first_chunk,
        chunk_size=chunk_size,
        file=file,
        max_line_bytes=max_line_bytes,
    )
    for chunk in chunks:
        if chunk.truncated is not None:
            yield chunk.first_line, chunk.lines[0], truncation_error(chunk, file=file)
            return
        line = chunk.first_line - 1
        for raw in chunk.lines:
            line += 1
            try:
                value = loads(raw)
            except decode_error as err:
                yield line, raw, failed_line(raw, err, file=file, line=line, chunk=chunk)
                continue
            beyond = limit_error(raw, file=file, line=line)
            if beyond is not None:
                value = beyond
            elif has_duplicate_keys(raw, value):
                value = duplicate_key_error(raw, file=file, line=line, offset=chunk.offset_of(line))
            yield line, raw, value


# -- writing -------------------------------------------------------------------------------


def write_jsonl_lines(out: IO[bytes] | Any, lines: Iterable[bytes]) -> int:
    r"""Write encoded rows, each ending in ``\n``, to ``out``.

    ``out`` should buffer (a file opened with a large buffer, or a compressor): lines go to
    it one at a time, because holding many to join them costs more here, in fresh memory for
    every batch, than the calls it saves.

    Returns:
        The number of lines written.
    """
    count = 0
    write = out.write
    for line in lines:
        write(line)
        count += 1
    return count
