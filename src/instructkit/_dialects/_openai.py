"""OpenAI fine-tuning lines: ``openai`` (chat) and ``openai_dpo`` (preference pairs).

The message reader and writer here also serve the ``trl`` dialect, whose conversational
messages are the same objects spelled slightly differently (see :class:`ChatStyle`).

Reading, in brief: ``content`` is a string, null, or an array of content parts (``text`` and
``image_url`` parts are kept as :class:`~instructkit.TextPart` and
:class:`~instructkit.ImagePart`; other kinds are dropped, reported); a missing tool-call id, or a
tool message without ``tool_call_id``, gets an invented one (see
:class:`~instructkit._dialects._extras.CallIds`), reported; the deprecated ``function`` role
and assistant ``function_call`` are read as ``tool`` and ``tool_calls`` (reported as changed,
with invented ids). Keys with null values, and empty ``tool_calls`` and ``tools`` arrays, read
as absent.
Writing follows OpenAI's published rules for fine-tuning lines, and reports what they have no
place for: ``weight`` is written on assistant turns of ``openai`` lines as the integer 0 or 1;
other weights, weights on other turns and every weight in an ``openai_dpo`` line (a
supervised-method key) are dropped (reported). Tool messages have no ``name`` (dropped,
reported), and reasoning has no place in an OpenAI line (dropped, reported). An
``openai_dpo`` line needs input messages and outputs of assistant turns (with tool results
between them): a pair without a prompt, or with another turn in an output, is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import orjson

from instructkit._dialects._base import (
    NO_MATCH,
    Conversion,
    Dialect,
    Match,
    Path,
    describe_type,
    keys_score,
)
from instructkit._dialects._extras import (
    ANY,
    CallIds,
    LocMap,
    compact_json,
    emit_extras,
    fail_nested,
    get_nested,
    is_compact_json,
    loss_loc,
    nested_loc,
    take_extras,
    take_id,
    wrapped_tool_value,
)
from instructkit._dialects._images import ImageColumn, ImageSlots
from instructkit._errors import DialectError, format_loc, with_article
from instructkit._records import (
    Conversation,
    Message,
    Preference,
    Record,
    TextPart,
    ToolCall,
)

__all__ = [
    "OPENAI_STYLE",
    "PARALLEL_TOOL_CALLS",
    "TRL_STYLE",
    "ChatStyle",
    "OpenAIDPODialect",
    "OpenAIDialect",
    "looks_like_trl",
    "read_messages",
    "read_tool_list",
    "weight_out",
    "write_messages",
    "write_tool_list",
]

PARALLEL_TOOL_CALLS = "parallel_tool_calls"
"""The meta key (and OpenAI column) holding the record-level ``parallel_tool_calls`` flag."""


@dataclass(frozen=True)
class ChatStyle:
    """How a dialect spells OpenAI-like message objects.

    Attributes:
        arguments_as_text: Tool-call arguments are a JSON string (OpenAI) rather than a JSON
            value (TRL).
        reasoning_key: The message key holding reasoning, or ``None`` if there is none.
        always_write_ids: Write tool-call ids always (OpenAI requires them), rather than only
            when reading the row back could not re-invent them (TRL leaves them out).
        legacy_function_call: Read the deprecated assistant ``function_call`` key.
        tool_names: Tool messages may carry a ``name`` (TRL's do); OpenAI's have none, so
            writing drops it (reported).
        image_placeholders: Images are ``{"type": "image"}`` parts bound by position to the
            row's ``images`` column (TRL), rather than ``image_url`` parts holding the URL.
    """

    arguments_as_text: bool
    reasoning_key: str | None
    always_write_ids: bool
    legacy_function_call: bool
    tool_names: bool = True
    image_placeholders: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        """The message keys this style reads."""
        keys = ["role", "content", "name", "weight", "tool_calls", "tool_call_id"]
        if self.reasoning_key is not None:
            keys.append(self.reasoning_key)
        if self.legacy_function_call:
            keys.append("function_call")
        return tuple(keys)


OPENAI_STYLE = ChatStyle(
    arguments_as_text=True,
    reasoning_key=None,
    always_write_ids=True,
    legacy_function_call=True,
    tool_names=False,
)
"""OpenAI chat fine-tuning messages."""

TRL_STYLE = ChatStyle(
    arguments_as_text=False,
    reasoning_key="thinking",
    always_write_ids=False,
    legacy_function_call=False,
    image_placeholders=True,
)
"""TRL conversational messages: argument values, optional ids, ``thinking`` for reasoning."""

_MESSAGE_FIELDS = ("role", "content", "name", "weight", "tool_calls", "tool_call_id")

WeightRule = Literal["kept", "assistant_binary", "dropped"]
"""Which weights a writer keeps: all of them (TRL), OpenAI's supervised rule (0 or 1, on
assistant turns only), or none (OpenAI DPO, whose method has no weights)."""


# --- reading ------------------------------------------------------------------------------


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


# --- writing ------------------------------------------------------------------------------


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


def looks_like_trl(messages: object) -> bool:
    """Whether message objects use TRL's spelling.

    That is: argument values, no call ids, thinking, ``{"type": "image"}`` placeholders
    (OpenAI's images are ``image_url`` parts).
    """
    if not isinstance(messages, list):
        return False
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        if "thinking" in message:
            return True
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            if isinstance(part, Mapping) and part.get("type") == "image":
                return True
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():
            if not isinstance(call, Mapping):
                continue
            function = call.get("function")
            if "id" not in call or (
                isinstance(function, Mapping) and not isinstance(function.get("arguments"), str)
            ):
                return True
    return False


def _take_parallel(
    obj: Mapping[str, Any], path: Path, conv: Conversion, meta: dict[str, Any]
) -> None:
    flag = conv.get(obj, PARALLEL_TOOL_CALLS, path, bool, required=False, nullable=True)
    if flag is not None:
        meta[PARALLEL_TOOL_CALLS] = flag


def _put_parallel(target: dict[str, Any], meta: dict[str, Any], conv: Conversion) -> None:
    if PARALLEL_TOOL_CALLS not in meta:
        return
    flag = meta.pop(PARALLEL_TOOL_CALLS)
    if isinstance(flag, bool):
        target[conv.col(PARALLEL_TOOL_CALLS)] = flag
    else:
        conv.lost(
            "dropped",
            f"$.meta.{PARALLEL_TOOL_CALLS}",
            f"{PARALLEL_TOOL_CALLS} must be a boolean to be written, got {describe_type(flag)}",
        )


# --- dialects -----------------------------------------------------------------------------


class OpenAIDialect(Dialect):
    """OpenAI chat fine-tuning lines: ``messages``, optional ``tools`` and ``parallel_tool_calls``.

    ``tools`` is an array of objects; each is kept in the record as its compact JSON text and
    written back as the same object (a record's schema text that is not compact JSON is
    re-spelled, reported). ``parallel_tool_calls`` is kept in ``meta`` under that name.
    """

    name = "openai"
    summary = "OpenAI chat fine-tuning lines (messages, tools, parallel_tool_calls)."
    columns = ("messages", "tools", PARALLEL_TOOL_CALLS, "id")
    message_keys = OPENAI_STYLE.keys
    roles: ClassVar[Mapping[str, str]] = {
        "system": "system",
        "developer": "developer",
        "user": "user",
        "assistant": "assistant",
        "tool": "tool",
        "function": "tool",
    }
    roles_out: ClassVar[Mapping[str, str]] = {
        role: role for role in ("system", "developer", "user", "assistant", "tool")
    }
    record_types = (Conversation,)

    def match(self, row: Mapping[str, Any]) -> Match:
        messages = row.get("messages")
        if not isinstance(messages, list):
            return NO_MATCH
        score = keys_score(row, ["messages"], self.columns)
        if messages and not (isinstance(messages[0], Mapping) and "role" in messages[0]):
            score *= 0.5
        if looks_like_trl(messages):
            score *= 0.8
        return Match(score) if score else NO_MATCH

    def parse(self, row: Mapping[str, Any], conv: Conversion) -> Record:
        items = conv.get(row, "messages", (), list)
        tools = read_tool_list(row, "tools", (), conv)
        record_id = take_id(row, conv)
        meta = take_extras(row, self.columns, conv)
        _take_parallel(row, (), conv, meta)
        where = LocMap(conv)
        where.add(("tools",), ("tools",))
        messages = read_messages(
            items, ("messages",), conv, OPENAI_STYLE, CallIds(), where, record_field="messages"
        )
        return conv.build(
            lambda: Conversation(messages=messages, tools=tools, id=record_id, meta=meta),
            where=where,
        )

    def emit(self, record: Record, conv: Conversion, layout: str | None) -> dict[str, Any]:
        assert isinstance(record, Conversation)
        row: dict[str, Any] = {
            "messages": write_messages(
                record.messages,
                conv,
                OPENAI_STYLE,
                record_field="messages",
                weights="assistant_binary",
            )
        }
        if record.tools:
            row["tools"] = write_tool_list(record.tools, conv)
        meta = dict(record.meta)
        _put_parallel(row, meta, conv)
        if record.id is not None:
            row["id"] = record.id
        emit_extras(row, meta, conv, reserved=self.columns)
        return row


class OpenAIDPODialect(Dialect):
    """OpenAI preference lines: ``input``, ``preferred_output`` and ``non_preferred_output``.

    ``input`` holds the prompt ``messages`` and optional ``tools`` and ``parallel_tool_calls``
    (kept in ``meta`` under that name); the two outputs are message arrays. Messages are read
    and written as in the ``openai`` dialect. Layouts: ``tools_when_given`` (the default)
    writes ``tools`` only when the record offers some; ``tools_always`` writes ``"tools": []``
    when it offers none, as OpenAI's own example does.
    """

    name = "openai_dpo"
    summary = "OpenAI preference fine-tuning lines (input, preferred/non-preferred output)."
    columns = ("input", "preferred_output", "non_preferred_output", "id")
    message_keys = (*OPENAI_STYLE.keys, "messages", "tools", PARALLEL_TOOL_CALLS)
    roles = OpenAIDialect.roles
    roles_out = OpenAIDialect.roles_out
    layouts = ("tools_when_given", "tools_always")
    record_types = (Preference,)

    def match(self, row: Mapping[str, Any]) -> Match:
        given = row.get("input")
        if not isinstance(given, Mapping):
            return NO_MATCH
        score = keys_score(row, ["input", "preferred_output", "non_preferred_output"], ["id"])
        layout = self.layouts[1] if given.get("tools") == [] else self.layouts[0]
        return Match(score, layout) if score else NO_MATCH

    def layout_of(self, row: Mapping[str, Any], conv: Conversion) -> str | None:
        given = row.get("input")
        spelled = isinstance(given, Mapping) and given.get(conv.col("tools")) == []
        return self.layouts[1] if spelled else self.layouts[0]

    def parse(self, row: Mapping[str, Any], conv: Conversion) -> Record:
        given = conv.get(row, "input", (), dict)
        prompt_items = conv.get(given, "messages", ("input",), list)
        tools = read_tool_list(given, "tools", ("input",), conv)
        chosen_items = conv.get(row, "preferred_output", (), list)
        rejected_items = conv.get(row, "non_preferred_output", (), list)
        record_id = take_id(row, conv)
        meta = take_extras(row, self.columns, conv)
        _take_parallel(given, ("input",), conv, meta)
        inner = {conv.col(key) for key in ("messages", "tools", PARALLEL_TOOL_CALLS)}
        for key, value in given.items():
            if key not in inner and value is not None:
                conv.lost(
                    "dropped",
                    conv.row_loc(("input",)) + format_loc([key])[1:],
                    f"input key {key!r} has no place in a record",
                )
        where = LocMap(conv)
        where.add(("tools",), ("input", "tools"))
        ids = CallIds()
        prompt = read_messages(
            prompt_items,
            ("input", "messages"),
            conv,
            OPENAI_STYLE,
            ids,
            where,
            record_field="prompt",
        )
        sides = [
            read_messages(
                items, (column,), conv, OPENAI_STYLE, ids.copy(), where, record_field=field
            )
            for items, column, field in (
                (chosen_items, "preferred_output", "chosen"),
                (rejected_items, "non_preferred_output", "rejected"),
            )
        ]
        return conv.build(
            lambda: Preference(
                prompt=prompt,
                chosen=sides[0],
                rejected=sides[1],
                tools=tools,
                id=record_id,
                meta=meta,
            ),
            where=where,
        )

    def emit(self, record: Record, conv: Conversion, layout: str | None) -> dict[str, Any]:
        assert isinstance(record, Preference)
        self._check_openai_shape(record)
        col = conv.col
        given: dict[str, Any] = {
            col("messages"): write_messages(
                record.prompt, conv, OPENAI_STYLE, record_field="prompt", weights="dropped"
            )
        }
        if record.tools or layout == "tools_always":
            given[col("tools")] = write_tool_list(record.tools, conv)
        meta = dict(record.meta)
        _put_parallel(given, meta, conv)
        row: dict[str, Any] = {
            "input": given,
            "preferred_output": write_messages(
                record.chosen, conv, OPENAI_STYLE, record_field="chosen", weights="dropped"
            ),
            "non_preferred_output": write_messages(
                record.rejected, conv, OPENAI_STYLE, record_field="rejected", weights="dropped"
            ),
        }
        if record.id is not None:
            row["id"] = record.id
        emit_extras(row, meta, conv, reserved=self.columns)
        return row

    def _check_openai_shape(self, record: Preference) -> None:
        """Refuse a pair that no OpenAI DPO line can hold.

        OpenAI rejects an upload with an empty ``input.messages`` or an output holding other
        turns than assistant turns (and tool results between them). Nothing can be dropped
        to make such a pair fit without changing what is preferred, so it is refused rather
        than written as a file the upload refuses.

        Raises:
            DialectError: the pair has no prompt, or an output turn of another role.
        """
        if not record.prompt:
            raise DialectError(
                self.message(
                    "expected a prompt to write as input.messages (OpenAI DPO lines need "
                    "input messages), got none"
                ),
                loc="$.prompt",
            )
        for field in ("chosen", "rejected"):
            for index, message in enumerate(getattr(record, field)):
                allowed = ("assistant",) if index == 0 else ("assistant", "tool")
                if message.role not in allowed:
                    raise DialectError(
                        self.message(
                            f"expected {' or '.join(allowed)} turns in an OpenAI DPO output, "
                            f"got {with_article(message.role)} turn"
                        ),
                        loc=format_loc([field, index, "role"]),
                    )
