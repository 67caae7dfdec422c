"""How OpenAI-like message objects are spelled: OpenAI's chat lines and TRL's messages.

Both dialects read and write the same message objects (``_chat_reader``,
``_chat_writer``); a :class:`ChatStyle` says where their spellings differ, and
:func:`looks_like_trl` tells one spelling from the other in a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["OPENAI_STYLE", "TRL_STYLE", "ChatStyle", "looks_like_trl"]


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
