r"""Whole JSONL documents as bytes: valid ones, and corrupted ones with the line to report.

The expectations are those of instructkit's own JSONL reader, which is what "a correct
reader" means here: lines end at ``\n`` only; a ``\r`` before it is JSON whitespace, so CRLF
files read the same as LF files; lines holding only spaces, tabs or ``\r`` are blank, skipped
and counted, and still numbered; a UTF-8 byte-order mark at the very start of the file is
skipped, anywhere else it is an error; the last line may lack its ``\n``. Line numbers are
1-based and count every line, blank ones included.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

import orjson
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from instructkit._records import Record
from instructkit.strategies._core import (
    check_bool,
    check_bounds,
    check_strategy,
    defines_strategy,
)
from instructkit.strategies._records import conversations, instructions, preferences
from instructkit.strategies._text import texts

__all__ = [
    "JSONL_DEFECTS",
    "JSONL_NOISE",
    "CorruptDocument",
    "JsonlDocument",
    "corrupt_jsonl_documents",
    "jsonl_documents",
]

DEFAULT_MAX_ROWS = 3
"""Most rows in a generated document when ``max_rows`` is None."""

JSONL_NOISE = ("blank_lines", "crlf", "no_final_newline", "leading_bom")
"""Harmless irregularities a correct reader accepts (they only shift line numbers)."""

JSONL_DEFECTS = (
    "truncated",
    "trailing_comma",
    "duplicate_keys",
    "invalid_utf8",
    "bom",
    "nan",
    "not_an_object",
    "bare_cr",
)
"""The kinds of bad line :func:`corrupt_jsonl_documents` makes, simplest first."""

T = TypeVar("T")
_ROW_TEXT_CAP = 48
_BLANKS = (b"", b" ", b"\t", b"  \t ")
_INVALID_UTF8 = (b"\xff", b"\xfe", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82")
_BOM = "\ufeff".encode()


class JsonlDocument(NamedTuple):
    """A valid JSONL document and the rows a correct reader yields from it.

    Attributes:
        data: The file's bytes.
        rows: The rows, in order (blank lines yield nothing).
        noise: Which of :data:`JSONL_NOISE` the document has.
    """

    data: bytes
    rows: tuple[dict[str, Any], ...]
    noise: tuple[str, ...]


class CorruptDocument(NamedTuple):
    """A JSONL document with exactly one bad line.

    Attributes:
        data: The file's bytes.
        line: The 1-based number of the bad line, which a correct reader reports (counting
            blank lines).
        defect: Which of :data:`JSONL_DEFECTS` the bad line has.
        noise: Which of :data:`JSONL_NOISE` the document also has (harmless on their own).
        rows: The rows of the good lines, in order: what a reader that skips bad lines
            yields.
    """

    data: bytes
    line: int
    defect: str
    noise: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]


def _record_rows() -> st.SearchStrategy[st.SearchStrategy[dict[str, Any]]]:
    # One record type per document, as real files have. Records are kept small (short
    # texts, one or two exchanges): a document's subject is its lines, and rows of long
    # conversations would make each example tens of kilobytes, slow to generate and shrink.
    short = texts(max_size=_ROW_TEXT_CAP)
    # Built once: a strategy made afresh inside every draw is validated afresh every time.
    choices: list[st.SearchStrategy[Record]] = [
        instructions(text=short),
        conversations(text=short, max_exchanges=2),
        preferences(text=short, max_prompt_exchanges=0),
    ]
    return st.sampled_from([choice.map(_to_dict) for choice in choices])


def _to_dict(record: Record) -> dict[str, Any]:
    return record.to_dict()


def _check_finite(value: Any) -> None:
    # orjson writes NaN and infinities as null, silently; json.dumps refuses them.
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} is not JSON")
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_finite(item)


def _encode(row: dict[str, Any], style: int) -> bytes:
    # orjson writes non-ASCII and U+2028 raw; json.dumps(ensure_ascii=True) escapes them and
    # puts spaces after separators. Both are one line and must read the same.
    try:
        if style == 0:
            _check_finite(row)
            return orjson.dumps(row)
        return json.dumps(row, ensure_ascii=True, allow_nan=False).encode()
    except (TypeError, ValueError) as err:
        raise InvalidArgument(
            f"expected rows to draw JSON objects that JSON can hold (string keys, 64-bit "
            f"integers, finite floats), got {row!r} ({err})"
        ) from None


class _Noise(NamedTuple):
    blank_lines: bool
    crlf: bool
    no_final_newline: bool
    leading_bom: bool


def _noise(
    allow_blank_lines: bool,
    allow_crlf: bool,
    allow_no_final_newline: bool,
    allow_leading_bom: bool,
) -> st.SearchStrategy[_Noise]:
    """The noise a document may get, each ``allow_*`` flag checked to be a bool."""
    for value, name in (
        (allow_blank_lines, "allow_blank_lines"),
        (allow_crlf, "allow_crlf"),
        (allow_no_final_newline, "allow_no_final_newline"),
        (allow_leading_bom, "allow_leading_bom"),
    ):
        check_bool(value, name)

    def flag(on: bool) -> st.SearchStrategy[bool]:
        return st.booleans() if on else st.just(False)

    return st.builds(
        _Noise,
        flag(allow_blank_lines),
        flag(allow_crlf),
        flag(allow_no_final_newline),
        flag(allow_leading_bom),
    )


def _assemble(
    lines: Sequence[tuple[bytes, bool]],
    noise: _Noise,
    draw: st.DrawFn,
    bad_at: int | None = None,
) -> tuple[bytes, int | None, tuple[str, ...]]:
    """Join lines, adding the drawn noise; return the bytes and the bad line's number.

    Each entry of ``lines`` is ``(text, is_row)``; ``bad_at`` is the index of the bad one.
    """
    physical: list[bytes] = []
    bad_line = None
    blank_used = False
    for index, (text, _) in enumerate(lines):
        if noise.blank_lines:
            for blank in draw(st.lists(st.sampled_from(_BLANKS), max_size=2)):
                physical.append(blank)
                blank_used = True
        if index == bad_at:
            bad_line = len(physical) + 1
        physical.append(text)
    if noise.blank_lines:
        for blank in draw(st.lists(st.sampled_from(_BLANKS), max_size=1)):
            physical.append(blank)
            blank_used = True
    end = b"\r\n" if noise.crlf else b"\n"
    data = b"".join(line + end for line in physical)
    trimmed = False
    if noise.no_final_newline and data.endswith(end) and physical and physical[-1].strip():
        data = data[: -len(end)]
        trimmed = True
    bom = noise.leading_bom and bool(physical)
    if bom:
        data = _BOM + data
    used = []
    if blank_used:
        used.append("blank_lines")
    if noise.crlf and physical:
        used.append("crlf")
    if trimmed:
        used.append("no_final_newline")
    if bom:
        used.append("leading_bom")
    return data, bad_line, tuple(used)


def _resolve_rows(rows: object) -> st.SearchStrategy[st.SearchStrategy[dict[str, Any]]]:
    if rows is None:
        return _record_rows()
    check_strategy(rows, "rows")
    assert isinstance(rows, st.SearchStrategy)
    return st.just(rows)


@defines_strategy
def jsonl_documents(
    *,
    rows: st.SearchStrategy[dict[str, Any]] | None = None,
    min_rows: int = 0,
    max_rows: int | None = None,
    allow_blank_lines: bool = True,
    allow_crlf: bool = True,
    allow_no_final_newline: bool = True,
    allow_leading_bom: bool = True,
) -> st.SearchStrategy[JsonlDocument]:
    r"""Valid JSONL documents (bytes) paired with the rows a correct reader yields.

    Each row is one line, written compactly with raw UTF-8 (so U+2028, U+0085 and other
    characters ``str.splitlines()`` breaks on appear raw inside strings) or with ASCII
    escapes and spaces. Harmless noise a correct reader accepts is mixed in (see
    :data:`JSONL_NOISE`): blank and whitespace-only lines, CRLF endings, no newline after the last
    line, and a byte-order mark at the start of the file.

    Args:
        rows: Strategy for the rows (JSON objects that JSON can hold: string keys, 64-bit
            integers, finite floats; others raise InvalidArgument); default the
            ``to_dict()`` of small records from :func:`instructions`,
            :func:`conversations` or :func:`preferences` (texts of at most 48 characters,
            one or two exchanges), one record type per document.
        min_rows: Fewest rows.
        max_rows: Most rows; None means ``max(min_rows, 3)``.
        allow_blank_lines: Mix in blank and whitespace-only lines.
        allow_crlf: Sometimes end lines with ``\r\n``.
        allow_no_final_newline: Sometimes leave out the last line's ``\n``.
        allow_leading_bom: Sometimes start the file with a UTF-8 byte-order mark.

    Returns:
        A strategy for :class:`JsonlDocument`. Shrinks towards the empty document
        ``JsonlDocument(b"", (), ())``.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for bad bounds or argument types.
    """
    row_strategies = _resolve_rows(rows)
    low, high = check_bounds(min_rows, max_rows, ("min_rows", "max_rows"))
    high = max(low, DEFAULT_MAX_ROWS) if high is None else high
    noises = _noise(allow_blank_lines, allow_crlf, allow_no_final_newline, allow_leading_bom)

    @st.composite
    def build(draw: st.DrawFn) -> JsonlDocument:
        row_strategy = draw(row_strategies)
        drawn = draw(st.lists(row_strategy, min_size=low, max_size=high))
        lines = [(_encode(row, draw(st.integers(0, 1))), True) for row in drawn]
        data, _, used = _assemble(lines, draw(noises), draw)
        return JsonlDocument(data, tuple(drawn), used)

    return build()


# --- corruption ---------------------------------------------------------------------------


def _free_key(row: dict[str, Any], base: str) -> str:
    key = base
    while key in row:
        key += "_"
    return key


def _pick(options: Sequence[T], variant: int) -> T:
    return options[variant % len(options)]


def _bad_line(defect: str, row: dict[str, Any], text: bytes, variant: int) -> bytes:
    """The line ``text`` (the encoding of ``row``) with ``defect`` put in.

    Every defect takes its few choices from one drawn number, ``variant``, so that all
    defects cost the shrinker the same and it settles on the simplest, not the cheapest.
    """
    if defect == "truncated":
        # Every proper prefix of an object's text lacks the closing brace.
        return text[: 1 + variant % (len(text) - 1)]
    if defect == "trailing_comma":
        return text[:-1] + b",}" if row else b'{"a":1,}'
    if defect == "duplicate_keys":
        if not row:
            return b'{"a":1,"a":2}'
        key = next(iter(row))
        again = _pick([row[key], None, "other"], variant)
        return b"{" + orjson.dumps(key) + b":" + orjson.dumps(again) + b"," + text[1:]
    if defect == "invalid_utf8":
        # Inside the first key: the bytes are not UTF-8, wherever a reader decodes them.
        bad = _pick(_INVALID_UTF8, variant)
        return b'{"' + bad + b'":0' + (b"," + text[1:] if row else b"}")
    if defect == "bom":
        return _BOM + text
    if defect == "nan":
        name = orjson.dumps(_free_key(row, "score"))
        word = _pick([b"NaN", b"Infinity", b"-Infinity"], variant)
        return b"{" + name + b":" + word + (b"," + text[1:] if row else b"}")
    if defect == "not_an_object":
        value = _pick([b"null", b"1", b'"text"', b"[]", b"wrapped"], variant)
        return b"[" + text + b"]" if value == b"wrapped" else value
    if defect == "bare_cr":
        # Two rows split by a lone CR: one line for a reader that frames on \n only.
        return text + b"\r" + text
    raise AssertionError(defect)  # pragma: no cover - defects are drawn from a fixed list


@defines_strategy
def corrupt_jsonl_documents(
    *,
    rows: st.SearchStrategy[dict[str, Any]] | None = None,
    defects: st.SearchStrategy[str] | None = None,
    max_rows: int | None = None,
    allow_blank_lines: bool = True,
    allow_crlf: bool = True,
    allow_no_final_newline: bool = True,
    allow_leading_bom: bool = True,
) -> st.SearchStrategy[CorruptDocument]:
    r"""JSONL documents with one bad line, paired with the line number to report.

    The bad line sits among up to ``max_rows`` good lines, with the same harmless noise as
    :func:`jsonl_documents` (blank lines, CRLF, no final newline, leading BOM), so that a
    reader that miscounts lines gets caught. The defects (see :data:`JSONL_DEFECTS`):

    * ``"truncated"``: a row cut short, as a crashed writer leaves it (often the last line);
    * ``"trailing_comma"``: ``{..., }``;
    * ``"duplicate_keys"``: the first key given twice (JSON parsers silently keep one);
    * ``"invalid_utf8"``: bytes that are not UTF-8 inside a key;
    * ``"bom"``: a byte-order mark at the start of a line other than the file's first;
    * ``"nan"``: ``NaN`` or ``Infinity``, which JSON does not have;
    * ``"not_an_object"``: valid JSON that is not an object (``null``, ``1``, an array);
    * ``"bare_cr"``: two rows separated by a lone ``\r`` (one line when framing on ``\n``).

    Args:
        rows: Strategy for the good rows (and the row each defect starts from); default as
            for :func:`jsonl_documents`.
        defects: Strategy for defect names; default any of :data:`JSONL_DEFECTS`. Drawing an
            unknown name raises InvalidArgument.
        max_rows: Most good rows besides the bad line; None means 3.
        allow_blank_lines: Mix in blank and whitespace-only lines.
        allow_crlf: Sometimes end lines with ``\r\n``.
        allow_no_final_newline: Sometimes leave out the last line's ``\n``.
        allow_leading_bom: Sometimes start the file with a UTF-8 byte-order mark.

    Returns:
        A strategy for :class:`CorruptDocument`. A correct reader raises on ``data`` and
        reports ``line``; skipping bad lines, it yields ``rows``. Shrinks towards a
        one-line document holding a truncated row.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for bad arguments or defect names.
    """
    row_strategies = _resolve_rows(rows)
    _, high = check_bounds(0, max_rows, ("min_rows", "max_rows"))
    high = DEFAULT_MAX_ROWS if high is None else high
    if defects is not None:
        check_strategy(defects, "defects")
    chosen_defects = st.sampled_from(JSONL_DEFECTS) if defects is None else defects
    noises = _noise(allow_blank_lines, allow_crlf, allow_no_final_newline, allow_leading_bom)

    @st.composite
    def build(draw: st.DrawFn) -> CorruptDocument:
        defect = draw(chosen_defects)
        if defect not in JSONL_DEFECTS:
            raise InvalidArgument(
                f"expected defects to draw one of {list(JSONL_DEFECTS)}, got {defect!r}"
            )
        row_strategy = draw(row_strategies)
        source = draw(row_strategy)
        text = _encode(source, draw(st.integers(0, 1)))
        bad = _bad_line(defect, source, text, draw(st.integers(0, 255)))
        before = draw(st.lists(row_strategy, max_size=high))
        after = draw(st.lists(row_strategy, max_size=high - len(before)))
        if defect == "bom" and not before:
            # At the very start of the file a BOM is allowed; put a good line first.
            before = [source]
        lines = [(_encode(row, draw(st.integers(0, 1))), True) for row in before]
        lines.append((bad, False))
        lines += [(_encode(row, draw(st.integers(0, 1))), True) for row in after]
        noise = draw(noises)
        if defect == "truncated" and not after:
            # A cut-off last line has no newline after it, as a crashed writer leaves it.
            noise = noise._replace(no_final_newline=True)
        data, line, used = _assemble(lines, noise, draw, bad_at=len(before))
        assert line is not None
        return CorruptDocument(data, line, defect, used, (*before, *after))

    return build()
