r"""The Flan collection: ``inputs`` (the rendered prompt) and ``targets``, plus task metadata.

Rows read into :class:`~instructkit.Instruction`: ``inputs`` is the instruction and
``targets`` the response. The task metadata (``task_name`` or ``task``, ``task_source``,
``template_type``, ``template_idx`` ... spellings vary between mirrors) is kept in ``meta``
under its own names, like any other column, and written back as columns. Mirrors that call
the columns ``source``/``target`` are read with ``column_map={"inputs": "source", "targets":
"target"}``.

Flan has no input column. An instruction with an input is written joined into ``inputs`` as
``instruction + "\n\n" + input`` (as :meth:`~instructkit.Instruction.to_conversation` joins
them), reported as changed: reading it back gives the joined text as the instruction. Rows
with an ``instructkit.input_offset`` column, which earlier versions wrote there, are still
split at that offset when read. A ``system`` prompt is written to a ``system`` column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instructkit._bookkeeping import input_join_loss
from instructkit._dialects._base import NO_MATCH, Conversion, Dialect, Match, keys_score
from instructkit._dialects._columns import emit_extras, take_extras, take_id
from instructkit._records import INPUT_OFFSET_KEY, INPUT_SEPARATOR, Instruction, Record

__all__ = ["FLAN_METADATA", "FlanDialect"]

FLAN_METADATA = ("task_name", "task", "task_source", "template_type", "template_idx")
"""Metadata columns Flan mirrors carry; they count towards detection and land in ``meta``."""


class FlanDialect(Dialect):
    """Flan rows: ``inputs``, ``targets`` and task metadata kept in ``meta``."""

    name = "flan"
    summary = "Flan collection inputs/targets with task metadata (task_name, template_type...)."
    columns = ("inputs", "targets", "system", "id", INPUT_OFFSET_KEY)
    record_types = (Instruction,)
    layout_extras = FLAN_METADATA

    def match(self, row: Mapping[str, Any]) -> Match:
        score = keys_score(row, ["inputs", "targets"], (*self.columns, *FLAN_METADATA))
        if not score or not isinstance(row.get("inputs"), str):
            return NO_MATCH
        return Match(score)

    def parse(self, row: Mapping[str, Any], conv: Conversion) -> Record:
        inputs = conv.get(row, "inputs", (), str)
        targets = conv.get(row, "targets", (), str)
        system = conv.get(row, "system", (), str, required=False, nullable=True)
        offset = conv.get(row, INPUT_OFFSET_KEY, (), int, required=False, nullable=True)
        record_id = take_id(row, conv)
        meta = take_extras(row, self.columns, conv)
        instruction, input_text = inputs, ""
        if offset is not None:
            sep = len(INPUT_SEPARATOR)
            if not (
                sep <= offset < len(inputs) and inputs[offset - sep : offset] == INPUT_SEPARATOR
            ):
                raise conv.fail(
                    f"expected {INPUT_OFFSET_KEY} to point just past a {INPUT_SEPARATOR!r} "
                    f"inside inputs (and before its end), got {offset}",
                    (INPUT_OFFSET_KEY,),
                )
            instruction, input_text = inputs[: offset - sep], inputs[offset:]
        fields = {"instruction": "inputs", "input": "inputs", "response": "targets"}

        def where(loc: str) -> str:
            name = loc[2:] if loc.startswith("$.") else ""
            return conv.row_loc((fields.get(name, name),)) if name else loc

        return conv.build(
            lambda: Instruction(
                instruction=instruction,
                input=input_text,
                response=targets,
                system=system,
                id=record_id,
                meta=meta,
            ),
            where=where,
        )

    def emit(self, record: Record, conv: Conversion, layout: str | None) -> dict[str, Any]:
        assert isinstance(record, Instruction)
        row: dict[str, Any] = {"inputs": record.instruction}
        if record.input:
            row["inputs"] = record.instruction + INPUT_SEPARATOR + record.input
            loss = input_join_loss(self.name)
            conv.lost(loss.kind, loss.field, loss.detail)
        row["targets"] = record.response
        if record.system is not None:
            row["system"] = record.system
        if record.id is not None:
            row["id"] = record.id
        emit_extras(row, record.meta, conv, reserved=self.columns)
        return row
