"""OpenAI's published rules for fine-tuning files, as a validator for the consumer tests.

Written from OpenAI's fine-tuning guides and API reference (the per-line objects of the
supervised chat method and of the DPO method), not from instructkit's code:

Supervised (chat) lines: an object with ``messages`` and optionally ``tools``,
``parallel_tool_calls`` and the deprecated ``functions``. Messages are ``system``, ``user``,
``assistant``, ``tool`` or the deprecated ``function``, each with only the keys of its role.
``content`` is a string or an array of content parts (text parts ``{"type": "text", "text"}``,
on user turns also ``image_url`` parts; assistant turns also ``refusal`` parts), and may be
null only on an assistant turn that calls tools (or the deprecated ``function_call``).
A tool call is ``{"id", "type": "function", "function": {"name", "arguments"}}`` with the
arguments a JSON-encoded string; a ``tool`` message answers an earlier call by its
``tool_call_id``. A tools entry is ``{"type": "function", "function": {"name", ...}}``.
``weight`` is 0 or 1, on assistant turns only, and a line needs at least one assistant turn
to train on (weight absent or 1).

DPO lines: ``input`` (an object with ``messages`` and optionally ``tools`` and
``parallel_tool_calls``), ``preferred_output`` and ``non_preferred_output``, each a
non-empty list of assistant messages (tool results between them allowed, as Azure OpenAI's
copy of the format documents), starting with an assistant turn. Weights are a
supervised-method key.

Keys outside these are reported for messages, tool calls and tools, where OpenAI's schemas
name every key; extra top-level keys (an ``id`` column, say) are left alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["OpenAIRuleError", "check_chat_line", "check_dpo_line", "check_file"]


class OpenAIRuleError(AssertionError):
    """A line breaks one of OpenAI's rules; the message says where and which."""


_COMMON_KEYS = {"role", "content", "name"}
_MESSAGE_KEYS = {
    "system": _COMMON_KEYS,
    "user": _COMMON_KEYS,
    "assistant": _COMMON_KEYS | {"tool_calls", "function_call", "refusal", "weight", "audio"},
    "tool": {"role", "content", "tool_call_id"},
    "function": {"role", "content", "name"},
}
_PART_TYPES = {
    "system": {"text"},
    "user": {"text", "image_url"},
    "assistant": {"text", "refusal"},
    "tool": {"text"},
    "function": set(),
}


def _fail(where: str, message: str) -> OpenAIRuleError:
    return OpenAIRuleError(f"{message} - at {where}")


def _check_content(message: dict[str, Any], where: str) -> None:
    role = message["role"]
    calls = message.get("tool_calls") or message.get("function_call")
    if "content" not in message or message["content"] is None:
        if role == "assistant" and calls:
            return
        raise _fail(f"{where}.content", f"a {role} message needs content")
    content = message["content"]
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not content or not _PART_TYPES[role]:
        raise _fail(f"{where}.content", f"expected a string or content parts, got {content!r}")
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        if not isinstance(part, dict) or part.get("type") not in _PART_TYPES[role]:
            raise _fail(at, f"expected a part of type {sorted(_PART_TYPES[role])}, got {part!r}")
        kind = part["type"]
        textual = kind in ("text", "refusal")
        if textual and (set(part) != {"type", kind} or not isinstance(part[kind], str)):
            raise _fail(at, f"expected {{type, {kind}: string}}, got {part!r}")


def _check_tool_call(call: Any, where: str) -> str:
    if not isinstance(call, dict) or set(call) != {"id", "type", "function"}:
        raise _fail(where, f"expected a tool call {{id, type, function}}, got {call!r}")
    if not isinstance(call["id"], str) or not call["id"]:
        raise _fail(f"{where}.id", f"expected a non-empty string id, got {call['id']!r}")
    if call["type"] != "function":
        raise _fail(f"{where}.type", f"expected 'function', got {call['type']!r}")
    function = call["function"]
    if not isinstance(function, dict) or set(function) != {"name", "arguments"}:
        raise _fail(f"{where}.function", f"expected {{name, arguments}}, got {function!r}")
    if not isinstance(function["name"], str) or not function["name"]:
        raise _fail(f"{where}.function.name", f"expected a name, got {function['name']!r}")
    arguments = function["arguments"]
    if not isinstance(arguments, str):
        raise _fail(f"{where}.function.arguments", f"expected JSON text, got {arguments!r}")
    try:
        json.loads(arguments)
    except ValueError as err:
        raise _fail(f"{where}.function.arguments", f"expected JSON text, got {err}") from err
    return str(call["id"])


def _check_messages(
    messages: Any, where: str, *, weights: bool, answered: set[str] | None = None
) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise _fail(where, f"expected a non-empty list of messages, got {messages!r}")
    call_ids = set() if answered is None else answered
    for index, message in enumerate(messages):
        at = f"{where}[{index}]"
        if not isinstance(message, dict) or message.get("role") not in _MESSAGE_KEYS:
            raise _fail(f"{at}.role", f"expected one of {sorted(_MESSAGE_KEYS)}, got {message!r}")
        role = message["role"]
        allowed = _MESSAGE_KEYS[role] - (set() if weights else {"weight"})
        unknown = sorted(set(message) - allowed)
        if unknown:
            raise _fail(at, f"a {role} message has no keys {unknown}")
        _check_content(message, at)
        if "name" in message and not isinstance(message["name"], str):
            raise _fail(f"{at}.name", f"expected a string, got {message['name']!r}")
        if "weight" in message and (
            isinstance(message["weight"], bool) or message["weight"] not in (0, 1)
        ):
            raise _fail(f"{at}.weight", f"expected 0 or 1, got {message['weight']!r}")
        if "tool_calls" in message:
            calls = message["tool_calls"]
            if not isinstance(calls, list) or not calls:
                raise _fail(f"{at}.tool_calls", f"expected a non-empty list, got {calls!r}")
            for number, call in enumerate(calls):
                call_ids.add(_check_tool_call(call, f"{at}.tool_calls[{number}]"))
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or call_id not in call_ids:
                raise _fail(
                    f"{at}.tool_call_id",
                    f"expected the id of an earlier tool call {sorted(call_ids)}, got {call_id!r}",
                )
    return messages


def _check_tools(line: dict[str, Any], where: str) -> None:
    if "tools" in line:
        tools = line["tools"]
        if not isinstance(tools, list):
            raise _fail(f"{where}tools", f"expected a list, got {tools!r}")
        for index, tool in enumerate(tools):
            at = f"{where}tools[{index}]"
            if not isinstance(tool, dict) or set(tool) != {"type", "function"}:
                raise _fail(at, f"expected {{type: 'function', function}}, got {tool!r}")
            if tool["type"] != "function":
                raise _fail(f"{at}.type", f"expected 'function', got {tool['type']!r}")
            function = tool["function"]
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise _fail(f"{at}.function", f"expected a function with a name, got {function!r}")
            unknown = sorted(set(function) - {"name", "description", "parameters", "strict"})
            if unknown:
                raise _fail(f"{at}.function", f"a function has no keys {unknown}")
    if "parallel_tool_calls" in line and not isinstance(line["parallel_tool_calls"], bool):
        raise _fail(f"{where}parallel_tool_calls", "expected true or false")


def check_chat_line(line: Any, where: str = "$") -> None:
    """Check one line of a supervised (chat) fine-tuning file.

    Raises:
        OpenAIRuleError: the first rule the line breaks, with its location.
    """
    if not isinstance(line, dict):
        raise _fail(where, f"expected an object, got {line!r}")
    messages = _check_messages(line.get("messages"), f"{where}.messages", weights=True)
    _check_tools(line, f"{where}.")
    trained = [m for m in messages if m["role"] == "assistant" and m.get("weight", 1) == 1]
    if not trained:
        raise _fail(f"{where}.messages", "expected at least one assistant message to train on")


def check_dpo_line(line: Any, where: str = "$") -> None:
    """Check one line of a DPO fine-tuning file.

    Raises:
        OpenAIRuleError: the first rule the line breaks, with its location.
    """
    if not isinstance(line, dict):
        raise _fail(where, f"expected an object, got {line!r}")
    given = line.get("input")
    if not isinstance(given, dict):
        raise _fail(f"{where}.input", f"expected an object, got {given!r}")
    unknown = sorted(set(given) - {"messages", "tools", "parallel_tool_calls"})
    if unknown:
        raise _fail(f"{where}.input", f"the input has no keys {unknown}")
    call_ids: set[str] = set()
    _check_messages(
        given.get("messages"), f"{where}.input.messages", weights=False, answered=call_ids
    )
    _check_tools(given, f"{where}.input.")
    for key in ("preferred_output", "non_preferred_output"):
        output = _check_messages(
            line.get(key), f"{where}.{key}", weights=False, answered=set(call_ids)
        )
        for index, message in enumerate(output):
            allowed = ("assistant",) if index == 0 else ("assistant", "tool")
            if message["role"] not in allowed:
                raise _fail(
                    f"{where}.{key}[{index}].role",
                    f"expected one of {list(allowed)}, got {message['role']!r}",
                )


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        raise _fail(f"{path}", "expected every line to end with a newline")
    for number, raw in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            yield number, json.loads(raw.decode("utf-8"))
        except ValueError as err:
            raise _fail(
                f"{path}:{number}", f"expected a JSON object on the line, got {err}"
            ) from err


def check_file(path: Path, *, method: str) -> int:
    """Check a JSONL fine-tuning file line by line; return the number of lines.

    Args:
        path: The file.
        method: ``"supervised"`` (chat lines) or ``"dpo"``.

    Raises:
        OpenAIRuleError: the first rule a line breaks, located as ``file:line`` and path.
    """
    check = {"supervised": check_chat_line, "dpo": check_dpo_line}[method]
    count = 0
    for number, line in _lines(path):
        check(line, f"{path.name}:{number} $")
        count += 1
    return count
