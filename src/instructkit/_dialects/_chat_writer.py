"""Writing messages as OpenAI-like message objects (for ``openai``, ``openai_dpo`` and ``trl``).

How each dialect spells the objects is its :class:`ChatStyle`, and which
weights it keeps is its :data:`WeightRule`; what is dropped on the way out is described in the
``openai`` dialect's module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import orjson

from instructkit._dialects._base import Conversion
from instructkit._dialects._chat_style import ChatStyle
from instructkit._dialects._images import ImageColumn
from instructkit._dialects._json_text import is_compact_json
from instructkit._dialects._tool_schemas import wrapped_tool_value
from instructkit._errors import DialectError, format_loc
from instructkit._records import Message, TextPart, ToolCall

__all__ = ["WeightRule", "weight_out", "write_messages", "write_tool_list"]

WeightRule = Literal["kept", "assistant_binary", "dropped"]
"""Which weights a writer keeps: all of them (TRL), OpenAI's supervised rule (0 or 1, on
assistant turns only), or none (OpenAI DPO, whose method has no weights)."""


def write_messages(
    messages: Sequence[Message],
    conv: Conversion,
    style: ChatStyle,
    *,
    record_field: str,
    write_ids: bool = True,
    weights: WeightRule = "kept",
    images: ImageColumn | None = None,
) -> list[dict[str, Any]]:
    """Write messages as a dialect's message objects, recording what cannot be written.

    Args:
        messages: The messages.
        conv: The conversion (column and role names, losses).
        style: The dialect's spelling.
        record_field: The record field they come from, for loss paths.
        write_ids: Write tool-call ids and ``tool_call_id`` (styles that may leave them
            out only do so when reading the row back re-invents the same ids).
        weights: Which weights to write (see :data:`WeightRule`); the others are dropped,
            reported.
        images: For styles with image placeholders, the ``images`` column these messages'
            images go to; ``None`` refuses images here.

    Returns:
        The message objects.

    Raises:
        DialectError: an image part where the style's images have no place.
    """
    col = conv.col
    out = []
    for index, message in enumerate(messages):
        item: dict[str, Any] = {col("role"): conv.role_out(message.role)}
        if message.content is not None:
            where = (record_field, index)
            item[col("content")] = _write_content(message, conv, style, images, where)
        if message.name is not None:
            if message.role == "tool" and not style.tool_names:
                conv.lost(
                    "dropped",
                    f"$.{record_field}[*].name",
                    f"{conv.dialect.name} tool messages have no name",
                )
            else:
                item[col("name")] = message.name
        if message.tool_calls:
            item[col("tool_calls")] = [
                _write_call(call, conv, style, write_ids, record_field)
                for call in message.tool_calls
            ]
        if message.tool_call_id is not None and write_ids:
            item[col("tool_call_id")] = message.tool_call_id
        if message.weight is not None and _weight_kept(message, conv, weights, record_field):
            item[col("weight")] = weight_out(message.weight)
        if message.reasoning is not None:
            if style.reasoning_key is None:
                conv.lost(
                    "dropped",
                    f"$.{record_field}[*].reasoning",
                    f"{conv.dialect.name} messages have no reasoning",
                )
            else:
                item[col(style.reasoning_key)] = message.reasoning
        out.append(item)
    return out


def _write_content(
    message: Message,
    conv: Conversion,
    style: ChatStyle,
    images: ImageColumn | None,
    where: tuple[str, int],
) -> Any:
    content = message.content
    assert content is not None
    if isinstance(content, str):
        if images is not None and images.active and message.role == "user":
            # TRL puts all of a row's images before its first user turn of plain text, so
            # in a row with images every user turn is written as content parts.
            conv.lost(
                "changed",
                f"$.{where[0]}[*].content",
                "user text in a TRL row with images is written as a text part, as TRL would "
                "place the images before plain text",
            )
            return [{"type": "text", "text": content}]
        return content
    out: list[dict[str, Any]] = []
    for number, part in enumerate(content):
        if isinstance(part, TextPart):
            out.append({"type": "text", "text": part.text})
        elif style.image_placeholders:
            if images is None:
                raise DialectError(
                    conv.dialect.message(
                        "expected image parts only in the messages or prompt column (TRL "
                        "binds the images column there only), got one here"
                    ),
                    loc=format_loc([*where, "content", number]),
                )
            images.drop_detail(part, f"$.{where[0]}[*]", conv)
            images.urls.append(part.url)
            out.append({"type": "image"})
        else:
            image: dict[str, Any] = {"url": part.url}
            if part.detail is not None:
                image["detail"] = part.detail
            out.append({"type": "image_url", "image_url": image})
    return out


def _weight_kept(message: Message, conv: Conversion, rule: WeightRule, record_field: str) -> bool:
    """Whether ``rule`` writes the message's weight; a weight it does not write is reported."""
    if rule == "kept":
        return True
    if rule == "dropped":
        reason = f"{conv.dialect.name} messages have no weight (a supervised-method key)"
    elif message.role != "assistant":
        # OpenAI reads weights on assistant turns only and rejects them elsewhere.
        reason = f"{conv.dialect.name} weights belong on assistant turns only"
    elif message.weight not in (0.0, 1.0):
        reason = f"{conv.dialect.name} weights are 0 or 1"
    else:
        return True
    conv.lost("dropped", f"$.{record_field}[*].weight", reason)
    return False


def weight_out(weight: float) -> int | float:
    """A weight as written: 0 and 1 as integers (OpenAI's spelling), others unchanged."""
    return int(weight) if weight in (0.0, 1.0) else weight


def _write_call(
    call: ToolCall, conv: Conversion, style: ChatStyle, write_ids: bool, record_field: str
) -> dict[str, Any]:
    arguments: Any = call.arguments
    if not style.arguments_as_text:
        value = orjson.loads(call.arguments)
        # A JSON string stays as its JSON text: read back, text that parses is taken as
        # the arguments' JSON text, which gives exactly this record again.
        if not isinstance(value, str):
            arguments = value
            if not is_compact_json(call.arguments):
                conv.lost(
                    "changed",
                    f"$.{record_field}[*].tool_calls[*].arguments",
                    "arguments are written as a JSON value, so their spelling becomes compact JSON",
                )
    out: dict[str, Any] = {"id": call.id} if write_ids else {}
    out["type"] = "function"
    out["function"] = {"name": call.name, "arguments": arguments}
    return out


def write_tool_list(tools: Sequence[str], conv: Conversion, field: str = "tools") -> list[Any]:
    """Tool schema texts as JSON values in OpenAI's wrapped shape, reporting what changes.

    A text that is not compact JSON is re-spelled, and a schema in LLaMA-Factory's unwrapped
    shape (``{"name", "description", "parameters"}``) is wrapped as
    ``{"type": "function", "function": {...}}``, the shape OpenAI documents and transformers'
    ``get_json_schema`` makes; both are reported as changed.
    """
    values = []
    for text in tools:
        value = orjson.loads(text)
        wrapped = wrapped_tool_value(value)
        if wrapped is not None:
            conv.lost(
                "changed",
                f"$.{field}[*]",
                f"{conv.dialect.name} tool schemas are wrapped as "
                '{"type": "function", "function": ...}; an unwrapped schema is wrapped',
            )
            value = wrapped
        elif not is_compact_json(text):
            conv.lost(
                "changed",
                f"$.{field}[*]",
                "tool schemas are written as JSON values, so their spelling becomes compact JSON",
            )
        values.append(value)
    return values
