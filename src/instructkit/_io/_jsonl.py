r"""JSON Lines: framing, parsing with located errors, duplicate-key detection, and writing.

Shared by the JSONL and JSON readers (:mod:`instructkit._io._json` uses the error and
duplicate-key helpers) and by :mod:`instructkit._io._reader`. Decompression is
:mod:`instructkit._io._compression`.

One module although it is a little over 600 lines: framing, the located errors and the
duplicate-key check are the three steps every line goes through, and they share the
line and offset bookkeeping of :class:`LineChunk`.

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

import re
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final

import orjson

from instructkit._errors import ConfigurationError, DataError, MalformedJSONError, format_loc
from instructkit._io._compression import truncated_reason
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
    "parse_error",
    "read_start",
    "record_limit_error",
    "skip_to",
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
