r"""TRL dataset layouts: language modeling, prompt-only, prompt-completion and preference.

Every TRL type comes in a *conversational* form (message lists) and a *standard* form (plain
strings), which makes ten layouts, named ``<form>_<type>``:

========================================  ==================================================
Layout                                    Columns
========================================  ==================================================
``conversational_language_modeling``      ``messages``
``standard_language_modeling``            ``text``
``conversational_prompt_only``            ``prompt``
``standard_prompt_only``                  ``prompt``
``conversational_prompt_completion``      ``prompt``, ``completion``
``standard_prompt_completion``            ``prompt``, ``completion``
``conversational_preference``             ``prompt``, ``chosen``, ``rejected``
``standard_preference``                   ``prompt``, ``chosen``, ``rejected``
``conversational_implicit_preference``    ``chosen``, ``rejected`` (whole transcripts)
``standard_implicit_preference``          ``chosen``, ``rejected`` (whole texts)
========================================  ==================================================

Reading picks the layout from the columns (and a string or list value picks the form);
:func:`~instructkit.detect_dialect` reports it as ``layout``, and ``to_row(...,
layout=...)`` writes it back. Without ``layout=``, a record read from another TRL layout than
its default is written in that layout again (remembered in ``meta`` under
:data:`~instructkit._bookkeeping.LAYOUT_KEY`); otherwise a Conversation is written as
``conversational_language_modeling`` (or ``conversational_prompt_completion`` when its meta
holds :data:`COMPLETION_START_KEY`), an Instruction as ``conversational_prompt_completion``
split before the response, and a Preference as ``conversational_preference``.

Roles of the standard form: a prompt string is a ``user`` turn, a completion, chosen,
rejected or language-modeling ``text`` string an ``assistant`` turn. An empty prompt string
means no prompt turn.

Prompt-completion rows read into one Conversation, with the index of the first completion
message in ``meta[COMPLETION_START_KEY]`` so the split survives.

Implicit preference rows have no prompt column: the prompt is the shared start. For message
lists it is the longest shared prefix of turns (:meth:`~instructkit.Preference.from_transcripts`);
for strings it is the longest shared prefix of characters, cut short where needed so that
chosen and rejected each keep at least one character (identical strings keep their last
character each; strings that differ at once get no prompt). A row with a string ``prompt``
next to message-list ``chosen``/``rejected`` (UltraFeedback's layout) is an implicit
preference too: TRL ignores that prompt, and it is kept in ``meta``. Like every meta key named
like a TRL column, it is not written back (reported): readers that look at one column to tell
the form apart may pick the string.

Messages are OpenAI-like objects with TRL's spelling: tool-call ``arguments`` are JSON
values (JSON text in a string is accepted, reported as changed), call ids are optional
(missing ones are invented by position, reported; ids are written only when reading could not
re-invent them), reasoning goes in ``thinking``. ``tools`` is a list of schemas or a JSON
string holding one (written back as a list, reported).

Which layout a row is lives in ``_trl_layouts``; the messages are read and written by the
OpenAI message code (``_chat_reader``, ``_chat_writer``). What remains is one module because
it is one class: :class:`TRLDialect` reads and writes the ten layouts with rules the two
directions share (where the prompt ends, which ids are re-invented, where images go), and
splitting it would leave each half reaching into the other's private helpers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, ClassVar

from instructkit._bookkeeping import COMPLETION_START_KEY
from instructkit._dialects._base import NO_MATCH, Conversion, Dialect, Match, keys_score
from instructkit._dialects._call_ids import CallIds
from instructkit._dialects._chat_reader import read_messages
from instructkit._dialects._chat_style import TRL_STYLE, looks_like_trl
from instructkit._dialects._chat_writer import write_messages, write_tool_list
from instructkit._dialects._columns import emit_extras, take_extras, take_id
from instructkit._dialects._images import IMAGES, ImageColumn, ImageSlots
from instructkit._dialects._implicit_prompts import report_prompt_split, split_shared_prefix
from instructkit._dialects._json_text import compact_json
from instructkit._dialects._locations import ANY, LocMap, loss_loc
from instructkit._dialects._text_turns import text_content
from instructkit._dialects._tool_schemas import tool_schema_texts
from instructkit._dialects._trl_layouts import (
    OPTIONAL_COLUMNS,
    REFUSED_LAYOUTS,
    TRL_FORMS,
    TRL_KINDS,
    layout_columns,
    layout_shape,
    refused_layout,
)
from instructkit._errors import DialectError, format_loc
from instructkit._records import ROLES, Conversation, Instruction, Message, Preference, Record

__all__ = ["COMPLETION_START_KEY", "TRLDialect"]


def _reinvented(record: Conversation | Preference, *, implicit: bool) -> bool:
    """Whether reading the record's row back without tool-call ids gives the same ids."""
    if isinstance(record, Conversation):
        return CallIds().reinvents(record.messages)
    sides = (record.chosen, record.rejected)
    if implicit:
        return all(CallIds().reinvents((*record.prompt, *side)) for side in sides)
    base = CallIds()
    same = base.reinvents(record.prompt)
    return all([same, *(base.copy().reinvents(side) for side in sides)])


def _row_has_ids(row: Mapping[str, Any], columns: Sequence[str], conv: Conversion) -> bool:
    """Whether any message of the row spells out a tool-call id or a ``tool_call_id``."""
    for column in columns:
        items = row.get(column)
        for message in items if isinstance(items, list) else ():
            if not isinstance(message, Mapping):
                continue
            if message.get(conv.col("tool_call_id")) is not None:
                return True
            calls = message.get(conv.col("tool_calls"))
            for call in calls if isinstance(calls, list) else ():
                if isinstance(call, Mapping) and call.get("id") is not None:
                    return True
    return False


def _leading_images(
    messages: list[dict[str, Any]], slots: ImageSlots, column: str, conv: Conversion
) -> None:
    """Place the images before the first user turn of plain text, as TRL does.

    TRL puts all the images of a row before the text of the first user turn whose content is
    a string, then counts the placeholders. The record holds them there, and writing gives
    that turn content parts (reported as changed). A row that also has image parts would
    have more placeholders than images, which TRL refuses, and so is refused here.

    Raises:
        DialectError: image parts next to a user turn of plain text.
    """
    if not slots.urls:
        return
    for index, message in enumerate(messages):
        if message["role"] == "user" and isinstance(message["content"], str):
            if slots.used:
                raise conv.fail(
                    "expected user turns of content parts in a row with image parts (TRL "
                    "puts all the images before the first user turn of plain text, which "
                    "would give more placeholders than images), got plain text",
                    (column, index, "content"),
                )
            images = [{"type": "image", "url": slots.take((IMAGES,))} for _ in slots.urls]
            message["content"] = [*images, {"type": "text", "text": message["content"]}]
            conv.lost(
                "changed",
                loss_loc((column, ANY, "content"), conv),
                "images of a row without image parts go before the first user turn's text (as "
                "TRL places them) and are written back as image parts there",
            )
            return


class TRLDialect(Dialect):
    """Hugging Face TRL datasets, in all ten layouts (see the module docs)."""

    name = "trl"
    summary = "TRL language-modeling, prompt-only, prompt-completion and preference layouts."
    columns = (
        "messages",
        "text",
        "prompt",
        "completion",
        "chosen",
        "rejected",
        "tools",
        IMAGES,
        "id",
    )
    message_keys = TRL_STYLE.keys
    roles: ClassVar[Mapping[str, str]] = {role: role for role in ROLES}
    roles_out = roles
    layouts = tuple(f"{form}_{kind}" for kind in TRL_KINDS for form in TRL_FORMS)
    record_types = (Conversation, Preference, Instruction)
    layout_extras = ("chat_template_kwargs",)

    def match(self, row: Mapping[str, Any]) -> Match:
        shape = layout_shape(row)
        if shape is None:
            return NO_MATCH
        kind, form = shape
        columns = layout_columns(kind, form)
        wanted = str if form == "standard" else list
        if not all(isinstance(row[key], wanted) for key in columns):
            return NO_MATCH
        optional = (
            (*OPTIONAL_COLUMNS, "prompt") if kind == "implicit_preference" else OPTIONAL_COLUMNS
        )
        score = keys_score(row, columns, optional)
        if kind == "language_modeling" and form == "conversational":
            # OpenAI lines have the same key; TRL wins on TRL's own spelling, or on an images
            # column (OpenAI's images are URLs in the messages).
            trl = looks_like_trl(row["messages"]) or row.get(IMAGES) is not None
            score *= 1.0 if trl else 0.9
        return Match(score, f"{form}_{kind}") if score else NO_MATCH

    # -- reading ---------------------------------------------------------------------------

    def parse(self, row: Mapping[str, Any], conv: Conversion) -> Record:
        record = self._parse(row, conv)
        shape = layout_shape(row)
        if shape is not None and shape[1] == "conversational":
            columns = layout_columns(*shape)
            implicit = shape[0] == "implicit_preference"
            assert isinstance(record, (Conversation, Preference))
            if _row_has_ids(row, columns, conv) and _reinvented(record, implicit=implicit):
                conv.lost(
                    "changed",
                    loss_loc((columns[0], ANY, "tool_calls", ANY, "id"), conv),
                    "tool-call ids equal to those reading invents are left out when written",
                )
        return record

    def _parse(self, row: Mapping[str, Any], conv: Conversion) -> Record:
        refused = refused_layout(row)
        if refused is not None:
            columns = REFUSED_LAYOUTS[refused]
            raise conv.fail(
                f"expected a TRL layout instructkit reads, got the {refused} layout (columns "
                f"{', '.join(repr(conv.col(c)) for c in columns)}): it needs a record type "
                "instructkit does not have yet, so these rows are refused rather than read as "
                "something else",
                (columns[-1],),
            )
        shape = layout_shape(row)
        if shape is None:
            present = ", ".join(repr(k) for k in row) or "none"
            raise conv.fail(
                "expected the columns of a TRL layout (messages, text, prompt, prompt and "
                f"completion, chosen and rejected), got keys {present}"
            )
        kind, form = shape
        used = {*layout_columns(kind, form), "tools", "id", IMAGES}
        kept = {k: v for k, v in row.items() if not (k in self.columns and v is None)}
        tools = self._read_tools(row, conv)
        slots = self._read_images(row, kind, form, conv)
        record_id = take_id(row, conv)
        meta = take_extras(kept, used, conv)
        if form == "standard":
            return self._parse_standard(row, kind, conv, tools, record_id, meta)
        if kind == "implicit_preference":
            return self._parse_implicit(row, conv, tools, record_id, meta)
        where = LocMap(conv)
        where.add(("tools",), ("tools",))
        ids = CallIds()
        if kind == "preference":
            prompt = self._messages(row, "prompt", conv, ids, where, "prompt", slots)
            _leading_images(prompt, slots, "prompt", conv)
            chosen = self._messages(row, "chosen", conv, ids.copy(), where, "chosen")
            rejected = self._messages(row, "rejected", conv, ids.copy(), where, "rejected")
            slots.finish()
            return conv.build(
                lambda: Preference(
                    prompt=prompt,
                    chosen=chosen,
                    rejected=rejected,
                    tools=tools,
                    id=record_id,
                    meta=meta,
                ),
                where=where,
            )
        column = "messages" if kind == "language_modeling" else "prompt"
        messages = self._messages(row, column, conv, ids, where, "messages", slots)
        _leading_images(messages, slots, column, conv)
        if kind == "prompt_completion":
            completion = conv.get(row, "completion", (), list)
            if not completion:
                raise conv.fail(
                    "expected at least one completion message, got none", ("completion",)
                )
            self._claim_start(meta, conv)
            meta[COMPLETION_START_KEY] = len(messages)
            messages += read_messages(
                completion,
                ("completion",),
                conv,
                TRL_STYLE,
                ids,
                where,
                record_field="messages",
                offset=len(messages),
            )
        slots.finish()
        return conv.build(
            lambda: Conversation(messages=messages, tools=tools, id=record_id, meta=meta),
            where=where,
        )

    def _messages(
        self,
        row: Mapping[str, Any],
        column: str,
        conv: Conversion,
        ids: CallIds,
        where: LocMap,
        record_field: str,
        images: ImageSlots | None = None,
    ) -> list[dict[str, Any]]:
        items = conv.get(row, column, (), list)
        return read_messages(
            items,
            (column,),
            conv,
            TRL_STYLE,
            ids,
            where,
            record_field=record_field,
            images=images,
        )

    def _claim_start(self, meta: Mapping[str, Any], conv: Conversion) -> None:
        if COMPLETION_START_KEY in meta:
            raise conv.fail(
                f"expected no {COMPLETION_START_KEY} column in a prompt-completion row (the "
                "prompt's length is the split), got one",
                (COMPLETION_START_KEY,),
            )

    def _parse_implicit(
        self,
        row: Mapping[str, Any],
        conv: Conversion,
        tools: list[str],
        record_id: str | None,
        meta: dict[str, Any],
    ) -> Record:
        transcripts = []
        for column in ("chosen", "rejected"):
            where = LocMap(conv)
            where.add(("tools",), ("tools",))
            messages = self._messages(row, column, conv, CallIds(), where, "messages")
            transcripts.append(
                conv.build(partial(Conversation, messages=messages, tools=tools), where=where)
            )
        return conv.build(
            lambda: Preference.from_transcripts(
                transcripts[0], transcripts[1], id=record_id, meta=meta
            )
        )

    def _parse_standard(
        self,
        row: Mapping[str, Any],
        kind: str,
        conv: Conversion,
        tools: list[str],
        record_id: str | None,
        meta: dict[str, Any],
    ) -> Record:
        where = LocMap(conv)
        where.add(("tools",), ("tools",))
        texts = {key: conv.get(row, key, (), str) for key in layout_columns(kind, "standard")}

        def turn(role: str, text: str, field: str, index: int, column: str) -> dict[str, Any]:
            where.add((field, index), (column,))
            where.add((field, index, "content"), (column,))
            return {"role": role, "content": text}

        if kind in ("preference", "implicit_preference"):
            if kind == "implicit_preference":
                shared, chosen_text, rejected_text = split_shared_prefix(
                    texts["chosen"], texts["rejected"]
                )
                prompt = [turn("user", shared, "prompt", 0, "chosen")] if shared else []
            else:
                shared, chosen_text, rejected_text = (
                    texts["prompt"],
                    texts["chosen"],
                    texts["rejected"],
                )
                prompt = [turn("user", shared, "prompt", 0, "prompt")] if shared else []
            chosen = [turn("assistant", chosen_text, "chosen", 0, "chosen")]
            rejected = [turn("assistant", rejected_text, "rejected", 0, "rejected")]
            return conv.build(
                lambda: Preference(
                    prompt=prompt,
                    chosen=chosen,
                    rejected=rejected,
                    tools=tools,
                    id=record_id,
                    meta=meta,
                ),
                where=where,
            )
        if kind == "language_modeling":
            messages = [turn("assistant", texts["text"], "messages", 0, "text")]
        elif kind == "prompt_only":
            messages = [turn("user", texts["prompt"], "messages", 0, "prompt")]
        else:
            messages = []
            if texts["prompt"]:
                messages.append(turn("user", texts["prompt"], "messages", 0, "prompt"))
            messages.append(
                turn("assistant", texts["completion"], "messages", len(messages), "completion")
            )
            self._claim_start(meta, conv)
            meta[COMPLETION_START_KEY] = len(messages) - 1
        return conv.build(
            lambda: Conversation(messages=messages, tools=tools, id=record_id, meta=meta),
            where=where,
        )

    def _read_images(
        self, row: Mapping[str, Any], kind: str, form: str, conv: Conversion
    ) -> ImageSlots:
        """The ``images`` column, bound to the ``messages`` or ``prompt`` column.

        Raises:
            DialectError: images in a layout TRL binds none to (standard strings, implicit
                preferences), or entries that are not path or URL strings.
        """
        slots = ImageSlots(row, conv)
        if slots.urls and (form == "standard" or kind == "implicit_preference"):
            raise conv.fail(
                "expected images only in conversational layouts with a messages or prompt "
                f"column (TRL binds the images column to it), got them in layout "
                f"'{form}_{kind}'",
                (IMAGES,),
            )
        return slots

    def _read_tools(self, row: Mapping[str, Any], conv: Conversion) -> list[str]:
        raw = conv.get(row, "tools", (), (list, str), required=False, nullable=True)
        if raw is None:
            return []
        if isinstance(raw, list):
            return [compact_json(tool, ("tools", index), conv) for index, tool in enumerate(raw)]
        items = tool_schema_texts(raw, conv)
        conv.lost(
            "changed",
            loss_loc(("tools",), conv),
            "a tools column of JSON text is written back as a list",
        )
        return items

    # -- writing ---------------------------------------------------------------------------

    def layout_types(self, layout: str) -> tuple[type[Record], ...]:
        if layout.endswith("_preference"):
            return (Preference,)
        return (Conversation, Instruction)

    def default_layout(self, record: Record) -> str | None:
        if isinstance(record, Preference):
            # TRL cannot read an empty prompt list (it looks at a column's first message), so
            # a pair without a prompt is written as whole conversations by default.
            if not record.prompt:
                return "conversational_implicit_preference"
            return "conversational_preference"
        if isinstance(record, Instruction) or (
            isinstance(record, Conversation) and COMPLETION_START_KEY in record.meta
        ):
            return "conversational_prompt_completion"
        return "conversational_language_modeling"

    def coerce(self, record: Record, conv: Conversion) -> Record:
        if isinstance(record, Instruction):
            # An instruction is a prompt and its completion, the response.
            chat = record.to_conversation()
            meta = {**chat.meta, COMPLETION_START_KEY: len(chat.messages) - 1}
            return chat.model_copy(update={"meta": meta})
        return super().coerce(record, conv)

    def emit(self, record: Record, conv: Conversion, layout: str | None) -> dict[str, Any]:
        assert isinstance(record, (Conversation, Preference))
        layout = self.layout_for(record, layout)
        assert layout is not None
        form, _, kind = layout.partition("_")
        images = ImageColumn(record, self.name)
        if images.active and form == "conversational" and kind == "implicit_preference":
            raise DialectError(
                self.message(
                    "expected a record without images for layout "
                    "'conversational_implicit_preference' (TRL binds images to a prompt "
                    "column), got image parts; write it as 'conversational_preference'"
                ),
                loc="$.prompt",
            )
        if isinstance(record, Preference):
            row = self._emit_preference(record, kind, form, conv, images)
        else:
            row = self._emit_conversation(record, kind, form, conv.bookkeeping, conv, images)
        images.write(row)
        if record.tools:
            row["tools"] = write_tool_list(record.tools, conv)
        if record.id is not None:
            row["id"] = record.id
        emit_extras(row, record.meta, conv, reserved=self._refusing(row, record.meta))
        return row

    @staticmethod
    def _refusing(row: Mapping[str, Any], meta: Mapping[str, Any]) -> set[str]:
        # Meta entries that would make the row one of the refused layouts are not written.
        reserved: set[str] = set()
        for columns in REFUSED_LAYOUTS.values():
            extra = {key: meta[key] for key in columns if key in meta and key not in row}
            if extra and refused_layout({**row, **extra}) is not None:
                reserved.update(extra)
        return reserved

    def _emit_conversation(
        self,
        record: Conversation,
        kind: str,
        form: str,
        meta: dict[str, Any],
        conv: Conversion,
        images: ImageColumn,
    ) -> dict[str, Any]:
        messages = record.messages
        start = len(messages) - 1
        if kind == "prompt_completion":
            start = self._completion_start(meta, len(messages), conv)
        if form == "standard":
            return self._emit_standard_conversation(messages, kind, start, conv)
        write_ids = not _reinvented(record, implicit=False)

        def write(part: Sequence[Message], bound: ImageColumn | None) -> list[dict[str, Any]]:
            return write_messages(
                part,
                conv,
                TRL_STYLE,
                record_field="messages",
                write_ids=write_ids,
                images=bound,
            )

        if kind == "prompt_completion":
            prompt = write(messages[:start], images)
            return {"prompt": prompt, "completion": write(messages[start:], None)}
        column = "messages" if kind == "language_modeling" else "prompt"
        return {column: write(messages, images)}

    def _completion_start(self, meta: dict[str, Any], count: int, conv: Conversion) -> int:
        field = f"$.meta[{COMPLETION_START_KEY!r}]"
        if COMPLETION_START_KEY not in meta:
            conv.lost(
                "invented",
                field,
                "the record says nowhere where the completion starts; the last message is "
                "written as the completion",
            )
            return count - 1
        start = meta.pop(COMPLETION_START_KEY)
        if isinstance(start, int) and not isinstance(start, bool) and 0 <= start < count:
            return start
        conv.lost(
            "dropped",
            field,
            f"expected a message index below {count}, got {start!r}; the last message is "
            "written as the completion",
        )
        return count - 1

    def _emit_standard_conversation(
        self, messages: Sequence[Message], kind: str, start: int, conv: Conversion
    ) -> dict[str, Any]:
        layout = f"standard_{kind}"
        if kind == "language_modeling":
            self._expect(messages, ["assistant"], layout)
            return {"text": self._plain(messages[0], "messages", conv)}
        if kind == "prompt_only":
            self._expect(messages, ["user"], layout)
            return {"prompt": self._plain(messages[0], "messages", conv)}
        roles = ["user", "assistant"] if len(messages) > 1 else ["assistant"]
        self._expect(messages, roles, layout)
        if start != len(messages) - 1:
            conv.lost(
                "changed",
                f"$.meta[{COMPLETION_START_KEY!r}]",
                "a standard prompt-completion row splits before the assistant turn",
            )
        texts = [self._plain(message, "messages", conv) for message in messages]
        return {"prompt": texts[0] if len(texts) > 1 else "", "completion": texts[-1]}

    def _emit_preference(
        self, record: Preference, kind: str, form: str, conv: Conversion, images: ImageColumn
    ) -> dict[str, Any]:
        if form == "standard":
            layout = f"standard_{kind}"
            if record.prompt:
                self._expect(record.prompt, ["user"], layout, "prompt")
            self._expect(record.chosen, ["assistant"], layout, "chosen")
            self._expect(record.rejected, ["assistant"], layout, "rejected")
            prompt = self._plain(record.prompt[0], "prompt", conv) if record.prompt else ""
            chosen = self._plain(record.chosen[0], "chosen", conv)
            rejected = self._plain(record.rejected[0], "rejected", conv)
            if kind == "preference":
                return {"prompt": prompt, "chosen": chosen, "rejected": rejected}
            if split_shared_prefix(prompt + chosen, prompt + rejected) != (
                prompt,
                chosen,
                rejected,
            ):
                conv.lost(
                    "changed",
                    "$.prompt",
                    "reading splits the two texts at their longest shared start of characters, "
                    "which moves the prompt's end",
                )
            return {"chosen": prompt + chosen, "rejected": prompt + rejected}
        same = _reinvented(record, implicit=kind == "implicit_preference")

        def write(
            part: Sequence[Message], field: str, bound: ImageColumn | None = None
        ) -> list[dict[str, Any]]:
            return write_messages(
                part, conv, TRL_STYLE, record_field=field, write_ids=not same, images=bound
            )

        prompt_items = write(record.prompt, "prompt", images)
        chosen_items = write(record.chosen, "chosen")
        rejected_items = write(record.rejected, "rejected")
        if kind == "preference":
            return {"prompt": prompt_items, "chosen": chosen_items, "rejected": rejected_items}
        report_prompt_split(record, conv)
        return {
            "chosen": [*prompt_items, *chosen_items],
            "rejected": [*prompt_items, *rejected_items],
        }

    def _expect(
        self, messages: Sequence[Message], roles: list[str], layout: str, field: str = "messages"
    ) -> None:
        found = [message.role for message in messages]
        if found != roles:
            raise DialectError(
                self.message(f"expected turns {roles} for layout {layout!r}, got {found}"),
                loc=format_loc([field]),
            )
        for index, message in enumerate(messages):
            if message.tool_calls or message.content is None:
                raise DialectError(
                    self.message(
                        f"expected plain text turns for layout {layout!r}, got tool calls"
                    ),
                    loc=format_loc([field, index, "tool_calls"]),
                )

    def _plain(self, message: Message, field: str, conv: Conversion) -> str:
        for extra in ("name", "weight", "reasoning"):
            if getattr(message, extra) is not None:
                conv.lost("dropped", f"$.{field}[*].{extra}", f"standard TRL rows have no {extra}")
        text = text_content(message, f"$.{field}[*]", conv)
        assert text is not None
        return text
