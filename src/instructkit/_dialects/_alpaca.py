"""Alpaca rows, with LLaMA-Factory's extensions: ``history``, ``system``, ``tools``, ranking.

Stanford Alpaca rows are ``instruction``, ``input`` (often empty) and ``output``: one
:class:`~instructkit.Instruction`. LLaMA-Factory's ``alpaca`` formatting adds columns, and
each one that holds more than an Instruction can makes a richer record:

* ``history``: earlier ``[user, assistant]`` pairs. A row with history is a multi-turn
  :class:`~instructkit.Conversation`: the pairs, then the instruction (joined with its input
  after a blank line, the join point kept in ``meta["instructkit.input_offset"]`` as
  :meth:`~instructkit.Instruction.to_conversation` does) and the output.
* ``tools``: a JSON array of tool schemas as text, as in ShareGPT; an Instruction has no
  tools, so a row with tools is a Conversation too.
* ``chosen`` and ``rejected`` instead of ``output`` (the *ranking* layout): a
  :class:`~instructkit.Preference` whose prompt is the system prompt, the history and the
  instruction.
* ``kto_tag``: KTO rows need a record type instructkit does not have yet; they are refused.

The layouts are ``supervised`` (``output``) and ``ranking`` (``chosen``/``rejected``). A
missing ``input`` reads as empty; ``input`` is always written, as Alpaca does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from instructkit._dialects._base import (
    NO_MATCH,
    Conversion,
    Dialect,
    Match,
    describe_type,
    keys_score,
)
from instructkit._dialects._columns import emit_extras, take_extras, take_id
from instructkit._dialects._images import (
    IMAGES,
    ImageColumn,
    ImageSlots,
    placeholder_parts,
    record_has_images,
)
from instructkit._dialects._locations import LocMap, loss_loc
from instructkit._dialects._sharegpt import refuse_kto
from instructkit._dialects._tool_schemas import read_tools_text, write_tools_text
from instructkit._errors import DialectError, format_loc
from instructkit._records import (
    INPUT_OFFSET_KEY,
    INPUT_SEPARATOR,
    Conversation,
    Instruction,
    Message,
    Preference,
    Record,
    split_input,
)
from instructkit._reports import LossReport

__all__ = ["AlpacaDialect"]

_SIDES = ("chosen", "rejected")


def _is_ranking(row: Mapping[str, Any]) -> bool:
    return any(row.get(side) is not None for side in _SIDES)


class AlpacaDialect(Dialect):
    """Alpaca and LLaMA-Factory ``alpaca`` rows; layouts ``supervised`` and ``ranking``."""

    name = "alpaca"
    summary = "Alpaca's instruction/input/output, with LLaMA-Factory's history, tools, ranking."
    columns = (
        "instruction",
        "input",
        "output",
        "chosen",
        "rejected",
        "system",
        "history",
        "tools",
        IMAGES,
        "id",
        "kto_tag",
    )
    layouts = ("supervised", "ranking")
    record_types = (Instruction, Conversation, Preference)

    def match(self, row: Mapping[str, Any]) -> Match:
        if not isinstance(row.get("instruction"), str):
            return NO_MATCH
        ranking = _is_ranking(row)
        if not ranking and "output" not in row:
            return NO_MATCH
        score = keys_score(row, ["instruction"], self.columns)
        return Match(score, "ranking" if ranking else "supervised") if score else NO_MATCH

    # -- reading ---------------------------------------------------------------------------

    def parse(self, row: Mapping[str, Any], conv: Conversion) -> Record:
        refuse_kto(row, conv)
        ranking = _is_ranking(row)
        instruction = conv.get(row, "instruction", (), str)
        input_text = conv.get(row, "input", (), str, required=False, nullable=True) or ""
        answers = [conv.get(row, key, (), str) for key in (_SIDES if ranking else ("output",))]
        system = conv.get(row, "system", (), str, required=False, nullable=True)
        if system == "":
            conv.lost("dropped", loss_loc(("system",), conv), "an empty system column is left out")
            system = None
        history = self._read_history(row, conv)
        tools = read_tools_text(row, conv)
        slots = ImageSlots(row, conv)
        record_id = take_id(row, conv)
        meta = take_extras(row, self.columns, conv)
        # An Instruction holds text only, so a row with images is a Conversation.
        if not (ranking or history or tools or slots.urls):
            fields = (instruction, input_text, answers[0])
            return self._instruction(conv, fields, system, record_id, meta)
        field = "prompt" if ranking else "messages"
        where = LocMap(conv)

        def place(position: tuple[str, int], column: tuple[str | int, ...]) -> None:
            # A turn and its text both come from one cell of the row.
            where.add(position, column)
            where.add((*position, "content"), column)

        messages: list[dict[str, Any]] = []
        if system is not None:
            place((field, 0), ("system",))
            messages.append({"role": "system", "content": system})
        for number, (user, answer) in enumerate(history):
            for offset, (role, text) in enumerate((("user", user), ("assistant", answer))):
                here = ("history", number, offset)
                place((field, len(messages)), here)
                content = placeholder_parts(text, role, here, slots, conv)
                messages.append({"role": role, "content": content})
        user_text = instruction
        if input_text:
            if INPUT_OFFSET_KEY in meta:
                raise conv.fail(
                    f"expected no {INPUT_OFFSET_KEY} column next to an input (the input "
                    "column is where the input starts), got one",
                    (INPUT_OFFSET_KEY,),
                )
            user_text = instruction + INPUT_SEPARATOR + input_text
            meta[INPUT_OFFSET_KEY] = len(instruction) + len(INPUT_SEPARATOR)
        place((field, len(messages)), ("instruction",))
        # The input offset counts the text as written, each image as its placeholder.
        content = placeholder_parts(user_text, "user", ("instruction",), slots, conv)
        messages.append({"role": "user", "content": content})
        for key, answer in zip(_SIDES if ranking else ("output",), answers, strict=True):
            placeholder_parts(answer, "assistant", (key,), slots, conv)
        slots.finish()
        if not ranking:
            place((field, len(messages)), ("output",))
            messages.append({"role": "assistant", "content": answers[0]})
            return conv.build(
                lambda: Conversation(messages=messages, tools=tools, id=record_id, meta=meta),
                where=where,
            )
        for side in _SIDES:
            place((side, 0), (side,))
        return conv.build(
            lambda: Preference(
                prompt=messages,
                chosen=[{"role": "assistant", "content": answers[0]}],
                rejected=[{"role": "assistant", "content": answers[1]}],
                tools=tools,
                id=record_id,
                meta=meta,
            ),
            where=where,
        )

    def _instruction(
        self,
        conv: Conversion,
        fields: tuple[str, str, str],
        system: str | None,
        record_id: str | None,
        meta: dict[str, Any],
    ) -> Record:
        columns = {"instruction": "instruction", "input": "input", "response": "output"}

        def where(loc: str) -> str:
            name = loc[2:] if loc.startswith("$.") else ""
            return conv.row_loc((columns.get(name, name),)) if name else loc

        instruction, input_text, response = fields
        return conv.build(
            lambda: Instruction(
                instruction=instruction,
                input=input_text,
                response=response,
                system=system,
                id=record_id,
                meta=meta,
            ),
            where=where,
        )

    def _read_history(self, row: Mapping[str, Any], conv: Conversion) -> list[tuple[str, str]]:
        items = conv.get(row, "history", (), list, required=False, nullable=True) or []
        pairs = []
        for number, pair in enumerate(items):
            here = ("history", number)
            if not (isinstance(pair, list) and len(pair) == 2):
                got = f"{len(pair)} items" if isinstance(pair, list) else describe_type(pair)
                raise conv.fail(f"expected a [user, assistant] pair of texts, got {got}", here)
            for offset, text in enumerate(pair):
                if not isinstance(text, str):
                    raise conv.fail(
                        f"expected a string, got {describe_type(text)}", (*here, offset)
                    )
            pairs.append((pair[0], pair[1]))
        return pairs

    # -- writing ---------------------------------------------------------------------------

    def coerce(self, record: Record, conv: Conversion) -> Record:
        # A one-exchange Conversation without tools or images is exactly an Instruction;
        # written as one (as before LLaMA-Factory's columns), it reads back as one.
        if isinstance(record, Conversation) and not (record.tools or record_has_images(record)):
            roles = [message.role for message in record.messages]
            if roles in (["user", "assistant"], ["system", "user", "assistant"]):
                report = LossReport()
                instruction = record.to_instruction(strict=False, losses=report)
                conv.losses.extend(report)
                return instruction
        return super().coerce(record, conv)

    def layout_types(self, layout: str) -> tuple[type[Record], ...]:
        return (Preference,) if layout == "ranking" else (Instruction, Conversation)

    def emit(self, record: Record, conv: Conversion, layout: str | None) -> dict[str, Any]:
        ranking = isinstance(record, Preference)
        layout = self.layout_for(record, layout)
        if isinstance(record, Instruction):
            row: dict[str, Any] = {
                "instruction": record.instruction,
                "input": record.input,
                "output": record.response,
            }
            if record.system is not None:
                row["system"] = record.system
            if record.id is not None:
                row["id"] = record.id
            emit_extras(row, record.meta, conv, reserved=self.columns)
            return row
        assert isinstance(record, (Conversation, Preference))
        meta = dict(record.meta)
        images = ImageColumn(record, self.name)
        if isinstance(record, Preference):
            prompt, field = record.prompt, "prompt"
            answers = [self._answer(record.chosen, "chosen", conv, images)]
            answers.append(self._answer(record.rejected, "rejected", conv, images))
        else:
            prompt, field = record.messages[:-1], "messages"
            answers = [self._answer(record.messages[-1:], "messages", conv, images, len(prompt))]
        # Answers are assistant turns, which hold no images: the column's order is the prompt's.
        system, history, last = self._prompt(prompt, field, conv, images)
        # to_row has moved the bookkeeping out of meta; the input offset is consumed here.
        offset = conv.bookkeeping.pop(INPUT_OFFSET_KEY, meta.pop(INPUT_OFFSET_KEY, None))
        instruction, input_text = split_input(last, offset)
        if offset is not None and not input_text:
            conv.lost(
                "dropped",
                f"$.meta[{INPUT_OFFSET_KEY!r}]",
                "an input offset that does not match the user text was ignored",
            )
        row = {"instruction": instruction, "input": input_text}
        row.update(zip(_SIDES if ranking else ("output",), answers, strict=True))
        if system is not None:
            row["system"] = system
        if history:
            row["history"] = history
        images.write(row)
        if record.tools:
            row["tools"] = write_tools_text(record.tools, conv)
        if record.id is not None:
            row["id"] = record.id
        emit_extras(row, meta, conv, reserved=(*self.columns, INPUT_OFFSET_KEY))
        return row

    def _prompt(
        self, messages: Sequence[Message], field: str, conv: Conversion, images: ImageColumn
    ) -> tuple[str | None, list[list[str]], str]:
        """Split prompt turns into the system prompt, the history pairs and the last user text.

        Raises:
            DialectError: the turns are not ``[system?] (user assistant)* user`` plain text.
        """
        system = None
        start = 0
        if messages and messages[0].role == "system":
            system = self._text(messages[0], field, 0, conv, images)
            start = 1
        rest = messages[start:]
        expected = ["user", "assistant"] * (len(rest) // 2) + ["user"]
        if [message.role for message in rest] != expected:
            raise DialectError(
                self.message(
                    "expected turns [system?] then user/assistant pairs then a user turn "
                    f"before the answer, got {[message.role for message in messages]}"
                ),
                loc=format_loc([field]),
            )
        texts = [self._text(m, field, start + i, conv, images) for i, m in enumerate(rest)]
        history = [[texts[i], texts[i + 1]] for i in range(0, len(texts) - 1, 2)]
        return system, history, texts[-1]

    def _answer(
        self,
        messages: Sequence[Message],
        field: str,
        conv: Conversion,
        images: ImageColumn,
        start: int = 0,
    ) -> str:
        if len(messages) != 1 or messages[0].role != "assistant":
            raise DialectError(
                self.message(
                    f"expected one assistant answer as {field}, got turns "
                    f"{[message.role for message in messages]}"
                ),
                loc=format_loc([field]),
            )
        return self._text(messages[0], field, start, conv, images)

    def _text(
        self, message: Message, field: str, index: int, conv: Conversion, images: ImageColumn
    ) -> str:
        if message.tool_calls or message.content is None:
            raise DialectError(
                self.message(
                    "expected plain text turns (Alpaca rows have no tool calls), got tool calls"
                ),
                loc=format_loc([field, index, "tool_calls"]),
            )
        for extra in ("name", "weight", "reasoning"):
            if getattr(message, extra) is not None:
                conv.lost("dropped", f"$.{field}[*].{extra}", f"Alpaca turns have no {extra}")
        return images.placeholder_text(message, (field, index), f"$.{field}[*]", conv) or ""
