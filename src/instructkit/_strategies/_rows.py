"""Raw rows of every dialect: valid ones, and invalid ones labelled with what is wrong.

Valid rows are what :func:`~instructkit.to_row` writes for generated records, plus cheap raw
variations a real file may have (another key order, an optional key spelled out). Invalid rows
are made from valid ones by one known-bad change. To know *where* a change will break the
row, whatever the dialect's layout, a marker text is put into one field that every record
needs to be non-empty (the first user turn, or the instruction); after ``to_row``, the row's
strings that carry the marker are exactly the places that hold that field, and are changed.
No example is rejected: a change is only drawn from those that apply to the row at hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from instructkit._dialects import dialect_names, get_dialect, to_row
from instructkit._errors import format_loc
from instructkit._records import ROLES, Conversation, Instruction, Message, Preference, Record
from instructkit._strategies._core import check_choice, check_strategy, defines_strategy
from instructkit._strategies._records import conversations, instructions, preferences

__all__ = ["INVALID_ROW_KINDS", "InvalidRow", "dialect_rows", "invalid_rows"]

_MARKER = "\ue000instructkit-marked-field\ue001"
_BAD_ROLE = "\ue000not-a-role"


class InvalidRow(NamedTuple):
    """A row that no correct parser of its dialect may accept, and why.

    Attributes:
        row: The row; usually a dict, but ``kind="not_an_object"`` rows are other JSON.
        kind: One of :data:`INVALID_ROW_KINDS`.
        reason: What is wrong, in words (for assertion messages).
    """

    row: Any
    kind: str
    reason: str


INVALID_ROW_KINDS = (
    "not_an_object",
    "empty_object",
    "missing_key",
    "wrong_type",
    "empty_text",
    "lone_surrogate",
    "unknown_role",
)
"""The kinds of damage :func:`invalid_rows` does, simplest first."""


def _records_for(dialect: str) -> st.SearchStrategy[Record]:
    kinds = get_dialect(dialect).record_types
    table: dict[type[Record], Callable[[], st.SearchStrategy[Any]]] = {
        Instruction: instructions,
        Conversation: conversations,
        Preference: preferences,
    }
    return st.one_of([table[kind]() for kind in kinds if kind in table])


def _layouts_for(dialect: str) -> st.SearchStrategy[str | None]:
    layouts = get_dialect(dialect).layouts
    return st.sampled_from((None, *layouts))


def _check_dialect(dialect: object) -> str:
    return check_choice(dialect, "dialect", dialect_names())


def _reorder(row: dict[str, Any], order: list[int]) -> dict[str, Any]:
    items = list(row.items())
    return dict(items[i] for i in order)


def _variations(dialect: str, row: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """Cheap raw differences real files have, which every reader must accept."""
    chosen = get_dialect(dialect)
    input_key = getattr(chosen, "input_key", None)
    if isinstance(input_key, str) and input_key not in row and draw(st.booleans()):
        # Writers leave out an empty optional input; many files spell it out as "".
        row = {**row, input_key: ""}
    order = draw(st.permutations(range(len(row))))
    return _reorder(row, list(order))


@defines_strategy
def dialect_rows(
    *,
    dialect: str,
    records: st.SearchStrategy[Record] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Raw rows (dicts of JSON data) of one dialect, each one that dialect must parse.

    Rows are :func:`~instructkit.to_row` of generated records (with a drawn layout, for
    dialects that have several), then varied the way real files vary: keys in any order, and
    optional empty columns sometimes spelled out. Losses ``to_row`` reports (a field the
    dialect has no place for) are accepted: the row is valid, it just holds less.

    Args:
        dialect: A name from :func:`~instructkit.dialect_names`; dialects added later are
            covered as soon as they are registered.
        records: Strategy for the records to write; default the record strategies for the
            record types the dialect writes (:func:`instructions`, :func:`conversations`,
            :func:`preferences`).

    Returns:
        A strategy for rows. Edge cases: every edge case of the record strategies, carried
        through the dialect's layout. Shrinks towards the row of the simplest record of the
        dialect's first record type, in the order ``to_row`` writes keys.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for an unknown dialect or a
            ``records`` that is not a strategy.

    Example:
        >>> from instructkit.strategies import dialect_rows
        >>> dialect_rows(dialect="alpaca")
        dialect_rows(dialect='alpaca')
    """
    name = _check_dialect(dialect)
    if records is not None:
        check_strategy(records, "records")
    chosen_records = _records_for(name) if records is None else records
    layouts = _layouts_for(name)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        record = draw(chosen_records)
        row = to_row(record, dialect=name, layout=draw(layouts))
        return _variations(name, row, draw)

    return build()


# --- invalid rows -------------------------------------------------------------------------


def _mark(record: Record) -> Record | None:
    """The record with its first required text replaced by the marker, if it has one."""
    if isinstance(record, Instruction):
        return record.model_copy(update={"instruction": _MARKER})
    if isinstance(record, Conversation):
        marked = _mark_turns(record.messages)
        return None if marked is None else record.model_copy(update={"messages": marked})
    if isinstance(record, Preference):
        for side in ("prompt", "chosen"):
            marked = _mark_turns(getattr(record, side))
            if marked is not None:
                return record.model_copy(update={side: marked})
    return None


def _mark_turns(turns: tuple[Message, ...]) -> tuple[Message, ...] | None:
    for index, message in enumerate(turns):
        needs_text = message.role in ("system", "developer", "user") or (
            message.role == "assistant" and not message.tool_calls
        )
        if needs_text:
            marked = message.model_copy(update={"content": _MARKER})
            return (*turns[:index], marked, *turns[index + 1 :])
    return None


Where = tuple[str | int, ...]


def _find(value: Any, path: Where, whole: list[Where], inside: list[Where]) -> None:
    if isinstance(value, str):
        if value == _MARKER:
            whole.append(path)
        elif _MARKER in value:
            inside.append(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            _find(item, (*path, key), whole, inside)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find(item, (*path, index), whole, inside)


def _parent(row: Any, path: Where) -> Any:
    for part in path[:-1]:
        row = row[part]
    return row


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _show(path: Where) -> str:
    return format_loc(path)


def _role_siblings(row: Any, whole: list[Where], dialect: str) -> list[Where]:
    words = set(get_dialect(dialect).roles) | set(ROLES)
    found = []
    for path in whole:
        if not path or not isinstance(path[-1], str):
            continue
        parent = _parent(row, path)
        for key in ("role", "from"):
            if isinstance(parent, dict) and parent.get(key) in words:
                found.append((*path[:-1], key))
    return found


def _damage(row: Any, kind: str, draw: st.DrawFn, dialect: str) -> InvalidRow:
    row = _copy(row)
    whole: list[Where] = []
    inside: list[Where] = []
    _find(row, (), whole, inside)
    if kind == "missing_key":
        paths = [p for p in whole if isinstance(p[-1], str)]
        for path in paths:
            del _parent(row, path)[path[-1]]
        reason = "required text key removed"
    elif kind == "wrong_type":
        bad: Any = draw(st.sampled_from([7, True, None, {}, []]))
        paths = whole
        for path in paths:
            _parent(row, path)[path[-1]] = _copy(bad)
        reason = f"required text replaced by {bad!r}"
    elif kind == "empty_text":
        paths = whole
        for path in paths:
            _parent(row, path)[path[-1]] = ""
        reason = "required text emptied"
    elif kind == "lone_surrogate":
        surrogate = draw(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
        paths = whole + inside
        for path in paths:
            parent = _parent(row, path)
            parent[path[-1]] = parent[path[-1]].replace(_MARKER, surrogate)
        reason = f"lone surrogate {surrogate!r} in required text"
    else:
        paths = _role_siblings(row, whole, dialect)
        for path in paths:
            _parent(row, path)[path[-1]] = _BAD_ROLE
        reason = f"role word {_BAD_ROLE!r}, which the dialect does not know,"
    where = ", ".join(_show(path) for path in paths)
    return InvalidRow(_unmark(row), kind, f"{reason} at {where}")


def _unmark(value: Any) -> Any:
    # Whatever still carries the marker gets ordinary text back, so that an invalid row has
    # exactly the damage its label names and nothing depends on the marker's spelling.
    if isinstance(value, str):
        return value.replace(_MARKER, "x")
    if isinstance(value, dict):
        return {key: _unmark(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unmark(item) for item in value]
    return value


@defines_strategy
def invalid_rows(
    *,
    dialect: str,
    records: st.SearchStrategy[Record] | None = None,
    kinds: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[InvalidRow]:
    r"""Rows that a parser of ``dialect`` must reject, each labelled with what is wrong.

    Each example is an :class:`InvalidRow` ``(row, kind, reason)``. The kinds, drawn from
    those that apply to the row at hand:

    * ``"not_an_object"``: JSON that is not an object (null, a number, a string, an array,
      or the valid row wrapped in an array).
    * ``"empty_object"``: ``{}``.
    * ``"missing_key"``: the key holding a required text (the instruction, or the first
      turn that needs text) is removed.
    * ``"wrong_type"``: that text is replaced by a number, boolean, null, object or array.
    * ``"empty_text"``: that text is replaced by ``""``.
    * ``"lone_surrogate"``: that text becomes a lone surrogate (also where a dialect embeds
      it in a longer string, such as a ``"\n\nHuman: ..."`` transcript).
    * ``"unknown_role"``: the role word of that turn is replaced by one the dialect does
      not know (chat dialects).

    Args:
        dialect: A name from :func:`~instructkit.dialect_names`.
        records: Strategy for the records the rows start from; default as for
            :func:`dialect_rows`.
        kinds: Strategy for the kinds to make; default any of :data:`INVALID_ROW_KINDS`.
            A drawn kind that does not apply to a row falls back to ``"not_an_object"``,
            which always applies; drawing an unknown kind raises InvalidArgument.

    Returns:
        A strategy for invalid rows. ``parse_row(example.row, dialect=dialect)`` raises a
        :class:`~instructkit.DataError` for every example. Shrinks towards
        ``InvalidRow(None, "not_an_object", ...)``.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for an unknown dialect or kind.
    """
    name = _check_dialect(dialect)
    if records is not None:
        check_strategy(records, "records")
    chosen_records = _records_for(name) if records is None else records
    if kinds is not None:
        check_strategy(kinds, "kinds")
    chosen_kinds = st.sampled_from(INVALID_ROW_KINDS) if kinds is None else kinds
    layouts = _layouts_for(name)

    @st.composite
    def build(draw: st.DrawFn) -> InvalidRow:
        kind = draw(chosen_kinds)
        if kind not in INVALID_ROW_KINDS:
            raise InvalidArgument(
                f"expected kinds to draw one of {list(INVALID_ROW_KINDS)}, got {kind!r}"
            )
        if kind == "empty_object":
            return InvalidRow({}, kind, "an empty object has none of the dialect's keys")
        record = draw(chosen_records)
        marked = _mark(record)
        row = to_row(marked if marked is not None else record, dialect=name, layout=draw(layouts))
        whole: list[Where] = []
        inside: list[Where] = []
        _find(row, (), whole, inside)
        applicable = {
            "missing_key": any(isinstance(p[-1], str) for p in whole),
            "wrong_type": bool(whole),
            "empty_text": bool(whole),
            "lone_surrogate": bool(whole or inside),
            "unknown_role": bool(_role_siblings(row, whole, name)),
        }
        if kind != "not_an_object" and applicable.get(kind):
            return _damage(row, kind, draw, name)
        row = _unmark(row)
        value: Any = draw(st.sampled_from([None, 0, "text", [], "wrapped"]))
        if value == "wrapped":
            return InvalidRow([row], "not_an_object", "a valid row wrapped in an array")
        return InvalidRow(value, "not_an_object", f"a row must be a JSON object, got {value!r}")

    return build()
