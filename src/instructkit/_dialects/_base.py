"""What every dialect shares: the :class:`Dialect` contract and the per-call :class:`Conversion`.

A dialect is one on-disk layout (Alpaca, ShareGPT, OpenAI chat ...). It turns a row (a JSON
object as a dict) into a record and back, and says how well a row looks like its layout so
that :func:`~instructkit.detect_dialect` can vote. Dialects never see the user's renamed
columns: :class:`Conversion` applies ``column_map`` and ``role_map`` on the way in and out, and
relocates record-validation errors onto the row's own field paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from instructkit._errors import (
    ConfigurationError,
    DialectError,
    RecordValidationError,
    describe_type,
    format_loc,
    with_article,
)
from instructkit._records import (
    ROLES,
    Conversation,
    Instruction,
    Record,
)
from instructkit._reports import Loss, LossKind, LossReport

__all__ = [
    "JSON_NAMES",
    "NO_MATCH",
    "Conversion",
    "Dialect",
    "Match",
    "Path",
    "describe_type",
    "keys_score",
    "message_path_mapper",
]

Path = tuple[str | int, ...]
_T = TypeVar("_T")


@dataclass(frozen=True)
class Match:
    """How well one row fits a dialect.

    Attributes:
        score: 0 (cannot be this dialect) to 1 (only this dialect has these exact keys).
        layout: For dialects with several layouts (``trl``), which one the row uses.
    """

    score: float
    layout: str | None = None


NO_MATCH = Match(0.0)


class Conversion:
    """The state of one row conversion: column and role maps, and the losses so far.

    Dialects call its helpers instead of indexing rows directly, so that errors are located
    and phrased the same way in every dialect.
    """

    def __init__(
        self,
        dialect: Dialect,
        *,
        column_map: Mapping[str, str] | None,
        role_map: Mapping[str, str] | None,
    ) -> None:
        self.dialect = dialect
        self.losses: list[Loss] = []
        # When writing: the record's bookkeeping meta entries, taken out of its meta by
        # to_row; a dialect pops those it writes in its own columns, the rest are reported.
        self.bookkeeping: dict[str, Any] = {}
        column_map = dict(column_map or {})
        known = set(dialect.columns) | set(dialect.message_keys)
        unknown = sorted(set(column_map) - known)
        if unknown:
            raise ConfigurationError(
                f"column_map for dialect {dialect.name!r} expects keys among "
                f"{sorted(known)}, got {unknown}"
            )
        self._columns = column_map
        roles: dict[str, str] = dict(dialect.roles)
        for source, target in (role_map or {}).items():
            if target not in ROLES:
                raise ConfigurationError(
                    f"role_map values must be instructkit roles {list(ROLES)}, "
                    f"got {target!r} for {source!r}"
                )
            roles[source] = target
        self._roles_in = roles
        # A role_map describes the data's own vocabulary, so writing with the same map must
        # give that vocabulary back: the first word it maps to a role replaces the dialect's.
        out: dict[str, str] = dict(dialect.roles_out)
        claimed: set[str] = set()
        for source, target in (role_map or {}).items():
            if target not in claimed:
                out[target] = source
                claimed.add(target)
        self._roles_out = out

    # -- columns ---------------------------------------------------------------------------

    def col(self, name: str) -> str:
        """The key the data actually uses for the dialect's column or message key ``name``."""
        return self._columns.get(name, name)

    def rename_in(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``row`` with the user's column names replaced by the dialect's."""
        if not self._columns:
            return dict(row)
        # Only top-level columns: a message key's renaming applies inside messages.
        back = {
            actual: canonical
            for canonical, actual in self._columns.items()
            if canonical in self.dialect.columns
        }
        return {back.get(key, key): value for key, value in row.items()}

    def rename_out(self, row: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``row`` with the dialect's column names replaced by the user's."""
        if not self._columns:
            return row
        columns = self.dialect.columns
        return {
            (self._columns.get(key, key) if key in columns else key): value
            for key, value in row.items()
        }

    def row_loc(self, path: Path) -> str:
        """The JSON path of ``path`` in the user's own column names."""
        renamed: list[str | int] = [
            self.col(part) if isinstance(part, str) else part for part in path
        ]
        return format_loc(renamed)

    # -- reading ---------------------------------------------------------------------------

    def fail(self, reason: str, path: Path = ()) -> DialectError:
        """Make (not raise) a :class:`DialectError` located at ``path`` of the row."""
        return DialectError(self.dialect.message(reason), loc=self.row_loc(path))

    def get(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: Path,
        kind: type[_T] | tuple[type, ...],
        *,
        required: bool = True,
        nullable: bool = False,
    ) -> Any:
        """Read ``obj[key]`` and check its JSON type.

        Args:
            obj: The object (row or nested object) to read from.
            key: The dialect's name for the key (``col`` maps it to the data's).
            path: Where ``obj`` sits in the row.
            kind: Accepted Python type(s): ``str``, ``list``, ``dict``, ``bool``, ``int``...
            required: Missing keys raise; otherwise they read as ``None``.
            nullable: ``None`` is accepted (and returned).

        Returns:
            The value, or ``None`` when absent and not required, or null and nullable.

        Raises:
            DialectError: missing, or of the wrong type.
        """
        # The row itself (path ``()``) was renamed to the dialect's names by rename_in;
        # nested objects keep the data's names, which ``col`` gives.
        actual = self.col(key) if path else key
        here = (*path, key)
        if actual not in obj:
            if required:
                present = ", ".join(repr(k if path else self.col(k)) for k in obj) or "none"
                wanted = with_article(f"{self.col(key)!r} key")
                raise self.fail(f"expected {wanted}, got keys {present}", path)
            return None
        value = obj[actual]
        if value is None and nullable:
            return None
        accepted = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in accepted:
            ok = False
        else:
            ok = isinstance(value, accepted)
        if not ok:
            names = " or ".join(JSON_NAMES.get(k, k.__name__) for k in accepted)
            if nullable:
                names += " or null"
            raise self.fail(f"expected {names}, got {describe_type(value)}", here)
        return value

    def role_in(self, value: object, path: Path) -> str:
        """Map the data's role word at ``path`` to an instructkit role."""
        if not isinstance(value, str):
            raise self.fail(f"expected a role string, got {describe_type(value)}", path)
        role = self._roles_in.get(value)
        if role is None:
            known = ", ".join(repr(r) for r in self._roles_in)
            raise self.fail(
                f"expected a role among {known} (extend role_map= for others), got {value!r}",
                path,
            )
        return role

    def role_out(self, role: str) -> str:
        """The data's word for the instructkit role ``role``."""
        return self._roles_out.get(role, role)

    def records_roles(self) -> Mapping[str, str]:
        """Every role word this conversion accepts and the role it maps to."""
        return self._roles_in

    # -- losses ----------------------------------------------------------------------------

    def lost(self, kind: LossKind, field: str, detail: str) -> None:
        """Record that this conversion dropped, invented or changed ``field``.

        A loss already recorded is not recorded again, so that a report counts rows, not
        the turns of one row that lost the same thing (``$.messages[*].name``).
        """
        loss = Loss(kind, field, detail)
        if loss not in self.losses:
            self.losses.append(loss)

    # -- building records with located errors ----------------------------------------------

    def build(
        self,
        make: Callable[[], _T],
        *,
        where: Callable[[str], str] | None = None,
    ) -> _T:
        """Call ``make`` (which builds a record) and relocate its validation error to the row.

        Args:
            make: Builds the record.
            where: Maps a record path (``$.messages[2].content``) to the row path
                (``$.conversations[2].value``). Without it, record paths are used as they are.

        Returns:
            What ``make`` returned.

        Raises:
            RecordValidationError: the record is invalid; located on the row.
        """
        try:
            return make()
        except RecordValidationError as err:
            loc = err.loc or "$"
            row_loc = where(loc) if where is not None else loc
            errors = [((where(p) if where else p), r) for p, r in err.errors]
            raise RecordValidationError(
                self.dialect.message(err.reason), loc=row_loc, errors=errors
            ) from err


JSON_NAMES: dict[type, str] = {
    str: "a string",
    list: "an array",
    dict: "an object",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
}
"""How error messages name the JSON type that each accepted Python type stands for."""


def message_path_mapper(
    positions: Sequence[Path | None],
    field_names: Mapping[str, str],
    conv: Conversion,
    *,
    record_field: str = "messages",
    fallback: Path = (),
) -> Callable[[str], str]:
    """Build a ``where=`` for :meth:`Conversion.build` on message lists.

    Args:
        positions: For each record message index, its path in the row (``None`` when the
            message has no single place in the row, e.g. a system prompt from a column).
        field_names: Record message field -> the dialect's key for it (``content`` -> ``value``).
        conv: The conversion, for the user's column names.
        record_field: The record field holding the messages (``messages``, ``chosen`` ...).
        fallback: Row path to use when the record path points elsewhere.

    Returns:
        A function from a record path to the row path.
    """
    head = f"$.{record_field}["

    def where(loc: str) -> str:
        if not loc.startswith(head):
            return conv.row_loc(fallback) if fallback else loc
        index_text, _, rest = loc[len(head) :].partition("]")
        index = int(index_text)
        base = positions[index] if index < len(positions) else None
        if base is None:
            return conv.row_loc(fallback) if fallback else loc
        tail: list[str | int] = []
        for piece in _split_rest(rest):
            if isinstance(piece, str):
                tail.append(field_names.get(piece, piece) if not tail else piece)
            else:
                tail.append(piece)
        return conv.row_loc((*base, *tail))

    return where


def _split_rest(rest: str) -> list[str | int]:
    parts: list[str | int] = []
    i = 0
    while i < len(rest):
        if rest[i] == ".":
            j = i + 1
            while j < len(rest) and rest[j] not in ".[":
                j += 1
            parts.append(rest[i + 1 : j])
            i = j
        elif rest[i] == "[":
            j = rest.index("]", i)
            token = rest[i + 1 : j]
            parts.append(int(token) if token.isdigit() else token.strip("'\""))
            i = j + 1
        else:
            i += 1
    return parts


class Dialect:
    """One on-disk layout of instruction data.

    Subclasses set the class attributes and implement :meth:`match`, :meth:`parse` and
    :meth:`emit`. They raise :class:`DialectError` (through :meth:`Conversion.fail` and
    :meth:`Conversion.get`) for rows of the wrong shape, build records through
    :meth:`Conversion.build`, and record every loss with :meth:`Conversion.lost`.
    """

    name: ClassVar[str]
    """The name users pass as ``dialect=``."""
    summary: ClassVar[str]
    """One line for the formats reference."""
    columns: ClassVar[tuple[str, ...]]
    """Top-level keys the dialect reads or writes (what ``column_map`` may rename)."""
    message_keys: ClassVar[tuple[str, ...]] = ()
    """Keys inside message objects that ``column_map`` may rename."""
    roles: ClassVar[Mapping[str, str]] = {}
    """The data's role words -> instructkit roles, accepted when reading."""
    roles_out: ClassVar[Mapping[str, str]] = {}
    """instructkit roles -> the data's role words, used when writing."""
    layouts: ClassVar[tuple[str, ...]] = ()
    """Named layouts for ``to_row(..., layout=)``; empty when the dialect has one layout."""
    meta_columns: ClassVar[tuple[str, ...]] = ()
    """Columns of the layout that are read into ``meta`` under their own names and written
    back from there (Dolly's ``category``); every other column is never a side column."""
    record_types: ClassVar[tuple[type[Record], ...]]
    """Record types this dialect reads into (the first is the default) and writes from."""
    layout_extras: ClassVar[tuple[str, ...]] = ()
    """Columns that belong to the layout although they are kept in ``meta`` (Flan's task
    metadata): detection does not count them as unread."""

    def unread(self, row: Mapping[str, Any]) -> list[str]:
        """The columns of ``row`` (in the dialect's names) that the dialect does not read.

        They are kept in ``meta``, but a row that has them may be another layout misread.
        """
        return [key for key in row if key not in self.columns and key not in self.layout_extras]

    def message(self, reason: str) -> str:
        """``reason`` as an error message that names this dialect.

        Every error about a row of a dialect starts the same way, so that a reader (or
        :func:`~instructkit.detect_dialect`, which quotes them) can tell which layout was
        tried: ``dialect 'alpaca': expected an 'output' key, got keys 'instruction'``.
        """
        return f"dialect {self.name!r}: {reason}"

    def match(self, row: Mapping[str, Any]) -> Match:
        """Score how well ``row`` (already renamed to the dialect's columns) fits."""
        raise NotImplementedError

    def parse(self, row: Mapping[str, Any], conv: Conversion) -> Record:
        """Turn ``row`` (already renamed to the dialect's columns) into a record."""
        raise NotImplementedError

    def emit(self, record: Record, conv: Conversion, layout: str | None) -> dict[str, Any]:
        """Turn ``record`` into a row in the dialect's column names."""
        raise NotImplementedError

    def layout_of(self, row: Mapping[str, Any], conv: Conversion) -> str | None:
        """The layout of ``row`` (already renamed to the dialect's columns), if it has several."""
        return self.match(row).layout

    def layout_types(self, layout: str) -> tuple[type[Record], ...]:
        """The record types ``layout`` writes (a remembered layout is used only for them)."""
        return self.record_types

    def default_layout(self, record: Record) -> str | None:
        """The layout ``to_row`` writes ``record`` in when neither ``layout=`` nor its meta says.

        The first of :attr:`layouts` that writes the record's type; ``None`` for dialects
        with a single layout.
        """
        for layout in self.layouts:
            if isinstance(record, self.layout_types(layout)):
                return layout
        return None

    def layout_for(self, record: Record, layout: str | None) -> str | None:
        """``layout``, or :meth:`default_layout` for ``record`` when it is ``None``.

        Raises:
            ConfigurationError: the layout does not hold records of this type.
        """
        if layout is None:
            layout = self.default_layout(record)
        if layout is not None and not isinstance(record, self.layout_types(layout)):
            wanted = " or ".join(kind.__name__ for kind in self.layout_types(layout))
            raise ConfigurationError(
                f"expected {with_article(wanted)} for {self.name} layout {layout!r}, got "
                f"{with_article(type(record).__name__)}"
            )
        return layout

    def coerce(self, record: Record, conv: Conversion) -> Record:
        """Convert ``record`` into a type this dialect writes, recording what is lost.

        The default converts between :class:`Instruction` and :class:`Conversation` when
        the dialect only handles one of them; subclasses may extend it.
        """
        if isinstance(record, self.record_types):
            return record
        if isinstance(record, Instruction) and Conversation in self.record_types:
            return record.to_conversation()
        if isinstance(record, Conversation) and Instruction in self.record_types:
            report = LossReport()
            instruction = record.to_instruction(strict=False, losses=report)
            conv.losses.extend(report)
            return instruction
        wanted = " or ".join(t.__name__ for t in self.record_types)
        raise ConfigurationError(
            f"dialect {self.name!r} writes {wanted} records, got "
            f"{with_article(type(record).__name__)}"
        )


def keys_score(row: Mapping[str, Any], required: Iterable[str], optional: Iterable[str]) -> float:
    """Score a row by its keys.

    0 unless every required key is there, then the share of the row's keys that the dialect
    knows, so extra, unknown columns lower the score but do not veto.
    """
    keys = set(row)
    required = set(required)
    if not required <= keys:
        return 0.0
    known = required | set(optional)
    return len(keys & known) / len(keys) if keys else 0.0
