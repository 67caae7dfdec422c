"""Template patterns: ``{field}`` placeholders and ``{{``/``}}`` escapes, parsed once.

A parsed :class:`Pattern` keeps its literal and placeholder pieces, and the pieces of its
without-options variant, so that rendering never parses text again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from instructkit._templates._task import OPTIONS_PLACEHOLDER

__all__ = ["Pattern", "PatternProblem", "Piece", "Slot", "parse_pattern"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Slot:
    """A ``{field}`` placeholder: the field's name and where it sits in the raw pattern.

    Attributes:
        name: The field name (or ``options``).
        start: Offset of the ``{`` in the raw pattern.
        end: Offset just after the ``}``.
    """

    name: str
    start: int
    end: int


Piece = str | Slot


@dataclass(frozen=True)
class Pattern:
    """One parsed pattern.

    Attributes:
        raw: The pattern as written.
        pieces: Literal text (escapes already resolved) and slots, in order.
        plain: The pieces of the without-options variant: the ``{options}`` slot and the
            whitespace that leads into it removed.
        formatted: ``pieces`` as a :meth:`str.format_map` pattern (literal braces doubled),
            which joins the pieces in C, the cost of one call per rendering.
        plain_formatted: ``plain`` as a :meth:`str.format_map` pattern.
    """

    raw: str
    pieces: tuple[Piece, ...]
    plain: tuple[Piece, ...]
    formatted: str
    plain_formatted: str

    @property
    def slots(self) -> tuple[Slot, ...]:
        """The placeholders, in order."""
        return tuple(p for p in self.pieces if isinstance(p, Slot))


@dataclass(frozen=True)
class PatternProblem(Exception):
    """Why a pattern cannot be parsed, and where (raised by :func:`parse_pattern`).

    Attributes:
        position: Offset in the raw pattern.
        reason: What was expected and what came instead.
    """

    position: int
    reason: str


def _placeholder_problem(name: str) -> str | None:
    if _IDENT.match(name):
        return None
    shown = "{" + name + "}"
    if name == "":
        return "expected a field name inside braces, got an empty placeholder '{}'"
    if name.isdigit():
        return f"expected a field name, got a positional placeholder {shown!r}"
    specials = {".": "attribute access", "[": "indexing", "!": "a conversion", ":": "a format spec"}
    found = [(name.find(char), what) for char, what in specials.items() if char in name]
    if found:
        # The first special character decides, so '{x!r:>3}' is named a conversion.
        what = min(found)[1]
        return (
            f"expected a plain field name, got {what} in {shown!r} (placeholders are "
            "'{field}' only; write '{{' and '}}' for literal braces)"
        )
    return f"expected a field name made of letters, digits and '_', got {shown!r}"


def parse_pattern(text: str) -> Pattern:
    """Parse a pattern: ``{field}`` placeholders, ``{{`` and ``}}`` escapes, nothing else.

    Args:
        text: The raw pattern.

    Returns:
        The parsed pattern.

    Raises:
        PatternProblem: a placeholder that is not a plain identifier (attribute access,
            indexing, format spec, conversion, positional, empty) or an unbalanced brace.

    Example:
        >>> [str(p) if isinstance(p, str) else p.name for p in parse_pattern("Q: {q}{{}}").pieces]
        ['Q: ', 'q', '{}']
    """
    pieces: list[Piece] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "{":
            if text.startswith("{", i + 1):
                literal.append("{")
                i += 2
                continue
            close = text.find("}", i + 1)
            reopen = text.find("{", i + 1)
            if close == -1 or (reopen != -1 and reopen < close):
                raise PatternProblem(
                    i, "expected '}' to close the '{' here, got none (write '{{' for a literal '{')"
                )
            name = text[i + 1 : close]
            problem = _placeholder_problem(name)
            if problem is not None:
                raise PatternProblem(i, problem)
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.append(Slot(name, i, close + 1))
            i = close + 1
        elif char == "}":
            if text.startswith("}", i + 1):
                literal.append("}")
                i += 2
                continue
            raise PatternProblem(
                i, "expected '}}' for a literal '}', got a single '}' that closes nothing"
            )
        else:
            literal.append(char)
            i += 1
    if literal:
        pieces.append("".join(literal))
    plain = _without_options(pieces)
    return Pattern(text, tuple(pieces), plain, _formatted(pieces), _formatted(plain))


def _formatted(pieces: Sequence[Piece]) -> str:
    return "".join(
        p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else "{" + p.name + "}"
        for p in pieces
    )


def _without_options(pieces: list[Piece]) -> tuple[Piece, ...]:
    out = list(pieces)
    index = len(out) - 1
    while index >= 0:
        piece = out[index]
        if isinstance(piece, Slot) and piece.name == OPTIONS_PLACEHOLDER:
            before, after = out[:index], out[index + 1 :]
            if before and isinstance(before[-1], str):
                before[-1] = before[-1].rstrip()
            # Options that open the pattern: the whitespace after them led into the rest.
            opens = all(isinstance(p, str) and not p for p in before)
            if opens and after and isinstance(after[0], str):
                after[0] = after[0].lstrip()
            out = before + after
        index -= 1
    merged: list[Piece] = []
    for piece in out:
        if isinstance(piece, str):
            if not piece:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] = merged[-1] + piece
                continue
        merged.append(piece)
    return tuple(merged)
