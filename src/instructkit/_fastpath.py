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

from pydantic import BaseModel

from instructkit._records import Conversation, Instruction, Message, Record

__all__ = ["build_native", "native_key_count"]

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


def native_key_count(record: Record) -> int:
    """How many object keys the row of a record :func:`build_native` built has, in all.

    The duplicate-key check compares this with the line's ``:`` count: it is exact for the
    shapes the fast path accepts (every message has its seven keys, no tool calls).
    """
    meta = record.meta  # type: ignore[attr-defined]
    count = _count_json_keys(meta) if meta else 0
    if type(record) is Instruction:
        return 6 + count
    messages: tuple[Message, ...] = record.messages  # type: ignore[attr-defined]
    return 4 + 7 * len(messages) + count


def _count_json_keys(value: Any) -> int:
    count = 0
    if type(value) is dict:
        count = len(value)
        value = value.values()
    for item in value:
        if type(item) is dict or type(item) is list:
            count += _count_json_keys(item)
    return count
