"""ShareGPT: ``conversations`` of ``{"from", "value"}`` turns, with LLaMA-Factory's extensions.

Speakers: ``human``/``user``, ``gpt``/``assistant``, ``system``, ``developer``, and for tool use
``function_call`` (the value is JSON text ``{"name": ..., "arguments": ...}``, or an array of
them for parallel calls: an assistant act) and ``observation``/``tool`` (a tool result).
LLaMA-Factory adds a ``system`` column and a ``tools`` column holding a JSON array as text
(of unwrapped function objects: a wrapped OpenAI schema is unwrapped when written, reported),
and a *ranking* layout for preference pairs: the prompt's ``conversations`` plus ``chosen`` and
``rejected`` columns, each one answer turn object. KTO rows (a ``kto_tag`` column) are refused.

ShareGPT has no tool-call ids. Reading invents them by position (``call_0``, ``call_1``... in
the order calls appear) and lets each observation answer the oldest unanswered call; both are
reported as invented. Writing leaves ids out, which loses nothing when they are exactly the
ones reading would invent, and is reported as dropped otherwise.

A ShareGPT turn cannot carry text and tool calls at once, so an assistant message with both is
written as a ``gpt`` turn followed by a ``function_call`` turn, and reading merges a
``function_call`` turn into the assistant text turn right before it. The one record this
cannot tell apart (a text-only assistant turn followed by a calls-only assistant turn) is
reported as changed when written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

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
from instructkit._dialects._call_ids import CallIds
from instructkit._dialects._columns import emit_extras, take_extras, take_id
from instructkit._dialects._images import IMAGES, ImageColumn, ImageSlots, placeholder_parts
from instructkit._dialects._json_text import JSON_SPACE, item_texts, member_texts
from instructkit._dialects._locations import ANY, LocMap, loss_loc
from instructkit._dialects._text_turns import text_content
from instructkit._dialects._tool_schemas import read_tools_text, write_tools_text
from instructkit._errors import DialectError, format_loc
from instructkit._records import Conversation, Message, Preference, Record, ToolCall

__all__ = [
    "FUNCTION_CALL",
    "ShareGPTDialect",
    "function_call_text",
    "refuse_kto",
]

FUNCTION_CALL = "function_call"
"""The speaker word of a turn whose value holds tool calls (fixed; ``role_map`` cannot move it)."""


def function_call_text(calls: Sequence[tuple[str, str]]) -> str:
    """The value of a ``function_call`` turn: one call's object, or an array of several.

    The spelling is fixed (``{"name": ..., "arguments": ...}`` with a space after each colon
    and comma, non-ASCII kept) and the arguments are embedded as their exact text.

    Args:
        calls: ``(name, arguments JSON text)`` of each call.

    Returns:
        The JSON text.

    Example:
        >>> function_call_text([("f", '{"x":1}')])
        '{"name": "f", "arguments": {"x":1}}'
    """
    objects = [
        f'{{"name": {json.dumps(name, ensure_ascii=False)}, "arguments": {arguments}}}'
        for name, arguments in calls
    ]
    return objects[0] if len(objects) == 1 else "[" + ", ".join(objects) + "]"


_SIDES = ("chosen", "rejected")


def _sides(record: Preference) -> tuple[tuple[Message, ...], tuple[Message, ...]]:
    return record.chosen, record.rejected


def _is_ranking(row: Mapping[str, Any]) -> bool:
    """Whether a row is LLaMA-Factory's ranking (preference) layout: it has chosen/rejected."""
    return any(row.get(side) is not None for side in _SIDES)


def refuse_kto(row: Mapping[str, Any], conv: Conversion) -> None:
    """Refuse LLaMA-Factory's KTO rows, which need a record type of their own.

    Raises:
        DialectError: the row has a ``kto_tag`` column.
    """
    if row.get("kto_tag") is not None:
        raise conv.fail(
            "expected no 'kto_tag' column: LLaMA-Factory's KTO layout (one answer with a "
            "good/bad label) needs an unpaired preference record, which instructkit does not "
            "have yet, so these rows are refused rather than read as something else",
            ("kto_tag",),
        )


def _is_json_text(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


class ShareGPTDialect(Dialect):
    """ShareGPT conversations; layouts ``conversations``, ``system_column`` and ``ranking``.

    ``conversations`` (the default for a Conversation) writes every turn, system prompts
    included, into the ``conversations`` list. ``system_column`` (LLaMA-Factory) writes a
    leading system prompt into a ``system`` column instead. Either is read whatever the
    layout. ``ranking`` (LLaMA-Factory's preference rows, the default for a Preference) reads
    and writes a Preference: the prompt in ``conversations`` (a leading system prompt in the
    ``system`` column) and one answer turn each in ``chosen`` and ``rejected``.
    """

    name = "sharegpt"
    summary = "ShareGPT {from, value} turns, with function_call/observation, system and tools."
    columns = (
        "conversations",
        "system",
        "tools",
        "chosen",
        "rejected",
        IMAGES,
        "id",
        "kto_tag",
    )
    message_keys = ("from", "value")
    roles: ClassVar[Mapping[str, str]] = {
        "system": "system",
        "developer": "developer",
        "human": "user",
        "user": "user",
        "gpt": "assistant",
        "assistant": "assistant",
        FUNCTION_CALL: "assistant",
        "observation": "tool",
        "tool": "tool",
    }
    roles_out: ClassVar[Mapping[str, str]] = {
        "system": "system",
        "developer": "developer",
        "user": "human",
        "assistant": "gpt",
        "tool": "observation",
    }
    layouts = ("conversations", "system_column", "ranking")
    record_types = (Conversation, Preference)

    def layout_types(self, layout: str) -> tuple[type[Record], ...]:
        return (Preference,) if layout == "ranking" else (Conversation,)

    def match(self, row: Mapping[str, Any]) -> Match:
        turns = row.get("conversations")
        if not isinstance(turns, list):
            return NO_MATCH
        score = keys_score(row, ["conversations"], self.columns)
        if turns and not (
            isinstance(turns[0], Mapping) and "from" in turns[0] and "value" in turns[0]
        ):
            score *= 0.5
        if _is_ranking(row):
            layout = "ranking"
        else:
            layout = "system_column" if row.get("system") is not None else "conversations"
        return Match(score, layout) if score else NO_MATCH

    # -- reading ---------------------------------------------------------------------------

    def parse(self, row: Mapping[str, Any], conv: Conversion) -> Record:
        refuse_kto(row, conv)
        turns = conv.get(row, "conversations", (), list)
        system = conv.get(row, "system", (), str, required=False, nullable=True)
        tools = read_tools_text(row, conv)
        slots = ImageSlots(row, conv)
        record_id = take_id(row, conv)
        meta = take_extras(row, self.columns, conv)
        ranking = _is_ranking(row)
        field = "prompt" if ranking else "messages"
        where = LocMap(conv)
        where.add((field,), ("conversations",))
        messages: list[dict[str, Any]] = []
        if system == "":
            conv.lost("dropped", loss_loc(("system",), conv), "an empty system column is left out")
        elif system is not None:
            where.add((field, 0), ("system",))
            where.add((field, 0, "content"), ("system",))
            messages.append({"role": "system", "content": system})
        ids = CallIds()
        self._read_turns(turns, conv, ids, where, field, messages, slots)
        if not ranking:
            slots.finish()
            return conv.build(
                lambda: Conversation(messages=messages, tools=tools, id=record_id, meta=meta),
                where=where,
            )
        sides = [self._read_side(row, side, conv, ids.copy(), where, slots) for side in _SIDES]
        slots.finish()
        return conv.build(
            lambda: Preference(
                prompt=messages,
                chosen=sides[0],
                rejected=sides[1],
                tools=tools,
                id=record_id,
                meta=meta,
            ),
            where=where,
        )

    def _read_turns(
        self,
        turns: Sequence[Any],
        conv: Conversion,
        ids: CallIds,
        where: LocMap,
        field: str,
        messages: list[dict[str, Any]],
        slots: ImageSlots,
    ) -> None:
        """Read the ``conversations`` turns into ``messages`` (record field ``field``)."""
        takes_calls = False  # the previous turn was assistant text a function_call may join
        for index, turn in enumerate(turns):
            here = ("conversations", index)
            if not isinstance(turn, Mapping):
                raise conv.fail(f"expected a turn object, got {describe_type(turn)}", here)
            if conv.get(turn, "from", here, str) == FUNCTION_CALL:
                if not takes_calls:
                    messages.append({"role": "assistant", "content": None})
                    where.add((field, len(messages) - 1), here)
                target = len(messages) - 1
                position = (field, target)
                self._read_call_turn(turn, here, conv, ids, where, position, messages[target])
                takes_calls = False
                continue
            position = (field, len(messages))
            message = self._read_turn(turn, here, conv, ids, where, position, slots)
            messages.append(message)
            takes_calls = message["role"] == "assistant"

    def _read_turn(
        self,
        turn: Mapping[str, Any],
        here: Path,
        conv: Conversion,
        ids: CallIds,
        where: LocMap,
        position: tuple[str, int],
        slots: ImageSlots,
    ) -> dict[str, Any]:
        """One turn that is not a ``function_call`` as a message."""
        self._drop_unknown(turn, conv)
        word = conv.get(turn, "from", here, str)
        value = conv.get(turn, "value", here, str)
        role = conv.role_in(word, (*here, "from"))
        if conv.role_out(role) != word:
            conv.lost(
                "changed",
                loss_loc(("conversations", ANY, "from"), conv),
                f"speaker {word!r} is written back as {conv.role_out(role)!r}",
            )
        content = placeholder_parts(value, role, (*here, "value"), slots, conv)
        message: dict[str, Any] = {"role": role, "content": content}
        where.add(position, here)
        where.add((*position, "content"), (*here, "value"))
        where.add((*position, "role"), (*here, "from"))
        if role == "tool":
            answered = ids.result(None)
            if answered is None:
                raise conv.fail(
                    f"expected this {word!r} turn to answer an earlier function_call turn, "
                    "got no unanswered call",
                    (*here, "from"),
                )
            message["tool_call_id"] = answered
            where.add((*position, "tool_call_id"), (*here, "from"))
            conv.lost(
                "invented",
                "$.messages[*].tool_call_id",
                "ShareGPT tool results name no call; each answers the oldest open call",
            )
        return message

    def _read_call_turn(
        self,
        turn: Mapping[str, Any],
        here: Path,
        conv: Conversion,
        ids: CallIds,
        where: LocMap,
        position: tuple[str, int],
        message: dict[str, Any],
    ) -> None:
        """Add the calls of a ``function_call`` turn to ``message`` (an assistant turn)."""
        self._drop_unknown(turn, conv)
        value = conv.get(turn, "value", here, str)
        at = (*here, "value")
        calls = self._read_calls(value, at, conv, ids)
        message["tool_calls"] = calls
        for number in range(len(calls)):
            for part in ((), ("id",), ("name",), ("arguments",)):
                where.add((*position, "tool_calls", number, *part), at)

    def _read_side(
        self,
        row: Mapping[str, Any],
        side: str,
        conv: Conversion,
        ids: CallIds,
        where: LocMap,
        slots: ImageSlots,
    ) -> list[dict[str, Any]]:
        """The ``chosen`` or ``rejected`` turn of a ranking row: one assistant answer."""
        turn = conv.get(row, side, (), dict)
        here: Path = (side,)
        position = (side, 0)
        where.add((side,), here)
        if conv.get(turn, "from", here, str) == FUNCTION_CALL:
            message: dict[str, Any] = {"role": "assistant", "content": None}
            where.add(position, here)
            self._read_call_turn(turn, here, conv, ids, where, position, message)
            return [message]
        message = self._read_turn(turn, here, conv, ids, where, position, slots)
        if message["role"] != "assistant":
            raise conv.fail(
                f"expected the {side} turn to be an assistant answer, got a {message['role']} turn",
                (*here, "from"),
            )
        return [message]

    def _drop_unknown(self, turn: Mapping[str, Any], conv: Conversion) -> None:
        known = {conv.col("from"), conv.col("value")}
        for key, value in turn.items():
            if key not in known and value is not None:
                conv.lost(
                    "dropped",
                    loss_loc(("conversations", ANY), conv) + format_loc([key])[1:],
                    f"turn key {key!r} has no place in a record",
                )

    def _read_calls(
        self, value: str, at: Path, conv: Conversion, ids: CallIds
    ) -> list[dict[str, Any]]:
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as err:
            raise conv.fail(f"expected a function_call value of JSON text, got {err}", at) from err
        if isinstance(parsed, dict):
            objects = [value]
        elif isinstance(parsed, list) and parsed and all(isinstance(p, dict) for p in parsed):
            objects = item_texts(value) or []
        else:
            raise conv.fail(
                "expected a function_call value holding a call object or a non-empty array "
                f"of them, got {describe_type(parsed)}",
                at,
            )
        calls = []
        for text in objects:
            members = member_texts(text) or []
            keys = [key for key, _ in members]
            if sorted(keys) != ["arguments", "name"]:
                raise conv.fail(
                    f"expected a function_call object with keys 'name' and 'arguments', "
                    f"got keys {keys}",
                    at,
                )
            found = dict(members)
            name = orjson.loads(found["name"])
            if not isinstance(name, str):
                raise conv.fail(
                    f"expected a function_call name that is a string, got {describe_type(name)}",
                    at,
                )
            arguments = found["arguments"]
            inner = orjson.loads(arguments)
            # Some data stores the arguments as a string of JSON text (OpenAI's habit); the
            # record keeps that JSON text itself. A string that is not JSON stays a string.
            if isinstance(inner, str) and _is_json_text(inner):
                arguments = inner
            calls.append({"id": ids.call(None), "name": name, "arguments": arguments})
        conv.lost(
            "invented",
            "$.messages[*].tool_calls[*].id",
            "ShareGPT tool calls have no ids; they are invented by position",
        )
        spelled = function_call_text([(call["name"], call["arguments"]) for call in calls])
        if spelled != value:
            conv.lost(
                "changed",
                loss_loc(("conversations", ANY, "value"), conv),
                "a function_call value is re-spelled in the canonical layout",
            )
        return calls

    # -- writing ---------------------------------------------------------------------------

    def emit(self, record: Record, conv: Conversion, layout: str | None) -> dict[str, Any]:
        assert isinstance(record, (Conversation, Preference))
        layout = self.layout_for(record, layout)
        if isinstance(record, Preference):
            messages = list(record.prompt)
            same = CallIds().reinvents(record.prompt)
            base = CallIds()
            base.reinvents(record.prompt)
            same = all([same, *(base.copy().reinvents(side) for side in _sides(record))])
        else:
            messages = list(record.messages)
            same = CallIds().reinvents(record.messages)
        row: dict[str, Any] = {}
        images = ImageColumn(record, self.name)
        field = "prompt" if isinstance(record, Preference) else "messages"
        start = 0
        if layout in ("system_column", "ranking") and messages and messages[0].role == "system":
            row["system"] = text_content(messages[0], "$.messages[*]", conv)
            self._drop_extras(messages[0], conv)
            messages = messages[1:]
            start = 1
        if not same:
            conv.lost(
                "dropped",
                "$.messages[*].tool_calls[*].id",
                "ShareGPT has no tool-call ids; reading invents them by position and pairs "
                "results with calls in order",
            )
        row["conversations"] = self._write_turns(messages, conv, images, field, start)
        if isinstance(record, Preference):
            for side, messages_of_side in zip(_SIDES, _sides(record), strict=True):
                row[side] = self._write_side(messages_of_side, side, conv, images)
        images.write(row)
        if record.tools:
            row["tools"] = write_tools_text(record.tools, conv)
        if record.id is not None:
            row["id"] = record.id
        emit_extras(row, record.meta, conv, reserved=self.columns)
        return row

    def _write_turns(
        self,
        messages: Sequence[Message],
        conv: Conversion,
        images: ImageColumn,
        field: str = "messages",
        start: int = 0,
    ) -> list[dict[str, Any]]:
        speaker, text = conv.col("from"), conv.col("value")
        turns: list[dict[str, Any]] = []
        for index, message in enumerate(messages):
            self._drop_extras(message, conv)
            if not message.tool_calls:
                loc = (field, start + index)
                value = images.placeholder_text(message, loc, "$.messages[*]", conv)
                turns.append({speaker: conv.role_out(message.role), text: value})
                following = messages[index + 1] if index + 1 < len(messages) else None
                if (
                    message.role == "assistant"
                    and following is not None
                    and following.role == "assistant"
                    and following.tool_calls
                    and following.content is None
                ):
                    conv.lost(
                        "changed",
                        "$.messages[*]",
                        "an assistant text turn followed by a calls-only assistant turn is "
                        "read back as one turn",
                    )
                continue
            self._check_arguments(message.tool_calls, conv)
            if message.content is not None:
                value = text_content(message, "$.messages[*]", conv)
                turns.append({speaker: conv.role_out("assistant"), text: value})
            spelled = function_call_text([(c.name, c.arguments) for c in message.tool_calls])
            turns.append({speaker: FUNCTION_CALL, text: spelled})
        return turns

    def _drop_extras(self, message: Message, conv: Conversion) -> None:
        for field in ("name", "weight", "reasoning"):
            if getattr(message, field) is not None:
                conv.lost("dropped", f"$.messages[*].{field}", f"ShareGPT turns have no {field}")

    def _write_side(
        self, messages: Sequence[Message], side: str, conv: Conversion, images: ImageColumn
    ) -> dict[str, Any]:
        # LLaMA-Factory's ranking rows hold one answer turn per side: a gpt turn or a
        # function_call turn, never both, and never a longer continuation.
        message = messages[0]
        if len(messages) != 1 or message.role != "assistant":
            raise DialectError(
                self.message(
                    f"expected one assistant turn as {side} for layout 'ranking', got "
                    f"turns {[m.role for m in messages]}"
                ),
                loc=format_loc([side]),
            )
        if message.tool_calls and message.content is not None:
            raise DialectError(
                self.message(
                    f"expected the {side} turn to hold text or tool calls for layout "
                    "'ranking' (a ranking row has one turn per side), got both"
                ),
                loc=format_loc([side, 0, "tool_calls"]),
            )
        (turn,) = self._write_turns(messages, conv, images, side)
        return turn

    def _check_arguments(self, calls: Sequence[ToolCall], conv: Conversion) -> None:
        for call in calls:
            value = orjson.loads(call.arguments)
            if call.arguments != call.arguments.strip(JSON_SPACE) or (
                isinstance(value, str) and _is_json_text(value)
            ):
                conv.lost(
                    "changed",
                    "$.messages[*].tool_calls[*].arguments",
                    "arguments with surrounding whitespace, or a string of JSON text, do not "
                    "read back the same from a function_call value",
                )
