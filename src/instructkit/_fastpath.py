"""Validated construction of records from rows in instructkit's own layout, without pydantic.

Reading a native JSONL file spends most of its time in pydantic validation, which is about
twice the cost of parsing the JSON. For the common shapes (an :class:`Instruction`; a
:class:`Conversation` without tools, tool calls or tool turns) the rules are few, so this
module checks them directly on the parsed dict and builds the frozen model the way pydantic's
``model_construct`` does. Anything unusual (a missing or extra key, a wrong type, an empty
text, a tool call) returns ``None`` and the caller falls back to full validation, which then
produces the proper located error. So this path may only *accept* rows that full validation
accepts too, and must build equal records; tests check both on generated records.

The input must come from a JSON parser that rejects lone surrogates (orjson does), because
the UTF-8 check of :func:`~instructkit._records.check_text` is skipped.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from pydantic import BaseModel

from instructkit._records import Conversation, Instruction, Message, Record

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
_INSTRUCTION_SET: Final = set(_INSTRUCTION_FIELDS)
_MESSAGE_SET: Final = set(_MESSAGE_FIELDS)
_MESSAGE_KEYS: Final = frozenset(_MESSAGE_FIELDS)
_CONVERSATION_KEYS: Final = frozenset(_CONVERSATION_FIELDS)
_PLAIN_ROLES: Final = frozenset({"system", "developer", "user", "assistant"})
_EARLY_ROLES: Final = frozenset({"system", "developer"})

# The fast path is only correct for the field lists above; if the records change, it turns
# itself off rather than build records pydantic would not.
_ENABLED: Final = (
    tuple(Instruction.model_fields) == _INSTRUCTION_FIELDS
    and tuple(Message.model_fields) == _MESSAGE_FIELDS
    and tuple(Conversation.model_fields) == _CONVERSATION_FIELDS
)

_new = object.__new__
# pydantic keeps these in slots; their descriptors set them without a name lookup.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _build(cls: type[Record], values: dict[str, Any]) -> Any:
    # What pydantic's model_construct does, minus its generality.
    record = _new(cls)
    _set_dict(record, values)
    _set_fields_set(record, set(values))
    _set_extra(record, None)
    _set_private(record, None)
    return record


def _optional_text(value: Any) -> bool:
    return value is None or (type(value) is str and value != "")


def _conversation(row: dict[str, Any]) -> Conversation | None:
    rows = row["messages"]
    record_id = row["id"]
    meta = row["meta"]
    if (
        type(rows) is not list
        or not rows
        or row["tools"] != []
        or not _optional_text(record_id)
        or type(meta) is not dict
    ):
        return None
    messages = []
    seen_user = False
    for item in rows:
        # One message per pass, inlined: a chat has many.
        if type(item) is not dict or item.keys() != _MESSAGE_KEYS:
            return None
        role = item["role"]
        content = item["content"]
        name = item["name"]
        reasoning = item["reasoning"]
        weight = item["weight"]
        if not (
            type(role) is str
            and role in _PLAIN_ROLES
            and type(content) is str
            and content
            and item["tool_calls"] == []
            and item["tool_call_id"] is None
            and (name is None or (type(name) is str and name))
            and (reasoning is None or (type(reasoning) is str and role == "assistant"))
            and (weight is None or (type(weight) is float and 0.0 <= weight <= 1.0))
        ):
            return None
        if role == "user":
            seen_user = True
        elif seen_user and role in _EARLY_ROLES:
            return None
        message = _new(Message)
        _set_dict(
            message,
            {
                "role": role,
                "content": content,
                "name": name,
                "tool_calls": (),
                "tool_call_id": None,
                "reasoning": reasoning,
                "weight": weight,
            },
        )
        _set_fields_set(message, _MESSAGE_SET.copy())
        _set_extra(message, None)
        _set_private(message, None)
        messages.append(message)
    built: Conversation = _build(
        Conversation,
        {"messages": tuple(messages), "tools": (), "id": record_id, "meta": meta},
    )
    return built


def build_native(row: dict[str, Any]) -> Record | None:
    """Build the record a native row describes, or ``None`` to ask for full validation.

    Args:
        row: A dict parsed by orjson from instructkit's own layout (``record.to_dict()``).
            Its nested values become the record's (``meta`` is not copied), so it must not
            be used afterwards.

    Returns:
        The record, equal to what full validation would build, or ``None``.

    Example:
        >>> row = {"instruction": "Hi", "input": "", "response": "Hello", "system": None,
        ...        "id": None, "meta": {}}
        >>> build_native(row) == Instruction.model_validate(row)
        True
    """
    if not _ENABLED:  # pragma: no cover - only if the records' fields change
        return None
    size = len(row)
    if size == 6:
        # Inlined (no helper calls): this runs once per line of a native file. Six keys and
        # six successful look-ups mean exactly the six fields.
        try:
            instruction = row["instruction"]
            input_text = row["input"]
            response = row["response"]
            system = row["system"]
            record_id = row["id"]
            meta = row["meta"]
        except KeyError:
            return None
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
            _set_dict(
                record,
                {
                    "instruction": instruction,
                    "input": input_text,
                    "response": response,
                    "system": system,
                    "id": record_id,
                    "meta": meta,
                },
            )
            _set_fields_set(record, _INSTRUCTION_SET.copy())
            _set_extra(record, None)
            _set_private(record, None)
            built: Instruction = record
            return built
        return None
    if size == 4 and row.keys() == _CONVERSATION_KEYS:
        return _conversation(row)
    return None


def native_duplicate_free(raw: bytes, row: dict[str, Any], colons: int, record: Record) -> bool:
    r"""Whether ``raw``, the line :func:`build_native` built ``record`` from, repeats no key.

    ``row`` is what orjson parsed ``raw`` to and ``colons`` the number of ``:`` bytes in
    ``raw``. Each key accounts for one colon outside strings, so a line with no more colons
    than the record has keys cannot have dropped one; nor can a line that is byte for byte
    orjson's rendering of ``row`` (the usual case for files instructkit wrote). Otherwise,
    every colon inside a string shows in the parsed text unless it was written as
    ``\u003a``: when no such escape appears, a line with no more colons than the keys plus
    the colons in the record's text cannot have dropped a key either. ``False`` means "not
    proven": the caller then scans the line exactly.
    """
    meta = record.meta  # type: ignore[attr-defined]
    keys, in_meta = _count_json(meta) if meta else (0, 0)
    is_instruction = type(record) is Instruction
    keys += 6 if is_instruction else 4 + 7 * len(record.messages)  # type: ignore[attr-defined]
    if colons <= keys:
        return True  # no colons in any text: the common case, and the cheapest
    if raw == orjson.dumps(row):
        return True
    if b"\\u003" in raw:  # an escaped colon (or a neighbouring character): not provable here
        return False
    if is_instruction:
        instruction: Instruction = record  # type: ignore[assignment]
        text = (
            instruction.instruction.count(":")
            + instruction.input.count(":")
            + instruction.response.count(":")
        )
        if instruction.system is not None:
            text += instruction.system.count(":")
    else:
        chat: Conversation = record  # type: ignore[assignment]
        text = 0
        for message in chat.messages:
            text += message.content.count(":") if message.content is not None else 0
            if message.name is not None:
                text += message.name.count(":")
            if message.reasoning is not None:
                text += message.reasoning.count(":")
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
