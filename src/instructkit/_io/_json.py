"""JSON array files, read element by element with bounded memory, and written one per line.

Reading. The file is never loaded whole. An incremental scanner walks the bytes in chunks,
skipping whole strings with one regular expression (so brackets inside text are ignored)
and counting brackets to find where each top-level element ends; each element's bytes are
then parsed with orjson and checked for repeated keys. When elements sit one per line (as
instructkit and many tools write them) the scanner first tries the rest of the line as the
element, which is sound (a JSON object or array that parses ends exactly at its closing
bracket) and skips the bracket scan. Memory is bounded by the chunk size plus the largest
element, and an element may be at most ``max_line_bytes`` long (like a JSON Lines line): a
longer one raises a located :class:`~instructkit.DataError` before it is held whole.

Each element becomes ``(line, raw, value)`` like a JSONL line: ``line`` is where the element
starts, ``raw`` its exact bytes, ``value`` the parsed JSON or a located
:class:`~instructkit.MalformedJSONError` (or :class:`~instructkit.DataError`, for JSON
beyond the limits of :mod:`instructkit._limits`). A broken element (bad JSON between balanced
brackets) is one bad item and reading goes on. A broken *array* (a missing ``,`` between
elements, a missing ``]`` at the end of the file, or anything but whitespace after the ``]``)
is one final bad item whose ``raw`` is everything from the problem to the end of the file,
and reading stops there.

A ``.json`` file may also hold JSON Lines (``datasets.Dataset.to_json`` writes that by
default): :func:`sniff_layout` looks at the first byte that is not whitespace. A ``.json``
file holding one object spread over several lines (``json.dump(obj, f, indent=2)``) is
neither; :func:`spread_object` tells it apart, so that it is not reported as a truncated line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Final, Literal

import orjson

from instructkit._errors import DataError, MalformedJSONError
from instructkit._io._compression import truncated_reason
from instructkit._io._jsonl import (
    CHUNK_SIZE,
    MAX_LINE_BYTES,
    _chars,
    duplicate_key_error,
    has_duplicate_keys,
    limit_error,
    line_too_long,
    parse_error,
    read_start,
)

__all__ = ["iter_json_array", "sniff_layout", "spread_object"]

_BOM: Final = b"\xef\xbb\xbf"
_WS: Final = re.compile(rb"[ \t\r\n]*")
_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# A whole string, or one bracket. An unterminated string at the end of the buffer does not
# match the first branch; the scanner notices the stray quote and waits for more data.
_TOKEN: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|["{}\[\]]', re.DOTALL)
_SCALAR_END: Final = re.compile(rb"[,\]\s]")
_QUOTE: Final = ord('"')
_SPECULATE_LIMIT: Final = 1 << 20
_OPENERS: Final = (ord("{"), ord("["))

Layout = Literal["array", "lines", "empty"]


def sniff_layout(data: bytes, *, at_start: bool = True) -> Layout:
    r"""Whether JSON text starting with ``data`` is an array, JSON Lines, or empty so far.

    Args:
        data: The first bytes of the text, or (``at_start=False``) the next bytes after
            text that was all whitespace.
        at_start: ``data`` starts the file (only there is a byte order mark skipped).

    Example:
        >>> sniff_layout(b'  [{"a": 1}]'), sniff_layout(b'{"a": 1}\n'), sniff_layout(b" ")
        ('array', 'lines', 'empty')
    """
    if at_start and data.startswith(_BOM):
        data = data[3:]
    start = _WS.match(data)
    assert start is not None
    at = start.end()
    if at == len(data):
        return "empty"
    return "array" if data[at : at + 1] == b"[" else "lines"


class _Scanner:
    """The buffer, and where its first byte sits in the file (offset, line, column)."""

    def __init__(
        self,
        source: Any,
        first_chunk: bytes,
        chunk_size: int,
        *,
        file: str | None,
        limit: int = MAX_LINE_BYTES,
    ) -> None:
        self.source = source
        self.chunk_size = chunk_size
        self.file = file
        self.limit = limit  # max_line_bytes: the most bytes kept for one element
        self.buf = first_chunk
        self.base = 0  # file offset of buf[0]
        self.eof = False
        self.truncated: str | None = None
        # The line number at `mark` (an index into buf) is kept up to date cheaply (newlines
        # are counted); columns, which need decoding, only when an error asks for one.
        self.mark = 3 if first_chunk.startswith(_BOM) else 0
        self.line = 1
        self.line_start: int | None = self.mark  # None: the line began before buf[0]
        self.column_mark = self.mark
        self.column_chars = 0  # characters from the line's start to column_mark

    def line_at(self, at: int) -> int:
        """The line of ``buf[at]`` (``at`` at or after the last position asked about)."""
        buf = self.buf
        newlines = buf.count(b"\n", self.mark, at)
        if newlines:
            self.line += newlines
            self.line_start = self.column_mark = buf.rfind(b"\n", self.mark, at) + 1
            self.column_chars = 0
        self.mark = at
        return self.line

    def locate(self, at: int) -> tuple[int, int, int]:
        """(line, characters before it on its line, file offset) of ``buf[at]``."""
        line = self.line_at(at)
        if at > self.column_mark:
            self.column_chars += _chars(self.buf[self.column_mark : at])
            self.column_mark = at
        return line, self.column_chars, self.base + at

    def too_long(self, at: int, what: str = "array element") -> DataError:
        """The error for text from ``buf[at]`` on that is longer than :attr:`limit`."""
        line = self.line_at(at) if at >= self.mark else self.line
        return line_too_long(
            limit=self.limit, file=self.file, line=line, offset=self.base + at, what=what
        )

    def more(self, keep_from: int) -> int:
        """Read more data, dropping bytes before ``keep_from``; return how far indices moved.

        Sets :attr:`eof` (and :attr:`truncated` for a damaged compressed stream) when nothing
        more comes.

        Raises:
            DataError: the bytes kept, from ``keep_from`` on, are already more than
                :attr:`limit`.
        """
        if self.eof:
            return 0
        if self.mark < keep_from:
            self.line_at(keep_from)
        kept = len(self.buf) - keep_from
        if kept > self.limit:
            raise self.too_long(keep_from)
        # Grow reads with the kept part, so one huge element costs linear time overall.
        size = max(self.chunk_size, kept)
        data = self.source.read(size)
        if not data:
            self.eof = True
            self.truncated = truncated_reason(self.source)
            return 0
        if self.line_start is None or self.line_start < keep_from:
            # The current line's start is about to be dropped: count its characters first.
            if self.column_mark < keep_from:
                self.column_chars += _chars(self.buf[self.column_mark : keep_from])
                self.column_mark = keep_from
            self.line_start = None
        else:
            self.line_start -= keep_from
        self.column_mark -= keep_from
        self.buf = self.buf[keep_from:] + data
        self.base += keep_from
        self.mark -= keep_from
        return keep_from

    def rest(self, start: int) -> bytes:
        """Everything from ``buf[start]`` to the end of the file.

        Raises:
            DataError: that is more than :attr:`limit` bytes.
        """
        parts = [self.buf[start:]]
        size = len(parts[0])
        while not self.eof:
            if size > self.limit:
                raise self.too_long(start, "broken end of an array (kept whole as one bad item)")
            data = self.source.read(self.chunk_size)
            if not data:
                break
            parts.append(data)
            size += len(data)
        self.eof = True
        self.truncated = truncated_reason(self.source)
        return b"".join(parts)


def _find_end(scan: _Scanner, start: int) -> tuple[int, int]:
    """Find where the element at ``buf[start]`` ends; return ``(start, end)`` after refills.

    ``end`` is -1 when the file ends first.
    """
    first = scan.buf[start]
    if first in _OPENERS:
        depth = 0
        at = start
        while True:
            buf = scan.buf
            for match in _TOKEN.finditer(buf, at):
                token = match.group()
                kind = token[0]
                if kind == _QUOTE:
                    if len(token) == 1:  # a string that runs past the buffer
                        at = match.start()
                        break
                    continue
                if kind in _OPENERS:
                    depth += 1
                else:
                    depth -= 1
                    if depth == 0:
                        return start, match.end()
            else:
                at = len(buf)
            moved = scan.more(start)
            if scan.eof:
                return start, -1
            start -= moved
            at -= moved
    if first == _QUOTE:
        while True:
            found = _STRING.match(scan.buf, start)
            if found is not None:
                return start, found.end()
            moved = scan.more(start)
            if scan.eof:
                return start, -1
            start -= moved
    while True:
        found_end = _SCALAR_END.search(scan.buf, start)
        if found_end is not None:
            return start, found_end.start()
        moved = scan.more(start)
        if scan.eof:
            return start, len(scan.buf)
        start -= moved


def _skip_ws(scan: _Scanner, at: int) -> int:
    """Index of the next non-whitespace byte at or after ``at`` (refilling), or -1 at EOF."""
    while True:
        found = _WS.match(scan.buf, at)
        assert found is not None
        if found.end() < len(scan.buf):
            return found.end()
        moved = scan.more(len(scan.buf))
        if scan.eof:
            return -1
        at = found.end() - moved


def _structure_error(
    scan: _Scanner, at: int, reason: str, file: str | None
) -> tuple[int, bytes, MalformedJSONError]:
    line, column0, offset = scan.locate(at)
    raw = scan.rest(at)
    return (
        line,
        raw,
        MalformedJSONError(reason, file=file, line=line, column=column0 + 1, offset=offset),
    )


def _describe_byte(scan: _Scanner, at: int) -> str:
    text = scan.buf[at : at + 24].decode("utf-8", "replace")
    return repr(text + ("..." if len(scan.buf) > at + 24 else ""))


def _end_reason(scan: _Scanner, expected: str) -> str:
    if scan.truncated is not None:
        return f"expected {expected}, got the end of the compressed data: {scan.truncated}"
    return f"expected {expected}, got the end of the file (is it truncated?)"


def spread_object(
    first_chunk: bytes,
    reopen: Callable[[], Any],
    *,
    file: str | None,
    chunk_size: int = CHUNK_SIZE,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> tuple[bytes, DataError] | None:
    """The error for JSON text that starts with an object spread over several lines.

    Such text is read as JSON Lines (it does not start with ``[``), whose first line must then
    be a whole value. When it is not, the line-by-line message (is the file truncated?)
    misleads: the usual cause is a single pretty-printed object, often one that wraps the
    rows (``{"data": [...]}``), or objects pretty-printed one after another. Only then is the
    first value scanned to its end; memory is bounded by its size.

    Args:
        first_chunk: The first bytes of the text (what the format was sniffed from).
        reopen: Opens the text again from its start, with ``read(size) -> bytes``; called
            only when the first line is not a whole JSON value.
        file: The file name for the error.
        chunk_size: Bytes per read.
        max_line_bytes: The most bytes the first value may take.

    Returns:
        ``(raw, error)`` with the first object's bytes, or ``None`` when the first line is a
        whole value, or the first value is not an object spread over lines that parses (the
        JSON Lines reader then reports what it finds).
    """
    data = first_chunk[3:] if first_chunk.startswith(_BOM) else first_chunk
    start = _WS.match(data)
    assert start is not None
    at = start.end()
    newline = data.find(b"\n", at)
    if data[at : at + 1] != b"{" or newline < 0:
        return None
    try:
        orjson.loads(data[at:newline])
    except orjson.JSONDecodeError:
        pass
    else:
        return None
    source = reopen()
    try:
        scan = _Scanner(source, read_start(source), chunk_size, file=file, limit=max_line_bytes)
        at, end = _find_end(scan, _skip_ws(scan, scan.mark))
        if end < 0:
            return None
        raw = scan.buf[at:end]
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        first = scan.line_at(at)
        last = scan.line_at(end)
        more = _skip_ws(scan, end) >= 0
    finally:
        source.close()
    if more:
        reason = (
            f"expected one JSON object per line or a JSON array of rows, got an object over "
            f"lines {first} to {last} and more after it (write each row on one line, or put "
            "the rows in an array)"
        )
    else:
        lists = [key for key, item in value.items() if isinstance(item, list)]
        hint = f"; its key {lists[0]!r} holds an array" if len(lists) == 1 else ""
        reason = (
            f"expected a JSON array of rows at the top level, got a single object over lines "
            f"{first} to {last}{hint} (a file of rows is [{{...}}, {{...}}]; for one row per "
            "line use .jsonl)"
        )
    return raw, DataError(reason, loc="$", file=file, line=first)


def iter_json_array(
    source: Any,
    *,
    file: str | None,
    first_chunk: bytes,
    chunk_size: int = CHUNK_SIZE,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[tuple[int, bytes, Any]]:
    """Parse a JSON array file element by element.

    Args:
        source: An object with ``read(size) -> bytes``, positioned after ``first_chunk``.
        file: The file name for error messages.
        first_chunk: The bytes already read (they must reach the opening ``[``).
        chunk_size: Bytes per read.
        max_line_bytes: The longest element allowed.

    Yields:
        ``(line, raw, value)`` per element, as described in the module docstring.

    Raises:
        DataError: an element is longer than ``max_line_bytes``.
    """
    while len(first_chunk) < 3:  # enough to see a byte order mark
        more = source.read(chunk_size)
        if not more:
            break
        first_chunk += more
    scan = _Scanner(source, first_chunk, chunk_size, file=file, limit=max_line_bytes)
    at = _skip_ws(scan, scan.mark)
    if at < 0:
        return
    if scan.buf[at] != ord("["):
        yield _structure_error(
            scan, at, f"expected a JSON array ('['), got {_describe_byte(scan, at)}", file
        )
        return
    at += 1
    expect_value = True  # after '[' or ','
    after_comma = False
    speculate = True
    misses = 0
    while True:
        at = _skip_ws(scan, at)
        if at < 0:
            yield _ended_early(scan, "']' to close the array", file)
            return
        byte = scan.buf[at]
        if byte == ord("]") and not after_comma:
            at += 1
            break
        if not expect_value:
            if byte == ord(","):
                expect_value, after_comma = True, True
                at += 1
                continue
            yield _structure_error(
                scan,
                at,
                f"expected ',' or ']' after an array element, got {_describe_byte(scan, at)}",
                file,
            )
            return
        if byte == ord("]"):
            yield _structure_error(
                scan, at, "expected an array element after ',', got ']' (a trailing comma)", file
            )
            return
        value: Any = None
        parsed = False
        end = -1
        if speculate and byte in _OPENERS:
            guess = _rest_of_line(scan, at)
            if guess is not None:
                value, end = guess
                parsed = True
            misses = 0 if parsed else misses + 1
            # A file that does not put one element per line stops paying for the attempt.
            speculate = misses < 8
        if not parsed:
            at, end = _find_end(scan, at)
        if end - at > max_line_bytes or (end < 0 and len(scan.buf) - at > max_line_bytes):
            raise scan.too_long(at)
        line = scan.line_at(at)
        if end < 0:
            yield _unfinished_element(scan, at, file)
            return
        raw = scan.buf[at:end]
        if parsed:
            yield _checked_element(scan, at, line, raw, value, file)
        else:
            yield _parsed_element(scan, at, line, raw, file)
        at = end
        expect_value, after_comma = False, False
    # After the closing bracket only whitespace may follow.
    tail = _skip_ws(scan, at)
    if tail >= 0:
        yield _structure_error(
            scan,
            tail,
            f"expected only whitespace after the array's closing ']', got "
            f"{_describe_byte(scan, tail)}",
            file,
        )
    elif scan.truncated is not None:
        yield _ended_early(scan, "the end of the file", file)


def _rest_of_line(scan: _Scanner, at: int) -> tuple[Any, int] | None:
    """``(value, end)`` of the element at ``at`` if it is the rest of its line, else ``None``.

    Elements written one per line (as :func:`instructkit.write` does) parse in one call
    this way, without scanning their bytes for the element's end first.
    """
    newline = scan.buf.find(b"\n", at, at + _SPECULATE_LIMIT)
    if newline < 0:
        return None
    candidate = scan.buf[at:newline].rstrip(b" \t\r")
    if candidate.endswith(b","):
        candidate = candidate[:-1].rstrip(b" \t\r")
    try:
        return orjson.loads(candidate), at + len(candidate)
    except orjson.JSONDecodeError:
        return None


def _parsed_element(
    scan: _Scanner, at: int, line: int, raw: bytes, file: str | None
) -> tuple[int, bytes, Any]:
    """The item for the element ``raw`` at ``at``: parsed and checked, or its parse error."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        line, column0, offset = scan.locate(at)
        error = parse_error(raw, err, file=file, line=line, offset=offset, column0=column0)
        return line, raw, error
    return _checked_element(scan, at, line, raw, value, file)


def _checked_element(
    scan: _Scanner, at: int, line: int, raw: bytes, value: Any, file: str | None
) -> tuple[int, bytes, Any]:
    """The item for a parsed element: its value, or the error for a limit or a repeated key."""
    beyond = limit_error(raw, file=file, line=line)
    if beyond is not None:
        return line, raw, beyond
    if has_duplicate_keys(raw, value):
        line, column0, offset = scan.locate(at)
        error = duplicate_key_error(raw, file=file, line=line, offset=offset, column0=column0)
        return line, raw, error
    return line, raw, value


def _unfinished_element(scan: _Scanner, at: int, file: str | None) -> tuple[int, bytes, DataError]:
    """The item for an element the file ends inside: the parser's error, or one saying so."""
    line, column0, offset = scan.locate(at)
    raw = scan.buf[at:]
    error: DataError | None = None
    if scan.truncated is None:
        try:
            orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            error = parse_error(raw, err, file=file, line=line, offset=offset, column0=column0)
    if error is None:
        error = MalformedJSONError(
            _end_reason(scan, "the array element to end"),
            file=file,
            line=line,
            column=column0 + 1,
            offset=offset,
        )
    return line, raw, error


def _ended_early(
    scan: _Scanner, expected: str, file: str | None
) -> tuple[int, bytes, MalformedJSONError]:
    """The item for a file that ends (or was cut short) where ``expected`` should come."""
    line, column0, offset = scan.locate(len(scan.buf))
    error = MalformedJSONError(
        _end_reason(scan, expected),
        file=file,
        line=line,
        column=column0 + 1,
        offset=offset,
    )
    return line, b"", error
