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

__all__ = ["build_native"]

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
_INSTRUCTION_KEYS: Final = frozenset(_INSTRUCTION_FIELDS)
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
_set = object.__setattr__
# pydantic keeps these three in slots; their descriptors set them without a name lookup.
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _build(cls: type[Record], values: dict[str, Any]) -> Any:
    # What pydantic's model_construct does, minus its generality.
    record = _new(cls)
    _set(record, "__dict__", values)
    _set_fields_set(record, set(values))
    _set_extra(record, None)
    _set_private(record, None)
    return record


def _optional_text(value: Any) -> bool:
    return value is None or (type(value) is str and value != "")


def _message(row: Any, seen_user: bool) -> Message | None:
    if type(row) is not dict or row.keys() != _MESSAGE_KEYS:
        return None
    role = row["role"]
    content = row["content"]
    name = row["name"]
    reasoning = row["reasoning"]
    weight = row["weight"]
    if (
        role in _PLAIN_ROLES
        and type(content) is str
        and content
        and row["tool_calls"] == []
        and row["tool_call_id"] is None
        and _optional_text(name)
        and (reasoning is None or (type(reasoning) is str and role == "assistant"))
        and (weight is None or (type(weight) is float and 0.0 <= weight <= 1.0))
        and not (seen_user and role in _EARLY_ROLES)
    ):
        built: Message = _build(
            Message,
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
        return built
    return None


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
        message = _message(item, seen_user)
        if message is None:
            return None
        seen_user = seen_user or message.role == "user"
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
    if not _ENABLED:
        return None
    keys = row.keys()
    if keys == _INSTRUCTION_KEYS:
        # Inlined (no helper calls): this runs once per line of a native file.
        instruction = row["instruction"]
        input_text = row["input"]
        response = row["response"]
        system = row["system"]
        record_id = row["id"]
        meta = row["meta"]
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
            _set(
                record,
                "__dict__",
                {
                    "instruction": instruction,
                    "input": input_text,
                    "response": response,
                    "system": system,
                    "id": record_id,
                    "meta": meta,
                },
            )
            _set_fields_set(record, set(_INSTRUCTION_FIELDS))
            _set_extra(record, None)
            _set_private(record, None)
            built: Instruction = record
            return built
        return None
    if keys == _CONVERSATION_KEYS:
        return _conversation(row)
    return None
