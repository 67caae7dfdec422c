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

from instructkit._dialects import IMAGE_PLACEHOLDER, dialect_names, get_dialect, parse_row, to_row
from instructkit._errors import DataError, format_loc
from instructkit._records import ROLES, Conversation, Instruction, Message, Preference, Record
from instructkit.strategies._core import check_choice, check_strategy, defines_strategy
from instructkit.strategies._json import meta_dicts, record_ids
from instructkit.strategies._records import conversations, instructions, messages, preferences
from instructkit.strategies._text import texts

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
    "empty_object",
    "not_an_object",
    "missing_key",
    "wrong_type",
    "empty_text",
    "lone_surrogate",
    "unknown_role",
)
"""The kinds of damage :func:`invalid_rows` does, simplest first."""


_EMPTY = InvalidRow({}, "empty_object", "an empty object has none of the dialect's keys")


Source = tuple[Record, "str | None"]

OPENAI_DPO_SHAPES = ("independent", "identical", "text_prefix")
"""Preference shapes an OpenAI DPO line holds: a prompt, and outputs of assistant turns."""

_DOLLY_CATEGORIES = (
    "brainstorming",
    "classification",
    "closed_qa",
    "creative_writing",
    "general_qa",
    "information_extraction",
    "open_qa",
    "summarization",
)


def _default_records(dialect: str) -> st.SearchStrategy[Record]:
    table: dict[type[Record], Callable[[], st.SearchStrategy[Any]]] = {
        Instruction: instructions,
        Conversation: conversations,
        Preference: preferences,
    }
    kinds = get_dialect(dialect).record_types
    return st.one_of([table[kind]() for kind in kinds if kind in table])


def _single_turn(role: str) -> st.SearchStrategy[Record]:
    return st.builds(
        lambda message, record_id, meta: Conversation(messages=[message], id=record_id, meta=meta),
        messages(roles=st.just(role), max_tool_calls=0),
        record_ids(),
        meta_dicts(),
    )


def _hh_text(text: str) -> str:
    # A speaker marker inside turn text would be read back as a new turn, so HH cannot
    # hold one; a space before the colon keeps the text readable and makes it harmless.
    for word in get_dialect("hh").roles:
        text = text.replace(f"\n\n{word}:", f"\n\n{word} :")
    return text


def _visible(text: str) -> str:
    # LLaMA-Factory reads "<image>" in text as an image, so a record holding images cannot
    # have it in its text; a space keeps such text readable and harmless.
    return text.replace(IMAGE_PLACEHOLDER, "<image >")


def _vision_chats(**options: Any) -> st.SearchStrategy[Conversation]:
    """Conversations whose user turns may hold image parts, as vision datasets have."""
    return conversations(content_parts=True, text=texts().map(_visible), **options)


def _vision_pairs(**options: Any) -> st.SearchStrategy[Preference]:
    """Pairs with image parts in the prompt only, where TRL and LLaMA-Factory bind images."""
    return preferences(
        min_prompt_exchanges=0,
        content_parts=True,
        text=texts().map(_visible),
        shapes=st.sampled_from(OPENAI_DPO_SHAPES),
        **options,
    )


def _trl_sources() -> st.SearchStrategy[Source]:
    # Each TRL layout holds one shape of record; write each with records of that shape.
    chats = conversations() | instructions()
    plain_pairs = preferences(
        max_prompt_exchanges=0,
        max_system_turns=0,
        max_tool_calls=0,
        shapes=st.sampled_from(("independent", "identical", "text_prefix")),
    )
    table: dict[str | None, st.SearchStrategy[Record]] = {
        None: chats | preferences() | _vision_chats(),
        "conversational_language_modeling": chats | _vision_chats(),
        "standard_language_modeling": _single_turn("assistant"),
        "conversational_prompt_only": conversations(),
        "standard_prompt_only": _single_turn("user"),
        "conversational_prompt_completion": chats,
        "standard_prompt_completion": instructions(systems=st.none()) | _single_turn("assistant"),
        "conversational_preference": preferences() | _vision_pairs(),
        "standard_preference": plain_pairs,
        "conversational_implicit_preference": preferences(),
        "standard_implicit_preference": plain_pairs,
    }
    return _by_layout(table)


def _by_layout(table: dict[str | None, st.SearchStrategy[Record]]) -> st.SearchStrategy[Source]:
    """A layout of ``table`` (None: the dialect's default) and a record of the shape it holds."""
    return st.sampled_from(list(table)).flatmap(
        lambda layout: st.tuples(table[layout], st.just(layout))
    )


def _single_answer_pairs() -> st.SearchStrategy[Preference]:
    # LLaMA-Factory's ranking rows hold one plain answer turn per side.
    return preferences(
        max_tool_calls=0, shapes=st.sampled_from(("independent", "identical", "text_prefix"))
    ) | _vision_pairs(max_tool_calls=0)


def _sharegpt_sources() -> st.SearchStrategy[Source]:
    ranking = _single_answer_pairs()
    chats = conversations() | _vision_chats()
    return _by_layout(
        {
            None: chats | ranking,
            "conversations": chats,
            "system_column": chats,
            "ranking": ranking,
        }
    )


def _developer_as_system(record: Record) -> Record:
    # Alpaca's only place for a leading instruction to the model is its system column.
    def fix(turns: tuple[Message, ...]) -> tuple[Message, ...]:
        return tuple(
            turn.model_copy(update={"role": "system"}) if turn.role == "developer" else turn
            for turn in turns
        )

    if isinstance(record, Conversation):
        return record.model_copy(update={"messages": fix(record.messages)})
    if isinstance(record, Preference):
        return record.model_copy(update={"prompt": fix(record.prompt)})
    return record


def _alpaca_sources() -> st.SearchStrategy[Source]:
    # Plain-text exchanges after at most one system turn: earlier ones go to ``history``.
    chats = instructions() | (
        conversations(max_system_turns=1, max_tool_calls=0)
        | _vision_chats(max_system_turns=1, max_tool_calls=0)
    ).map(_developer_as_system)
    ranking = _single_answer_pairs().map(_developer_as_system)
    return _by_layout({None: chats | ranking, "supervised": chats, "ranking": ranking})


def _tuned_sources(dialect: str) -> st.SearchStrategy[Source] | None:
    if dialect == "trl":
        return _trl_sources()
    if dialect == "hh":
        return st.tuples(preferences(text=texts(min_size=1).map(_hh_text)), st.none())
    if dialect == "sharegpt":
        return _sharegpt_sources()
    if dialect == "alpaca":
        return _alpaca_sources()
    if dialect == "openai_dpo":
        # OpenAI DPO lines need a prompt and outputs that are assistant turns (with tool
        # results): shapes whose sides go on with a user turn have no line.
        layouts = get_dialect(dialect).layouts
        pairs = preferences(shapes=st.sampled_from(OPENAI_DPO_SHAPES))
        return st.tuples(pairs, st.sampled_from((None, *layouts)))
    if dialect == "dolly":
        # Dolly rows carry a category, kept in meta under that name.
        categorised = st.builds(
            lambda meta, category: {**meta, "category": category},
            meta_dicts(),
            st.sampled_from(_DOLLY_CATEGORIES),
        )
        return st.tuples(instructions(meta=meta_dicts() | categorised), st.none())
    return None


def _sources(dialect: str, records: st.SearchStrategy[Record] | None) -> st.SearchStrategy[Source]:
    """Records to write and the layout to write them in (None: the dialect's default)."""
    if records is not None:
        return st.tuples(records, st.none())
    tuned = _tuned_sources(dialect)
    if tuned is not None:
        return tuned
    # A dialect this module knows nothing special about: its default layout for each
    # record type it writes, which every dialect must be able to write.
    return st.tuples(_default_records(dialect), st.none())


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
    r"""Raw rows (dicts of JSON data) of one dialect, each one that dialect must parse.

    Rows are :func:`~instructkit.to_row` of generated records, then varied the way real
    files vary: keys in any order, and optional empty columns sometimes spelled out. Losses
    ``to_row`` reports (a field the dialect has no place for) are accepted: the row is
    valid, it just holds less. Where a dialect can only hold some records, the records are
    made to fit: each TRL layout is drawn with records of the shape it holds (a lone
    assistant turn for ``standard_language_modeling``, plain single-turn pairs for the
    standard preference layouts, ...), ShareGPT, Alpaca and OpenAI DPO rows use all their
    layouts (LLaMA-Factory's ranking rows with one plain answer per side, Alpaca ``history``
    rows with plain-text exchanges after at most one system turn), Dolly rows often have a
    ``category``, and HH turn text never contains a speaker marker (``"\n\nHuman:"`` gets a
    space before its colon), which HH cannot hold. A dialect registered later is written in
    its default layout for each record type it writes.

    Args:
        dialect: A name from :func:`~instructkit.dialects.dialect_names`; dialects added later are
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
    sources = _sources(name, records)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        record, layout = draw(sources)
        row = to_row(record, dialect=name, layout=layout)
        return _variations(name, row, draw)

    return build()


# --- invalid rows -------------------------------------------------------------------------


def _mark(record: Record) -> Record | None:
    """The record with one required text replaced by the marker, if it has one.

    The answer is marked rather than the question: every layout has a required place for
    the answer, while some keep the prompt in a column that may be absent or empty (TRL's
    standard layouts) or move system turns to an optional column (ShareGPT).
    """
    if isinstance(record, Instruction):
        return record.model_copy(update={"response": _MARKER})
    if isinstance(record, Conversation):
        marked = _mark_turns(record.messages)
        return None if marked is None else record.model_copy(update={"messages": marked})
    if isinstance(record, Preference):
        for side in ("chosen", "prompt", "rejected"):
            marked = _mark_turns(getattr(record, side))
            if marked is not None:
                return record.model_copy(update={side: marked})
    return None


def _mark_turns(turns: tuple[Message, ...]) -> tuple[Message, ...] | None:
    def rank(index: int) -> tuple[int, int]:
        message = turns[index]
        if message.role == "assistant" and not message.tool_calls:
            return (0, -index)  # the last plain answer first
        if message.role == "user":
            return (1, index)
        return (2, index)

    for index in sorted(range(len(turns)), key=rank):
        message = turns[index]
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


def _removable(row: Any, whole: list[Where], dialect: str) -> list[Where]:
    """The marked places whose key can be removed to make the row invalid.

    In a dialect with several layouts told apart by their columns (TRL), removing a
    top-level column can turn the row into another valid layout (prompt-completion without
    its completion is a prompt-only row): when removing the marked keys leaves a row that
    still parses, or one refused for a reason elsewhere (an empty prompt that the other
    layout does not allow), only keys inside nested objects are removed.
    """
    paths = [path for path in whole if isinstance(path[-1], str)]
    if any(len(path) == 1 for path in paths):
        trial = _copy(row)
        for path in paths:
            del _parent(trial, path)[path[-1]]
        try:
            parse_row(trial, dialect=dialect)
        except DataError as err:
            loc = err.loc or "$"
            shown = [_show(path) for path in paths]
            if any(place.startswith(loc) or loc.startswith(place) for place in shown):
                return paths
        return [path for path in paths if len(path) > 1]
    return paths


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
        paths = _removable(row, whole, dialect)
        for path in paths:
            del _parent(row, path)[path[-1]]
        reason = "required text key removed"
    elif kind == "wrong_type":
        # Where layouts are told apart by their columns (TRL), a null top-level column counts
        # as absent, so it can select another valid layout, as a removed one can (see
        # _removable): there a top-level text gets only the other wrong types.
        null_is_absent = bool(get_dialect(dialect).layouts) and any(len(p) == 1 for p in whole)
        wrong = [7, True, {}, []] if null_is_absent else [7, True, None, {}, []]
        bad: Any = draw(st.sampled_from(wrong))
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

    * ``"empty_object"``: ``{}``.
    * ``"not_an_object"``: JSON that is not an object (null, a number, a string, an array,
      or a valid row wrapped in an array).
    * ``"missing_key"``: the key holding a required text (the response, or the last plain
      assistant answer; a user turn where there is none) is removed.
    * ``"wrong_type"``: that text is replaced by a number, boolean, null, object or array.
    * ``"empty_text"``: that text is replaced by ``""``.
    * ``"lone_surrogate"``: that text becomes a lone surrogate (also where a dialect embeds
      it in a longer string, such as a ``"\n\nHuman: ..."`` transcript).
    * ``"unknown_role"``: the role word of that turn is replaced by one the dialect does
      not know (chat dialects).

    Args:
        dialect: A name from :func:`~instructkit.dialects.dialect_names`.
        records: Strategy for the records the rows start from; default as for
            :func:`dialect_rows`.
        kinds: Strategy for the kinds to make; default any of :data:`INVALID_ROW_KINDS`.
            A drawn kind that does not apply to the row at hand (``"unknown_role"`` for a
            dialect without role words, say) gives ``"empty_object"``, which always
            applies; drawing an unknown kind raises InvalidArgument.

    Returns:
        A strategy for invalid rows. ``parse_row(example.row, dialect=dialect)`` raises a
        :class:`~instructkit.DataError` for every example. Shrinks towards
        ``InvalidRow({}, "empty_object", ...)``.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for an unknown dialect or kind.
    """
    name = _check_dialect(dialect)
    if records is not None:
        check_strategy(records, "records")
    sources = _sources(name, records)
    if kinds is not None:
        check_strategy(kinds, "kinds")
    chosen_kinds = st.sampled_from(INVALID_ROW_KINDS) if kinds is None else kinds

    @st.composite
    def build(draw: st.DrawFn) -> InvalidRow:
        kind = draw(chosen_kinds)
        if kind not in INVALID_ROW_KINDS:
            raise InvalidArgument(
                f"expected kinds to draw one of {list(INVALID_ROW_KINDS)}, got {kind!r}"
            )
        if kind == "empty_object":
            return _EMPTY
        if kind == "not_an_object":
            value: Any = draw(st.sampled_from([None, 0, "text", [], "wrapped"]))
            if value != "wrapped":
                return InvalidRow(value, kind, f"a row must be a JSON object, got {value!r}")
            record, layout = draw(sources)
            row = to_row(record, dialect=name, layout=layout)
            return InvalidRow([row], kind, "a valid row wrapped in an array")
        record, layout = draw(sources)
        marked = _mark(record)
        row = to_row(marked if marked is not None else record, dialect=name, layout=layout)
        whole: list[Where] = []
        inside: list[Where] = []
        _find(row, (), whole, inside)
        applicable = {
            "missing_key": bool(_removable(row, whole, name)),
            "wrong_type": bool(whole),
            "empty_text": bool(whole),
            "lone_surrogate": bool(whole or inside),
            "unknown_role": bool(_role_siblings(row, whole, name)),
        }
        if not applicable[kind]:
            # HH embeds every text in a transcript string; a surrogate still breaks it.
            kind = "lone_surrogate" if applicable["lone_surrogate"] else "empty_object"
        if kind == "empty_object":
            return _EMPTY
        return _damage(row, kind, draw, name)

    return build()
