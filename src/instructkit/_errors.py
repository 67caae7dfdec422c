"""The error tree.

Every error that bad data can cause is an :class:`InstructkitError` *and* a
:class:`ValueError`, and carries where the problem is::

    InstructkitError(Exception)
    └── DataError(InstructkitError, ValueError)      bad data; has .loc, .file, .line, .row
        ├── RecordValidationError                    a record field breaks a rule
        ├── DialectError                             a row does not fit its dialect
        │   └── DialectDetectionError                no dialect fits a sample of rows
        ├── LossyConversionError                     strict=True and a conversion would lose data
        ├── MalformedJSONError                       bytes that are not JSON (.column, .offset)
        ├── ShardSetError                            shard files that are not one committed set
        └── TemplateError                            a template that cannot be built or rendered

Programming mistakes (an unknown dialect name, a keyword of the wrong type) raise
:class:`ConfigurationError`, which is an :class:`InstructkitError` and a :class:`ValueError`
but not a :class:`DataError`, so ``except DataError`` never hides a bug in the caller.

Locations are JSON paths from the row or record root (``$.messages[2].role``) plus, where
known, the file, the 1-based line (JSONL, JSON) or the 0-based row (Parquet, Arrow). The
message ends with them (``- at $`` for the row or record as a whole); an error about a row of
a dialect starts by naming it, for example::

    dialect 'sharegpt': expected a role among 'human', 'gpt', ... (extend role_map= for
    others), got 'bot' - at $.conversations[3].from (a.jsonl, line 12)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ConfigurationError",
    "DataError",
    "DialectDetectionError",
    "DialectError",
    "InstructkitError",
    "LossyConversionError",
    "MalformedJSONError",
    "RecordValidationError",
    "TemplateError",
    "describe_type",
    "format_loc",
    "with_article",
]

# Words whose leading vowel letter is said "you" (a user turn, a unicode string).
_SAID_YOU = ("uni", "use", "usu", "uti", "utf", "uint", "uri", "url")


def with_article(phrase: str) -> str:
    """``phrase`` after the indefinite article its first word takes.

    Messages built from a type or key name need this: ``an Instruction``, ``a Preference``,
    ``an 'input' key``, ``a user turn``. Quotes and brackets in front of the word are skipped.

    Example:
        >>> with_article("object"), with_article("'instruction' key"), with_article("user turn")
        ('an object', "an 'instruction' key", 'a user turn')
    """
    word = phrase.lstrip("'\"`([{").lower()
    vowel = word[:1] in ("a", "e", "i", "o") or (word[:1] == "u" and not word.startswith(_SAID_YOU))
    return f"{'an' if vowel else 'a'} {phrase}"


def describe_type(value: object) -> str:
    """Name a JSON value's type the way the error messages do (``a string``, ``null``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return with_article(type(value).__name__)


def format_loc(parts: Sequence[str | int]) -> str:
    """Render a field path such as ``("messages", 2, "role")`` as ``$.messages[2].role``.

    Args:
        parts: Keys (str) and list indices (int), outermost first.

    Returns:
        The JSON path, starting with ``$``.
    """
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part.isidentifier():
            out.append(f".{part}")
        else:
            out.append(f"[{part!r}]")
    return "".join(out)


class InstructkitError(Exception):
    """Base class of every error instructkit raises on purpose."""


class ConfigurationError(InstructkitError, ValueError):
    """An argument to an instructkit function is invalid (a caller's mistake, not bad data)."""


class DataError(InstructkitError, ValueError):
    """Bad data: a row, record, file or template that cannot be used as it is.

    Attributes:
        reason: What was expected and what came instead, without the location.
        loc: JSON path of the offending field (``$.messages[2].role``), or ``None``.
        file: The file the data came from, or ``None``.
        line: 1-based line number in a JSONL or JSON file, or ``None``.
        row: 0-based row index in a Parquet file or Arrow table, or ``None``.
    """

    def __init__(
        self,
        reason: str,
        *,
        loc: str | None = None,
        file: str | None = None,
        line: int | None = None,
        row: int | None = None,
    ) -> None:
        self.reason = reason
        self.loc = loc
        self.file = file
        self.line = line
        self.row = row
        super().__init__(self._compose())

    def _compose(self) -> str:
        text = self.reason
        if self.loc is not None:
            text += f" - at {self.loc}"
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if where:
            text += f" ({', '.join(where)})"
        return text

    def located(
        self,
        *,
        file: str | None = None,
        line: int | None = None,
        row: int | None = None,
        prefix: Sequence[str | int] = (),
        loc: str | None = None,
    ) -> DataError:
        """Return a copy of this error with file, line or row added and the path prefixed.

        Readers call this to add where a row came from to an error raised while parsing it;
        the copy is chained to the original with ``raise ... from``.

        Args:
            file: File name to record, if not already known.
            line: 1-based line to record, if not already known.
            row: 0-based row to record, if not already known.
            prefix: Path parts to put in front of the current location, for errors raised on
                a nested value.
            loc: JSON path to record, if not already known (``"$"`` for an error about a
                whole line, element or file).

        Returns:
            A new error of the same class.
        """
        loc = self.loc if self.loc is not None else loc
        if prefix:
            inner = (loc or "$")[1:]
            loc = format_loc(prefix) + inner
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        DataError.__init__(
            clone,
            self.reason,
            loc=loc,
            file=self.file if self.file is not None else file,
            line=self.line if self.line is not None else line,
            row=self.row if self.row is not None else row,
        )
        return clone


class RecordValidationError(DataError):
    """A record, or a value for one of its fields, breaks a validation rule.

    When several fields are wrong at once, :attr:`errors` lists each of them as
    ``(loc, reason)`` and the message describes the first.
    """

    def __init__(
        self, reason: str, *, errors: Sequence[tuple[str, str]] = (), **where: Any
    ) -> None:
        super().__init__(reason, **where)
        self.errors: tuple[tuple[str, str], ...] = tuple(errors) or ((self.loc or "$", reason),)


class DialectError(DataError):
    """A row does not have the shape its dialect requires (missing keys, wrong types, roles)."""


class DialectDetectionError(DialectError):
    """No known dialect fits the sampled rows."""


class LossyConversionError(DataError):
    """A conversion with ``strict=True`` would drop or invent information.

    Attributes:
        losses: The :class:`~instructkit.Loss` entries that the conversion would have recorded.
    """

    def __init__(self, reason: str, *, losses: Sequence[object] = (), **where: Any) -> None:
        self.losses = tuple(losses)
        super().__init__(reason, **where)


class MalformedJSONError(DataError):
    """Bytes that should hold JSON do not parse.

    Bytes that do not parse have no field to point at: unless a field is given (a repeated
    key), the error is located at the root, ``$``, of the line or element (``column`` and
    ``offset`` say where in its bytes).

    Attributes:
        column: 1-based column (in characters) of the problem within its line, if known.
        offset: 0-based byte offset of the problem from the start of the file, if known.
    """

    def __init__(
        self, reason: str, *, column: int | None = None, offset: int | None = None, **where: Any
    ) -> None:
        self.column = column
        self.offset = offset
        if where.get("loc") is None:
            where["loc"] = "$"
        super().__init__(reason, **where)

    def _compose(self) -> str:
        text = super()._compose()
        extra = []
        if self.column is not None:
            extra.append(f"column {self.column}")
        if self.offset is not None:
            extra.append(f"byte {self.offset}")
        if extra:
            text += f" ({', '.join(extra)})"
        return text


class ShardSetError(DataError):
    """Shard files that are not one committed set.

    Files of two writes, a commit that is incomplete (under way or killed), or a set
    replaced while it was being read.
    """


class TemplateError(DataError):
    """A template that cannot be built (bad placeholder, unknown field) or rendered."""
