"""The limits every reader, writer and record shares: how deep JSON may nest, which integers.

Maximum depth. A row (a JSONL line, a JSON array element, a dict given to ``parse_row``, a
record in its own layout ``record.to_dict()``) nests at most :data:`MAX_DEPTH` levels of
objects and arrays, the row itself being the first. The parsers around instructkit stop at
different depths (orjson reads 1,024 levels but writes only 254, pydantic validates about
255, pyarrow's JSON reader crashes the process some 16,000 deep), so one limit well
inside all of them is enforced at the door, with the same located error everywhere: the
path is that of the first array or object past the limit.

JSON kept as text inside a record (tool-call arguments, tool schemas) may nest at most
:data:`MAX_TEXT_DEPTH` levels of its own: dialects write it out as JSON values up to
:data:`TEXT_WRAPPING` levels down a row (a TRL row's ``chosen``, a message, its
``tool_calls``, a call, its ``function``), and the row must still be readable.

Integer range. An integer must lie in ``[-2**63, 2**64 - 1]``, the union of Arrow's int64
and uint64 and what orjson writes. Beyond it orjson reads an integer as the nearest float,
silently, and refuses to write it, so such an integer is refused with a located error
instead of being changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

import orjson

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "MAX_DEPTH",
    "MAX_TEXT_DEPTH",
    "TEXT_WRAPPING",
    "depth_reason",
    "integer_reason",
    "limit_in_bytes",
    "limit_in_value",
]

MAX_DEPTH: Final = 128
"""Levels of objects and arrays a row may nest, the row itself being level 1."""

TEXT_WRAPPING: Final = 8
"""Levels a dialect's row may put around JSON a record keeps as text (at most 6 used)."""

MAX_TEXT_DEPTH: Final = MAX_DEPTH - TEXT_WRAPPING
"""Levels JSON kept as text in a record (tool-call arguments, tool schemas) may nest."""

INT_MIN: Final = -(2**63)
"""The smallest integer instructkit reads or writes (Arrow's int64)."""

INT_MAX: Final = 2**64 - 1
"""The largest integer instructkit reads or writes (Arrow's uint64)."""

Path = tuple[str | int, ...]


def depth_reason(limit: int = MAX_DEPTH) -> str:
    """The reason of the error for JSON nested deeper than ``limit`` levels."""
    return (
        f"expected JSON nested at most {limit} levels deep (objects and arrays), got deeper "
        "(the location is the first level past it)"
    )


def integer_reason(value: int | str) -> str:
    """The reason of the error for an integer outside :data:`INT_MIN` .. :data:`INT_MAX`."""
    return (
        f"expected an integer from {INT_MIN} to {INT_MAX} (64 bits), got {value} (a JSON "
        "parser would silently turn it into an inexact float)"
    )


def _too_big(digits: int | str) -> bool:
    return not INT_MIN <= int(digits) <= INT_MAX


def limit_in_value(
    value: Any, *, limit: int = MAX_DEPTH, start: int = 0
) -> tuple[Path, str] | None:
    """The first place Python JSON data breaks a limit: ``(path, reason)``, or ``None``.

    Walks without recursion, so any depth is safe to check.

    Args:
        value: Dicts, lists, text, numbers, booleans, ``None``.
        limit: The levels of dicts and lists allowed.
        start: Levels already around ``value`` (1 for a record's ``meta``).

    Example:
        >>> limit_in_value({"a": [[1]]}, limit=2)[0]
        ('a', 0)
        >>> limit_in_value({"n": 2**70})[0]
        ('n',)
    """
    stack: list[tuple[Any, Path, int]] = [(value, (), start)]
    while stack:
        item, path, depth = stack.pop()
        kind = type(item)
        if kind is dict or kind is list or isinstance(item, (dict, list)):
            depth += 1
            if depth > limit:
                return path, depth_reason(limit)
            children = item.items() if isinstance(item, dict) else enumerate(item)
            # Reversed, so the first problem in document order is found first.
            stack.extend((child, (*path, key), depth) for key, child in reversed(list(children)))
        elif (kind is int or (isinstance(item, int) and not isinstance(item, bool))) and (
            _too_big(item)
        ):
            return path, integer_reason(item)
    return None


# A whole string, one structural byte, or a number (its integer part in group 1, and a
# fraction or exponent making it a float).
_TOKEN: Final = re.compile(
    rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],:]|(-?\d+)(\.\d*)?([eE][+-]?\d+)?', re.DOTALL
)
# One pass sorts the bytes that matter: digits become "0", "[" and "{" become "[", all else a
# space. Then a count finds the nesting bound and a substring search (memchr-fast) a run of 19
# digits, where a regular expression would try every position.
_CLASSES: Final = bytes(
    ord("0") if 48 <= byte <= 57 else ord("[") if byte in b"[{" else ord(" ") for byte in range(256)
)
_NINETEEN_DIGITS: Final = b"0" * 19
_OPEN: Final = frozenset(b"{[")
_QUOTE: Final = ord('"')
_COLON: Final = ord(":")
_COMMA: Final = ord(",")


def _tokens(text: bytes) -> Iterator[tuple[re.Match[bytes], Path, int]]:
    """Each token of JSON ``text`` with the path and depth it is at (tolerates bad JSON)."""
    # Each frame: [is_object, path, current_key_or_index]
    stack: list[list[Any]] = []
    last_string = b""
    for match in _TOKEN.finditer(text):
        first = match.group()[0]
        if first == _QUOTE:
            last_string = match.group()
            continue
        if first == _COLON:
            # Only an object has keys: a damaged line may hold "k": inside an array.
            if stack and stack[-1][0]:
                stack[-1][2] = _key(last_string)
            continue
        if first == _COMMA:
            if stack and not stack[-1][0]:
                stack[-1][2] += 1
            continue
        path: Path = (*stack[-1][1], stack[-1][2]) if stack else ()
        if first in _OPEN:
            yield match, path, len(stack) + 1
            stack.append([first == ord("{"), path, 0])
        elif first in b"}]":
            if stack:
                stack.pop()
        else:
            yield match, path, len(stack)


def _key(token: bytes) -> str:
    try:
        key: str = orjson.loads(token)
    except orjson.JSONDecodeError:
        return token[1:-1].decode("utf-8", "replace")
    return key


def may_break_limits(raw: bytes, *, limit: int = MAX_DEPTH, canonical: bool = False) -> bool:
    """Whether JSON text *could* break a limit: a cheap test, never wrong when it says no.

    A text with no more ``[`` and ``{`` bytes than ``limit`` cannot nest deeper, and one
    without 19 digits in a row holds no integer beyond 64 bits (a ``canonical`` text, as
    orjson writes it, holds none at all). Bytes inside strings count too, so a text may
    pass neither test and still keep within the limits.
    """
    classes = raw.translate(_CLASSES)
    return classes.count(b"[") > limit or (not canonical and _NINETEEN_DIGITS in classes)


def may_hold_long_integer(raw: bytes) -> bool:
    """Whether JSON text has 19 digits in a row, as any integer beyond 64 bits has."""
    return _NINETEEN_DIGITS in raw.translate(_CLASSES)


def limit_in_bytes(
    raw: bytes, *, canonical: bool = False, limit: int = MAX_DEPTH
) -> tuple[Path, str, int] | None:
    """The first place JSON text breaks a limit: ``(path, reason, byte_position)``, or ``None``.

    Cheap unless the text could break one: a text with no more ``[`` and ``{`` bytes than
    ``limit`` cannot nest deeper, and one without 19 digits in a row holds no integer
    beyond 64 bits. Only texts that pass neither test are scanned, by a tokenizer that also
    gives the path.

    Args:
        raw: The JSON text (a line or an array element); it need not be valid JSON.
        canonical: ``raw`` is byte for byte orjson's rendering of what it parsed to, which
            holds no integer beyond 64 bits (orjson writes the float it read instead).
        limit: The levels of objects and arrays allowed.

    Example:
        >>> limit_in_bytes(b'{"a": [1, 123456789012345678901234567890]}')[:2]
        (('a', 1), 'expected an integer from ...')
    """
    if len(raw) <= limit and canonical:
        return None
    if not may_break_limits(raw, limit=limit, canonical=canonical):
        return None
    for match, path, depth in _tokens(raw):
        if depth > limit:
            return path, depth_reason(limit), match.start()
        whole = match.group(1)
        if (
            whole is not None
            and len(whole) >= 19
            and match.group(2) is None
            and match.group(3) is None
            and _too_big(whole.decode())
        ):
            return path, integer_reason(whole.decode()), match.start()
    return None
