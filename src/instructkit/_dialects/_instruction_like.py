"""Dialects whose rows are one instruction and one response: ``instruction`` and ``dolly``.

Both read into :class:`~instructkit.Instruction`. Columns a dialect does not know are kept
in ``meta`` under their own names and written back as columns, so rows round-trip whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from instructkit._dialects._base import NO_MATCH, Conversion, Dialect, Match, keys_score
from instructkit._dialects._columns import emit_extras, take_extras
from instructkit._records import Instruction, Record

__all__ = ["DollyDialect", "InstructionDialect"]


class _InstructionLike(Dialect):
    # Column names for the three Instruction text fields, and which are required.
    instruction_key: ClassVar[str] = "instruction"
    input_key: ClassVar[str] = "input"
    response_key: ClassVar[str] = "response"
    input_required: ClassVar[bool] = False
    optional_keys: ClassVar[tuple[str, ...]] = ("system", "id")
    # Columns that are not read as fields (they land in meta) but tell this layout apart.
    hint_keys: ClassVar[tuple[str, ...]] = ()
    record_types = (Instruction,)

    def match(self, row: Mapping[str, Any]) -> Match:
        required = [self.instruction_key, self.response_key]
        if self.input_required:
            required.append(self.input_key)
        optional = [self.input_key, *self.optional_keys, *self.hint_keys]
        score = keys_score(row, required, optional)
        if score == 0.0 or not isinstance(row.get(self.instruction_key), str):
            return NO_MATCH
        return Match(score)

    def parse(self, row: Mapping[str, Any], conv: Conversion) -> Record:
        instruction = conv.get(row, self.instruction_key, (), str)
        input_text = conv.get(row, self.input_key, (), str, required=self.input_required)
        response = conv.get(row, self.response_key, (), str)
        system = conv.get(row, "system", (), str, required=False, nullable=True)
        record_id = conv.get(row, "id", (), (str, int), required=False, nullable=True)
        known = {self.instruction_key, self.input_key, self.response_key, *self.optional_keys}
        meta = take_extras(row, known, conv)
        if isinstance(record_id, int):
            # Some datasets number their rows; the record keeps ids as text.
            conv.lost("changed", "$.id", "an integer id is kept as text")
            record_id = str(record_id)
        fields = {
            "instruction": self.instruction_key,
            "input": self.input_key,
            "response": self.response_key,
        }

        def where(loc: str) -> str:
            name = loc[2:] if loc.startswith("$.") else ""
            return conv.row_loc((fields.get(name, name),)) if name else loc

        return conv.build(
            lambda: Instruction(
                instruction=instruction,
                input=input_text or "",
                response=response,
                system=system,
                id=record_id,
                meta=meta,
            ),
            where=where,
        )

    def emit(self, record: Record, conv: Conversion, layout: str | None) -> dict[str, Any]:
        assert isinstance(record, Instruction)
        row: dict[str, Any] = {self.instruction_key: record.instruction}
        if self.input_required or record.input:
            row[self.input_key] = record.input
        row[self.response_key] = record.response
        if record.system is not None:
            row["system"] = record.system
        if record.id is not None:
            row["id"] = record.id
        emit_extras(row, record.meta, conv, reserved=self.columns)
        return row


class InstructionDialect(_InstructionLike):
    """The plain layout people write by hand: ``{"instruction", "response"}`` objects."""

    name = "instruction"
    summary = "Hand-written instruction/response objects, with optional input and system."
    columns = ("instruction", "input", "response", "system", "id")


class DollyDialect(_InstructionLike):
    """Databricks Dolly: ``instruction``, ``context`` (may be empty), ``response``, ``category``.

    The context passage becomes the record's ``input``; ``category``, like any column the
    dialect does not read, is kept in ``meta``.
    """

    name = "dolly"
    summary = "Dolly-15k's instruction/context/response with a category."
    columns = ("instruction", "context", "response", "category", "system", "id")
    meta_columns = ("category",)
    input_key = "context"
    input_required = True
    hint_keys = ("category",)
