"""Reading OpenAI-like message objects into messages (for ``openai``, ``openai_dpo`` and ``trl``).

How each dialect spells the objects is its :class:`ChatStyle`; what is kept,
dropped and invented on the way in is described in the ``openai`` dialect's module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from instructkit._dialects._base import Conversion, Path, describe_type
from instructkit._dialects._call_ids import CallIds
from instructkit._dialects._chat_style import ChatStyle
from instructkit._dialects._images import ImageSlots
from instructkit._dialects._json_text import compact_json
from instructkit._dialects._locations import (
    ANY,
    LocMap,
    fail_nested,
    get_nested,
    loss_loc,
    nested_loc,
)
from instructkit._errors import DialectError, format_loc

__all__ = ["read_messages", "read_tool_list"]

_MESSAGE_FIELDS = ("role", "content", "name", "weight", "tool_calls", "tool_call_id")


def read_messages(
    items: Sequence[Any],
    path: Path,
    conv: Conversion,
    style: ChatStyle,
    ids: CallIds,
    where: LocMap,
    *,
    record_field: str,
    offset: int = 0,
    images: ImageSlots | None = None,
) -> list[dict[str, Any]]:
    """Read a row's message objects into message field dicts for a record.

    Args:
        items: The message objects.
        path: Where the list sits in the row (``("messages",)``).
        conv: The conversion.
        style: The dialect's spelling.
        ids: Tracks tool-call ids across the transcript (and invents missing ones).
        where: Learns where each record field came from, for error locations.
        record_field: The record field the messages go to (``messages``, ``chosen`` ...).
        offset: The index in ``record_field`` of the first message.
        images: For styles with image placeholders, the row's ``images`` column when these
            messages are the ones it is bound to; ``None`` refuses image placeholders here.

    Returns:
        One dict of :class:`~instructkit.Message` fields per message.

    Raises:
        DialectError: a message of the wrong shape, or a tool message answering nothing.
    """
    where.add((record_field,), path)
    out = []
    for index, item in enumerate(items):
        here = (*path, index)
        if not isinstance(item, Mapping):
            raise conv.fail(f"expected a message object, got {describe_type(item)}", here)
        target = (record_field, offset + index)
        out.append(_read_message(item, here, path, conv, style, ids, where, target, images))
    return out


def _read_message(
    item: Mapping[str, Any],
    here: Path,
    path: Path,
    conv: Conversion,
    style: ChatStyle,
    ids: CallIds,
    where: LocMap,
    target: tuple[str, int],
    images: ImageSlots | None,
) -> dict[str, Any]:
    known = {conv.col(key) for key in style.keys}
    for key, value in item.items():
        if key not in known and value is not None:
            conv.lost(
                "dropped",
                loss_loc((*path, ANY), conv) + format_loc([key])[1:],
                f"message key {key!r} has no place in a record",
            )
    where.add(target, here)
    for field in _MESSAGE_FIELDS:
        where.add((*target, field), (*here, field))
    word = conv.get(item, "role", here, str)
    role = conv.role_in(word, (*here, "role"))
    if conv.role_out(role) != word:
        conv.lost(
            "changed",
            loss_loc((*path, ANY, "role"), conv),
            f"role {word!r} is written back as {conv.role_out(role)!r}",
        )
    message: dict[str, Any] = {
        "role": role,
        "content": _read_content(item, here, path, conv, style, images),
        "name": conv.get(item, "name", here, str, required=False, nullable=True),
        "weight": conv.get(item, "weight", here, (int, float), required=False, nullable=True),
    }
    if style.reasoning_key is not None:
        message["reasoning"] = conv.get(
            item, style.reasoning_key, here, str, required=False, nullable=True
        )
        where.add((*target, "reasoning"), (*here, style.reasoning_key))
    calls = []
    raw_calls = conv.get(item, "tool_calls", here, list, required=False, nullable=True) or []
    at = (*here, "tool_calls")
    for number, call in enumerate(raw_calls):
        tail = (number,)
        where.add((*target, "tool_calls", number), at, tail)
        where.add((*target, "tool_calls", number, "id"), at, (*tail, "id"))
        where.add((*target, "tool_calls", number, "name"), at, (*tail, "function", "name"))
        where.add(
            (*target, "tool_calls", number, "arguments"), at, (*tail, "function", "arguments")
        )
        calls.append(_read_call(call, at, tail, path, conv, style, ids, target[0]))
    if style.legacy_function_call:
        legacy = conv.get(item, "function_call", here, dict, required=False, nullable=True)
        if legacy is not None:
            where.add((*target, "tool_calls", len(calls)), (*here, "function_call"))
            function = _read_function(
                legacy, (*here, "function_call"), (), (*path, ANY, "function_call"), conv, style
            )
            conv.lost(
                "changed",
                loss_loc((*path, ANY, "function_call"), conv),
                "the deprecated function_call is written back as tool_calls",
            )
            conv.lost(
                "invented",
                f"$.{target[0]}[*].tool_calls[*].id",
                "a deprecated function_call has no id; one is invented by position",
            )
            calls.append({"id": ids.call(None), **function})
    message["tool_calls"] = calls
    given = conv.get(item, "tool_call_id", here, str, required=False, nullable=True)
    if role == "tool":
        answered = ids.result(given)
        if answered is None:
            raise conv.fail(
                "expected a tool_call_id, or an earlier tool call for this tool message to "
                "answer, got neither",
                (*here, "role"),
            )
        if given is None:
            conv.lost(
                "invented",
                f"$.{target[0]}[*].tool_call_id",
                "a tool message without tool_call_id answers the oldest open call",
            )
        given = answered
    message["tool_call_id"] = given
    return message


def _read_content(
    item: Mapping[str, Any],
    here: Path,
    path: Path,
    conv: Conversion,
    style: ChatStyle,
    images: ImageSlots | None,
) -> Any:
    raw = item.get(conv.col("content"))
    if raw is None or isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        raise conv.fail(
            f"expected a string, an array of content parts or null, got {describe_type(raw)}",
            (*here, "content"),
        )
    parts: list[dict[str, Any]] = []
    at = (*here, "content")
    loss_at = (*path, ANY, "content", ANY)
    for index, part in enumerate(raw):
        if not isinstance(part, Mapping):
            raise conv.fail(f"expected a content part object, got {describe_type(part)}", at)
        kind = get_nested(part, "type", conv, at, (index,), str)
        if kind == "text":
            _drop_unknown(part, ("type", "text"), conv, loss_at)
            parts.append(
                {"type": "text", "text": get_nested(part, "text", conv, at, (index,), str)}
            )
        elif kind == "image_url":
            _drop_unknown(part, ("type", "image_url"), conv, loss_at)
            parts.append(_read_image(part, at, (index,), loss_at, conv))
        elif kind == "image" and style.image_placeholders:
            parts.append(_read_placeholder(part, at, (index,), loss_at, conv, images))
        else:
            conv.lost(
                "dropped",
                loss_loc(loss_at, conv),
                f"a content part of type {kind!r} is dropped: records hold text and image parts",
            )
    return parts


def _read_image(
    part: Mapping[str, Any], at: Path, tail: Path, loss_at: Path, conv: Conversion
) -> dict[str, Any]:
    image = part.get("image_url")
    if isinstance(image, str):
        # An older spelling some data uses: the URL itself instead of an object.
        conv.lost(
            "changed",
            loss_loc((*loss_at, "image_url"), conv),
            "an image_url given as a string is written back as an object with its url",
        )
        return {"type": "image", "url": image}
    image = get_nested(part, "image_url", conv, at, tail, dict)
    _drop_unknown(image, ("url", "detail"), conv, (*loss_at, "image_url"))
    where = (*tail, "image_url")
    return {
        "type": "image",
        "url": get_nested(image, "url", conv, at, where, str),
        "detail": get_nested(image, "detail", conv, at, where, str, required=False, nullable=True),
    }


def _read_placeholder(
    part: Mapping[str, Any],
    at: Path,
    tail: Path,
    loss_at: Path,
    conv: Conversion,
    images: ImageSlots | None,
) -> dict[str, Any]:
    """An ``{"type": "image"}`` part: the next entry of the ``images`` column it is bound to."""
    _drop_unknown(part, ("type", "image"), conv, loss_at)
    # TRL fills placeholders in place with the image itself; a path given there is kept.
    inline = get_nested(part, "image", conv, at, tail, str, required=False, nullable=True)
    if inline is not None:
        conv.lost(
            "changed",
            loss_loc((*loss_at, "image"), conv),
            "an image part holding its path is written back as a placeholder with the path "
            "in the images column",
        )
        return {"type": "image", "url": inline}
    if images is None or not images.present:
        raise fail_nested(
            conv,
            "expected image parts only in the messages or prompt column, with an images "
            "column to bind them to (TRL binds images there only), got one here",
            at,
            tail,
        )
    return {"type": "image", "url": images.take((*at, *tail))}


def _read_call(
    call: Any,
    at: Path,
    tail: Path,
    path: Path,
    conv: Conversion,
    style: ChatStyle,
    ids: CallIds,
    record_field: str,
) -> dict[str, Any]:
    if not isinstance(call, Mapping):
        raise fail_nested(conv, f"expected a tool call object, got {describe_type(call)}", at, tail)
    _drop_unknown(call, ("id", "type", "function"), conv, (*path, ANY, "tool_calls", ANY))
    given = get_nested(call, "id", conv, at, tail, str, required=False, nullable=True)
    kind = get_nested(call, "type", conv, at, tail, str, required=False, nullable=True)
    if kind is None:
        conv.lost(
            "changed",
            loss_loc((*path, ANY, "tool_calls", ANY, "type"), conv),
            "a tool call without type is written back with type 'function'",
        )
    elif kind != "function":
        raise fail_nested(conv, f"expected type 'function', got {kind!r}", at, (*tail, "type"))
    function = get_nested(call, "function", conv, at, tail, dict)
    if given is None:
        conv.lost(
            "invented",
            f"$.{record_field}[*].tool_calls[*].id",
            "a tool call without id gets one invented by position",
        )
    call_id = ids.call(given)
    loss_path = (*path, ANY, "tool_calls", ANY, "function")
    return {
        "id": call_id,
        **_read_function(function, at, (*tail, "function"), loss_path, conv, style),
    }


def _read_function(
    function: Mapping[str, Any],
    at: Path,
    tail: Path,
    loss_path: Path,
    conv: Conversion,
    style: ChatStyle,
) -> dict[str, Any]:
    # ``at`` + ``tail`` locate errors in this row; ``loss_path`` names the field in reports.
    loss_at = loss_loc(loss_path, conv)
    for key, value in function.items():
        if key not in ("name", "arguments") and value is not None:
            conv.lost(
                "dropped", loss_at + format_loc([key])[1:], f"function key {key!r} is not kept"
            )
    name = get_nested(function, "name", conv, at, tail, str)
    if "arguments" not in function:
        raise fail_nested(
            conv, f"expected an 'arguments' key, got keys {sorted(function)}", at, tail
        )
    value = function["arguments"]
    here = (*tail, "arguments")
    if isinstance(value, str):
        if style.arguments_as_text:
            return {"name": name, "arguments": value}
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as err:
            raise fail_nested(
                conv, f"expected arguments as a JSON value or JSON text, got {err}", at, here
            ) from err
        if not isinstance(parsed, str):
            conv.lost(
                "changed",
                f"{loss_at}.arguments",
                "arguments given as JSON text are written back as a JSON value",
            )
        return {"name": name, "arguments": value}
    if style.arguments_as_text:
        if not isinstance(value, (dict, list)):
            raise fail_nested(
                conv,
                f"expected arguments as a JSON string, got {describe_type(value)}",
                at,
                here,
            )
        conv.lost(
            "changed",
            f"{loss_at}.arguments",
            "arguments given as a JSON value are written back as a JSON string",
        )
    try:
        text = compact_json(value, (), conv)
    except DialectError as err:
        raise DialectError(err.reason, loc=nested_loc(conv, at, here)) from err
    return {"name": name, "arguments": text}


def _drop_unknown(
    obj: Mapping[str, Any], known: Sequence[str], conv: Conversion, loss_path: Path
) -> None:
    for key, value in obj.items():
        if key not in known and value is not None:
            conv.lost(
                "dropped",
                loss_loc(loss_path, conv) + format_loc([key])[1:],
                f"key {key!r} is not kept",
            )


def read_tool_list(obj: Mapping[str, Any], key: str, path: Path, conv: Conversion) -> list[str]:
    """Read an array of tool schemas (any JSON values) into their compact JSON texts.

    Raises:
        DialectError: the value is not an array (or null), or holds something JSON cannot
            carry exactly.
    """
    raw = conv.get(obj, key, path, list, required=False, nullable=True) or []
    return [compact_json(tool, (*path, key, index), conv) for index, tool in enumerate(raw)]
