"""OpenAI fine-tuning lines: ``openai`` (chat) and ``openai_dpo`` (preference pairs).

The message reader and writer (``_chat_reader``, ``_chat_writer``) also serve the ``trl``
dialect, whose conversational messages are the same objects spelled slightly differently
(see :class:`~instructkit._dialects._chat_style.ChatStyle`).

Reading, in brief: ``content`` is a string, null, or an array of content parts (``text`` and
``image_url`` parts are kept as :class:`~instructkit.TextPart` and
:class:`~instructkit.ImagePart`; other kinds are dropped, reported); a missing tool-call id, or a
tool message without ``tool_call_id``, gets an invented one (see
:class:`~instructkit._dialects._call_ids.CallIds`), reported; the deprecated ``function`` role
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

from collections.abc import Mapping
from typing import Any, ClassVar

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
from instructkit._dialects._chat_reader import read_messages, read_tool_list
from instructkit._dialects._chat_style import OPENAI_STYLE, looks_like_trl
from instructkit._dialects._chat_writer import write_messages, write_tool_list
from instructkit._dialects._columns import emit_extras, take_extras, take_id
from instructkit._dialects._locations import LocMap
from instructkit._errors import DialectError, format_loc, with_article
from instructkit._records import ROLES, Conversation, Preference, Record

__all__ = ["PARALLEL_TOOL_CALLS", "OpenAIDPODialect", "OpenAIDialect"]

PARALLEL_TOOL_CALLS = "parallel_tool_calls"
"""The meta key (and OpenAI column) holding the record-level ``parallel_tool_calls`` flag."""


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
    roles_out: ClassVar[Mapping[str, str]] = {role: role for role in ROLES}
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
