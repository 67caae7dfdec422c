"""Validated construction of records from rows in instructkit's own layout, without pydantic.

Reading a native JSONL file spends most of its time in pydantic validation, which is about
twice the cost of parsing the JSON. For the common shapes (an :class:`Instruction`; a
:class:`Conversation` without tools, tool calls or tool turns) the rules are few, so this
module checks them directly on the parsed dict and builds the frozen model the way pydantic's
``model_construct`` does. Conversations with tools, and preferences, take a second, slower
pass: it checks the types here, then runs the records' own rules on what it built
(:func:`~instructkit._records.check_message`, :func:`~instructkit._records.check_turns` and
:func:`~instructkit._records.check_json_text`). Anything unusual (a missing or extra key, a
wrong type, an empty text) returns ``None`` and the caller falls back to full
validation, which then produces the proper located error. So this path may only *accept*
rows that full validation accepts too, and must build equal records; tests check both on
generated records.

The input must come from a JSON parser that rejects lone surrogates (orjson does), because
the UTF-8 check of :func:`~instructkit._records.check_text` is skipped.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel

from instructkit._errors import RecordValidationError
from instructkit._records import (
    EARLY_ROLES,
    MAX_WEIGHT,
    MIN_WEIGHT,
    ROLES,
    Conversation,
    Instruction,
    Message,
    Preference,
    Record,
    ToolCall,
    check_json_text,
    check_message,
    check_turns,
    construct_record,
)

__all__ = ["build_native", "native_duplicate_free"]

_INSTRUCTION_FIELDS: Final = ("instruction", "input", "response", "system", "id", "meta")
_MESSAGE_FIELDS: Final = (
    "role",
    "content",
    "name",
    "tool_calls",
    "tool_call_id",
    "reasoning",
    "weight",
)
_CONVERSATION_FIELDS: Final = ("messages", "tools", "id", "meta")
_PREFERENCE_FIELDS: Final = ("prompt", "chosen", "rejected", "tools", "id", "meta")
_PREFERENCE_KEYS: Final = frozenset(_PREFERENCE_FIELDS)
_TOOL_CALL_FIELDS: Final = ("id", "name", "arguments")
_TOOL_CALL_KEYS: Final = frozenset(_TOOL_CALL_FIELDS)
_INSTRUCTION_SET: Final = set(_INSTRUCTION_FIELDS)
_MESSAGE_SET: Final = set(_MESSAGE_FIELDS)
_INSTRUCTION_KEYS: Final = frozenset(_INSTRUCTION_FIELDS)
_MESSAGE_KEYS: Final = frozenset(_MESSAGE_FIELDS)
_CONVERSATION_KEYS: Final = frozenset(_CONVERSATION_FIELDS)
# The records' own role lists, as sets: the first pass takes every role but "tool", whose
# turns need the records' rules between fields (the second pass).
_ROLES: Final = frozenset(ROLES)
_PLAIN_ROLES: Final = _ROLES - {"tool"}
_EARLY_ROLES: Final = frozenset(EARLY_ROLES)

# The fast path is only correct for the field lists above; if the records change, it turns
# itself off rather than build records pydantic would not.
_ENABLED: Final = (
    tuple(Instruction.model_fields) == _INSTRUCTION_FIELDS
    and tuple(Message.model_fields) == _MESSAGE_FIELDS
    and tuple(Conversation.model_fields) == _CONVERSATION_FIELDS
    and tuple(ToolCall.model_fields) == _TOOL_CALL_FIELDS
    and tuple(Preference.model_fields) == _PREFERENCE_FIELDS
)

_new = object.__new__
# pydantic keeps these in slots; their descriptors set them without a name lookup.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _build(cls: type[Record], values: dict[str, Any]) -> Any:
    return construct_record(cls, values, set(values))


def _optional_text(value: Any) -> bool:
    return value is None or (type(value) is str and value != "")


def _give_back(messages: list[Message]) -> None:
    # The row goes to full validation after all: put back the lists the messages built so
    # far took over, so the row reads as it was parsed (in errors and rejects files too).
    for message in messages:
        message.__dict__["tool_calls"] = []


def _conversation(row: dict[str, Any]) -> Conversation | None:
    rows = row["messages"]
    record_id = row["id"]
    meta = row["meta"]
    if (
        type(rows) is not list
        or not rows
        or not _optional_text(record_id)
        or type(meta) is not dict
    ):
        return None
    if row["tools"] != []:
        return _conversation_with_tools(row)
    messages: list[Message] = []
    seen_user = False
    for item in rows:
        # One message per pass, inlined: a chat has many. A dict in field order (as
        # instructkit writes it) becomes the message's own __dict__; another order is
        # rebuilt, because pydantic serialises a model's __dict__ in its order.
        if type(item) is not dict:
            _give_back(messages)
            return None
        if tuple(item) != _MESSAGE_FIELDS:
            if item.keys() != _MESSAGE_KEYS:
                _give_back(messages)
                return None
            item = {name: item[name] for name in _MESSAGE_FIELDS}
        role, content, name, tool_calls, tool_call_id, reasoning, weight = item.values()
        if not (
            type(role) is str
            and role in _PLAIN_ROLES
            and type(content) is str
            and content
            and tool_calls == []
            and tool_call_id is None
            and (name is None or (type(name) is str and name))
            and (reasoning is None or (type(reasoning) is str and role == "assistant"))
            and (weight is None or (type(weight) is float and MIN_WEIGHT <= weight <= MAX_WEIGHT))
        ):
            # Maybe a tool call or a tool turn, which the second pass handles.
            _give_back(messages)
            return _conversation_with_tools(row)
        if role == "user":
            seen_user = True
        elif seen_user and role in _EARLY_ROLES:
            _give_back(messages)
            return None
        item["tool_calls"] = ()
        message = _new(Message)
        _set_dict(message, item)
        _set_fields_set(message, _MESSAGE_SET.copy())
        _set_extra(message, None)
        _set_private(message, None)
        messages.append(message)
    built: Conversation = _build(
        Conversation,
        {"messages": tuple(messages), "tools": (), "id": record_id, "meta": meta},
    )
    return built


def _json_text(value: Any) -> bool:
    if type(value) is not str:
        return False
    try:
        check_json_text(value)
    except ValueError:
        return False
    return True


def _in_field_order(
    value: Any, fields: tuple[str, ...], keys: frozenset[str]
) -> dict[str, Any] | None:
    """``value`` with its keys in field order, or ``None`` if it is not a dict of ``keys``.

    ``value`` itself when its keys are already in order, else a copy in that order. A dict
    in field order (as instructkit writes it) can become a record's own ``__dict__``;
    another order must be rebuilt, because pydantic serialises a ``__dict__`` in its order.
    The second pass uses this; the first inlines it, being the hot path.
    """
    if type(value) is not dict:
        return None
    if tuple(value) == fields:
        return value
    if value.keys() != keys:
        return None
    return {name: value[name] for name in fields}


def _tool_calls(calls: Any) -> tuple[ToolCall, ...] | None:
    # Each call's dict becomes the ToolCall's own __dict__ when it is in field order (the
    # list holding the dicts is left as it was, for a hand-back).
    if type(calls) is not list:
        return None
    built = []
    for row in calls:
        call = _in_field_order(row, _TOOL_CALL_FIELDS, _TOOL_CALL_KEYS)
        if call is None:
            return None
        call_id, name, arguments = call.values()
        if not (
            type(call_id) is str
            and call_id
            and type(name) is str
            and name
            and _json_text(arguments)
        ):
            return None
        built.append(_build(ToolCall, call))
    return tuple(built)


_Taken = list[tuple[dict[str, Any], Any]]
"""Message dicts whose ``tool_calls`` a pass replaced, with the list each held as parsed."""


def _give_back_calls(taken: _Taken) -> None:
    for item, calls in taken:
        item["tool_calls"] = calls


def _messages(rows: list[Any], taken: _Taken) -> list[Message] | None:
    """Messages of any role built from their rows, or ``None`` if one is refused.

    The types are checked here; the rules between a turn's fields are the records' own
    (:func:`~instructkit._records.check_message`), run on what was built. Every dict whose
    ``tool_calls`` was replaced is recorded in ``taken``, for the caller's hand-back.
    """
    messages: list[Message] = []
    for row in rows:
        item = _in_field_order(row, _MESSAGE_FIELDS, _MESSAGE_KEYS)
        if item is None:
            return None
        role, content, name, calls, tool_call_id, reasoning, weight = item.values()
        tool_calls = _tool_calls(calls)
        if not (
            tool_calls is not None
            and type(role) is str
            and role in _ROLES
            and (content is None or type(content) is str)
            and (name is None or (type(name) is str and name))
            and (tool_call_id is None or (type(tool_call_id) is str and tool_call_id))
            and (reasoning is None or type(reasoning) is str)
            and (weight is None or (type(weight) is float and MIN_WEIGHT <= weight <= MAX_WEIGHT))
        ):
            return None
        taken.append((item, calls))
        item["tool_calls"] = tool_calls
        message: Message = _build(Message, item)
        try:
            check_message(message)
        except RecordValidationError:
            return None
        messages.append(message)
    return messages


def _tools(tools: Any) -> bool:
    return type(tools) is list and all(_json_text(tool) for tool in tools)


def _turns_hold(*transcripts: tuple[Message, ...] | list[Message]) -> bool:
    # The records' rules between turns; the error itself is full validation's to report.
    try:
        for messages in transcripts:
            check_turns(messages)
    except RecordValidationError:
        return False
    return True


def _conversation_with_tools(row: dict[str, Any]) -> Conversation | None:
    """The second pass of :func:`_conversation`: tools, tool calls and tool turns allowed.

    The types are checked here; the rules between fields and turns are the records' own,
    run on what was built, so they cannot drift apart from full validation.
    """
    tools = row["tools"]
    if not _tools(tools):
        return None
    taken: _Taken = []
    messages = _messages(row["messages"], taken)
    if messages is None or not _turns_hold(messages):
        _give_back_calls(taken)
        return None
    built: Conversation = _build(
        Conversation,
        {"messages": tuple(messages), "tools": tuple(tools), "id": row["id"], "meta": row["meta"]},
    )
    return built


def _preference(row: dict[str, Any]) -> Preference | None:
    # The same passes as a conversation with tools, on the three message lists, then the
    # records' rule for preferences: prompt + chosen and prompt + rejected are each valid.
    fields = _in_field_order(row, _PREFERENCE_FIELDS, _PREFERENCE_KEYS)
    if fields is None:
        return None
    prompt_rows, chosen_rows, rejected_rows, tools, record_id, meta = fields.values()
    if not (
        type(prompt_rows) is list
        and type(chosen_rows) is list
        and chosen_rows
        and type(rejected_rows) is list
        and rejected_rows
        and _optional_text(record_id)
        and type(meta) is dict
        and _tools(tools)
    ):
        return None
    taken: _Taken = []
    prompt = _messages(prompt_rows, taken)
    chosen = None if prompt is None else _messages(chosen_rows, taken)
    rejected = None if chosen is None else _messages(rejected_rows, taken)
    if (
        prompt is None
        or chosen is None
        or rejected is None
        or not _turns_hold((*prompt, *chosen), (*prompt, *rejected))
    ):
        _give_back_calls(taken)
        return None
    built: Preference = _build(
        Preference,
        {
            "prompt": tuple(prompt),
            "chosen": tuple(chosen),
            "rejected": tuple(rejected),
            "tools": tuple(tools),
            "id": record_id,
            "meta": meta,
        },
    )
    return built


def build_native(row: dict[str, Any]) -> Record | None:
    """Build the record a native row describes, or ``None`` to ask for full validation.

    Args:
        row: A dict parsed by orjson from instructkit's own layout (``record.to_dict()``).
            It and its nested values may become the record's own (and be changed on the
            way), so it must not be used afterwards.

    Returns:
        The record, equal to what full validation would build, or ``None``.

    Example:
        >>> row = {"instruction": "Hi", "input": "", "response": "Hello", "system": None,
        ...        "id": None, "meta": {}}
        >>> build_native(dict(row)) == Instruction.model_validate(row)
        True
    """
    if not _ENABLED:  # pragma: no cover - only if the records' fields change
        return None
    size = len(row)
    if size == 6:
        # Inlined (no helper calls): this runs once per line of a native file. A row in
        # field order becomes the record's __dict__ as it is (see _conversation).
        if tuple(row) != _INSTRUCTION_FIELDS:
            if row.keys() != _INSTRUCTION_KEYS:
                return _preference(row)
            row = {name: row[name] for name in _INSTRUCTION_FIELDS}
        instruction, input_text, response, system, record_id, meta = row.values()
        if (
            type(instruction) is str
            and instruction
            and type(input_text) is str
            and type(response) is str
            and response
            and (system is None or (type(system) is str and system))
            and (record_id is None or (type(record_id) is str and record_id))
            and type(meta) is dict
        ):
            record = _new(Instruction)
            _set_dict(record, row)
            _set_fields_set(record, _INSTRUCTION_SET.copy())
            _set_extra(record, None)
            _set_private(record, None)
            built: Instruction = record
            return built
        return None
    if size == 4 and row.keys() == _CONVERSATION_KEYS:
        return _conversation(row)
    return None


def native_duplicate_free(raw: bytes, record: Record) -> bool:
    r"""Whether ``raw``, the line :func:`build_native` built ``record`` from, repeats no key.

    For lines that are not orjson's own rendering of what they parse to (the caller rules
    those out first, by comparing bytes). Each key accounts for one colon outside strings,
    so a line with no more colons than the record has keys cannot have dropped one.
    Otherwise, every colon inside a string shows in the parsed text unless it was written
    as ``\u003a``: when no such escape appears, a line with no more colons than the keys
    plus the colons in the record's text cannot have dropped a key either. ``False`` means
    "not proven": the caller then scans the line exactly.
    """
    # Counting by deletion uses memchr, about twice as fast as bytes.count here.
    colons = len(raw) - len(raw.replace(b":", b""))
    meta = record.meta  # type: ignore[attr-defined]
    keys, in_meta = _count_json(meta) if meta else (0, 0)
    keys += len(type(record).model_fields)
    messages: tuple[Message, ...] = ()
    if type(record) is Conversation:
        messages = record.messages
    elif type(record) is Preference:
        messages = (*record.prompt, *record.chosen, *record.rejected)
    for message in messages:
        if type(message.content) is tuple:
            return False  # content parts: not counted here, the caller scans the line
        keys += 7 + 3 * len(message.tool_calls)
    if colons <= keys:
        return True  # no colons in any text
    if b"\\u003" in raw:  # an escaped colon (or a neighbouring character): not provable here
        return False
    if type(record) is Instruction:
        text = record.instruction.count(":") + record.input.count(":") + record.response.count(":")
        if record.system is not None:
            text += record.system.count(":")
    else:
        text = 0
        for tool in record.tools:  # type: ignore[attr-defined]
            text += tool.count(":")
        for message in messages:
            text += message.content.count(":") if message.content is not None else 0
            if message.name is not None:
                text += message.name.count(":")
            if message.reasoning is not None:
                text += message.reasoning.count(":")
            if message.tool_call_id is not None:
                text += message.tool_call_id.count(":")
            for call in message.tool_calls:
                text += call.id.count(":") + call.name.count(":") + call.arguments.count(":")
    record_id = record.id  # type: ignore[attr-defined]
    if record_id is not None:
        text += record_id.count(":")
    return colons <= keys + text + in_meta


def _count_json(value: Any) -> tuple[int, int]:
    """(keys, colons inside keys and strings) of JSON data, at every depth."""
    keys = colons = 0
    if type(value) is dict:
        keys = len(value)
        for key in value:
            colons += key.count(":")
        value = value.values()
    for item in value:
        kind = type(item)
        if kind is str:
            colons += item.count(":")
        elif kind is dict or kind is list:
            more_keys, more_colons = _count_json(item)
            keys += more_keys
            colons += more_colons
    return keys, colons
