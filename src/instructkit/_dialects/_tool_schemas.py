"""Tool schemas: the ``tools`` column as JSON text, and the two shapes of a schema.

Two shapes of tool schema are in use. OpenAI documents the *wrapped* one,
``{"type": "function", "function": {"name", "description", "parameters"}}``, which is also
what transformers' ``get_json_schema`` makes for chat templates; LLaMA-Factory and the glaive
data it documents use the *unwrapped* function object ``{"name", "description",
"parameters"}``. Records keep each schema as given; a dialect whose documented shape is the
other one reshapes it when writing (and reports it as changed).

LLaMA-Factory's ``tools`` column (ShareGPT and Alpaca layouts) holds the schemas as the text
of a JSON array (:func:`read_tools_text`, :func:`write_tools_text`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from instructkit._dialects._base import Conversion
from instructkit._dialects._json_text import JSON_SPACE, item_texts, member_texts
from instructkit._dialects._locations import loss_loc

__all__ = [
    "read_tools_text",
    "tool_schema_texts",
    "tools_text",
    "unwrapped_tool_text",
    "wrapped_tool_value",
    "write_tools_text",
]


def tool_schema_texts(text: str, conv: Conversion) -> list[str]:
    """The schemas of a ``tools`` column given as JSON text, each as its exact text.

    Raises:
        DialectError: the text is not valid JSON, or not a JSON array.
    """
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise conv.fail(f"expected tool schemas as JSON text, got {err}", ("tools",)) from err
    items = item_texts(text)
    if items is None:
        raise conv.fail("expected a JSON array of tool schemas, got another value", ("tools",))
    return items


def wrapped_tool_value(value: Any) -> dict[str, Any] | None:
    """The wrapped form of an unwrapped tool schema, or ``None`` if ``value`` is not one.

    Example:
        >>> wrapped_tool_value({"name": "f", "parameters": {}})
        {'type': 'function', 'function': {'name': 'f', 'parameters': {}}}
        >>> wrapped_tool_value({"type": "function", "function": {"name": "f"}}) is None
        True
    """
    if (
        isinstance(value, Mapping)
        and isinstance(value.get("name"), str)
        and "type" not in value
        and "function" not in value
    ):
        return {"type": "function", "function": dict(value)}
    return None


def unwrapped_tool_text(text: str) -> str | None:
    """The exact text of the function object inside a wrapped tool schema's JSON text.

    Only a schema that is exactly ``{"type": "function", "function": {...}}`` is unwrapped:
    any other key would be lost.

    Returns:
        The inner object's text, or ``None`` when ``text`` is not a wrapped schema.

    Example:
        >>> unwrapped_tool_text('{"type": "function", "function": {"name": "f"}}')
        '{"name": "f"}'
    """
    members = member_texts(text)
    if members is None or sorted(key for key, _ in members) != ["function", "type"]:
        return None
    found = dict(members)
    inner = found["function"]
    if orjson.loads(found["type"]) != "function" or member_texts(inner) is None:
        return None
    return inner


def tools_text(tools: Sequence[str]) -> str:
    """The ``tools`` column: the schemas' exact texts in a JSON array, separated by ``", "``."""
    return "[" + ", ".join(tools) + "]"


def read_tools_text(row: Mapping[str, Any], conv: Conversion) -> list[str]:
    """Read LLaMA-Factory's ``tools`` column: a JSON array of schemas, as text.

    Returns:
        The exact text of each schema. An empty column or array reads as no tools (reported).

    Raises:
        DialectError: the column is not text holding a JSON array.
    """
    text = conv.get(row, "tools", (), str, required=False, nullable=True)
    if text is None:
        return []
    where = loss_loc(("tools",), conv)
    if text == "":
        conv.lost("dropped", where, "an empty tools column is left out")
        return []
    items = tool_schema_texts(text, conv)
    if not items:
        conv.lost("changed", where, "an empty tools array is written back as no column")
    elif tools_text(items) != text:
        conv.lost("changed", where, 'the tools array is re-spaced (", " between schemas)')
    return items


def write_tools_text(tools: Sequence[str], conv: Conversion) -> str:
    """LLaMA-Factory's ``tools`` column for the record's schemas, reporting what changes.

    A schema in OpenAI's wrapped shape (``{"type": "function", "function": {...}}``) is
    written unwrapped, as the function object LLaMA-Factory documents (reported as changed);
    whitespace around a schema is not kept (reported).
    """
    texts = []
    for tool in tools:
        inner = unwrapped_tool_text(tool)
        if inner is not None:
            conv.lost(
                "changed",
                "$.tools[*]",
                f"{conv.dialect.name} tool schemas are unwrapped function objects; a "
                '{"type": "function", "function": ...} schema is unwrapped',
            )
            tool = inner
        elif tool != tool.strip(JSON_SPACE):
            conv.lost(
                "changed",
                "$.tools[*]",
                "whitespace around a tool schema is not kept in the tools array",
            )
        texts.append(tool.strip(JSON_SPACE))
    return tools_text(texts)
