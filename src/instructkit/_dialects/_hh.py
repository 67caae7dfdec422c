r"""Anthropic HH-RLHF: ``chosen`` and ``rejected`` as whole transcripts of marked turns.

A transcript is a sequence of turns, each ``"\n\n"``, a speaker word, ``":"``, one space and
the text: ``"\n\nHuman: Hi\n\nAssistant: Hello"``. ``Human`` is the user and ``Assistant``
the assistant; ``role_map`` adds speaker words (``{"System": "system"}`` makes
``"\n\nSystem: "`` turns readable and writable).

The round trip is byte-exact: the text of a turn is everything after ``": "`` up to the next
marker (so trailing spaces, extra spaces after the colon, and newlines are kept), and writing
puts back exactly one space. A transcript the parser cannot reproduce is rejected with an
error saying why: text before the first marker, a marker without a space after the colon, an
empty turn. A *marker* is ``"\n\n"`` + a speaker word + ``":"`` anywhere in the text, so turn
text can never contain one: reading splits there, and writing a record whose text contains
one raises :class:`~instructkit.DialectError` (it could not be read back as the same turns).

The prompt is the longest shared prefix of the two transcripts' turns
(:meth:`~instructkit.Preference.from_transcripts`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from instructkit._dialects._base import NO_MATCH, Conversion, Dialect, Match, keys_score
from instructkit._dialects._columns import emit_extras, take_extras, take_id
from instructkit._dialects._implicit_prompts import report_prompt_split
from instructkit._dialects._text_turns import text_content
from instructkit._errors import DialectError, RecordValidationError, format_loc
from instructkit._records import Conversation, Message, Preference, Record

__all__ = ["HHDialect"]

_SEPARATOR = "\n\n"


def _marker_pattern(words: Sequence[str]) -> re.Pattern[str]:
    # Longest words first, so that a word that is a prefix of another never wins.
    ordered = sorted(words, key=len, reverse=True)
    return re.compile(_SEPARATOR + "(" + "|".join(re.escape(w) for w in ordered) + "):")


class HHDialect(Dialect):
    r"""Anthropic HH-RLHF preference rows: ``{"chosen": "\n\nHuman: ...", "rejected": ...}``."""

    name = "hh"
    summary = "Anthropic HH-RLHF chosen/rejected transcripts of Human:/Assistant: turns."
    columns = ("chosen", "rejected", "id")
    roles: ClassVar[Mapping[str, str]] = {"Human": "user", "Assistant": "assistant"}
    roles_out: ClassVar[Mapping[str, str]] = {"user": "Human", "assistant": "Assistant"}
    record_types = (Preference,)

    def match(self, row: Mapping[str, Any]) -> Match:
        score = keys_score(row, ["chosen", "rejected"], self.columns)
        starts = tuple(_SEPARATOR + word + ":" for word in self.roles)
        for key in ("chosen", "rejected"):
            value = row.get(key)
            if not isinstance(value, str) or not value.startswith(starts):
                return NO_MATCH
        return Match(score) if score else NO_MATCH

    def parse(self, row: Mapping[str, Any], conv: Conversion) -> Record:
        chosen_text = conv.get(row, "chosen", (), str)
        rejected_text = conv.get(row, "rejected", (), str)
        record_id = take_id(row, conv)
        meta = take_extras(row, self.columns, conv)
        pattern = _marker_pattern(list(conv.records_roles()))
        chosen = self._transcript(chosen_text, "chosen", pattern, conv)
        rejected = self._transcript(rejected_text, "rejected", pattern, conv)
        return conv.build(
            lambda: Preference.from_transcripts(chosen, rejected, id=record_id, meta=meta),
            where=lambda loc: conv.row_loc(
                ("rejected",) if loc.startswith("$.rejected") else ("chosen",)
            ),
        )

    def _transcript(
        self, text: str, column: str, pattern: re.Pattern[str], conv: Conversion
    ) -> Conversation:
        at = (column,)
        found = list(pattern.finditer(text))
        if not found or found[0].start() != 0:
            first = repr(text[:24]) if text else "''"
            raise conv.fail(
                f"expected the transcript to start with a marker such as '\\n\\nHuman: ', "
                f"got {first}",
                at,
            )
        messages = []
        for number, mark in enumerate(found):
            word = mark.group(1)
            end = found[number + 1].start() if number + 1 < len(found) else len(text)
            body = text[mark.end() : end]
            if not body.startswith(" "):
                raise conv.fail(
                    f"expected one space after {word + ':'!r} in turn {number} (a turn is "
                    f"'\\n\\n{word}: ' and its text), got {body[:12]!r}",
                    at,
                )
            role = conv.role_in(word, at)
            if role == "tool":
                raise conv.fail(f"expected no tool turns (HH has no tool calls), got {word!r}", at)
            if conv.role_out(role) != word:
                conv.lost(
                    "changed",
                    conv.row_loc(at),
                    f"speaker {word!r} is written back as {conv.role_out(role)!r}",
                )
            try:
                messages.append(Message(role=role, content=body[1:]))
            except RecordValidationError as err:
                raise RecordValidationError(
                    self.message(f"turn {number} ({word}): {err.reason}"), loc=conv.row_loc(at)
                ) from err
        try:
            return Conversation(messages=messages)
        except RecordValidationError as err:
            raise RecordValidationError(self.message(err.reason), loc=conv.row_loc(at)) from err

    def emit(self, record: Record, conv: Conversion, layout: str | None) -> dict[str, Any]:
        assert isinstance(record, Preference)
        words = conv.records_roles()
        pattern = _marker_pattern(list(words))
        if record.tools:
            conv.lost("dropped", "$.tools", "HH rows have no tools")
        row: dict[str, Any] = {}
        for side in ("chosen", "rejected"):
            turns = []
            for field, messages in (("prompt", record.prompt), (side, getattr(record, side))):
                for index, message in enumerate(messages):
                    spelled = self._turn(message, f"$.{field}", index, words, pattern, conv)
                    if spelled is not None:
                        turns.append(spelled)
            if not turns:
                raise DialectError(
                    self.message(
                        f"expected a user or assistant turn to write in the {side} "
                        "transcript, got none"
                    ),
                    loc=f"$.{side}",
                )
            row[side] = "".join(turns)
        if not conv.losses:
            report_prompt_split(record, conv)
        if record.id is not None:
            row["id"] = record.id
        emit_extras(row, record.meta, conv, reserved=self.columns)
        return row

    def _turn(
        self,
        message: Message,
        field: str,
        index: int,
        words: Mapping[str, str],
        pattern: re.Pattern[str],
        conv: Conversion,
    ) -> str | None:
        for extra in ("name", "weight", "reasoning"):
            if getattr(message, extra) is not None:
                conv.lost("dropped", f"{field}[*].{extra}", f"HH turns have no {extra}")
        if message.tool_calls:
            conv.lost("dropped", f"{field}[*].tool_calls", "HH turns have no tool calls")
        word = conv.role_out(message.role)
        text = text_content(message, f"{field}[*]", conv)
        if message.role == "tool" or words.get(word) != message.role or not text:
            conv.lost(
                "dropped",
                f"{field}[*]",
                f"HH transcripts have no {message.role} turns of this kind (role_map can name "
                "a speaker for system or developer turns)",
            )
            return None
        clash = pattern.search(text)
        if clash is not None:
            raise DialectError(
                self.message(
                    f"expected turn text without a speaker marker, got {clash.group(0)!r} at "
                    f"index {clash.start()}; it would be read back as a new turn"
                ),
                loc=format_loc([field[2:], index, "content"]),
            )
        return f"{_SEPARATOR}{word}: {text}"
