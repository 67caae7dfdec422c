"""The ``instructkit`` dialect: rows that are records' own JSON form, every field present.

This is what :func:`~instructkit.to_row` writes for ``dialect="instructkit"`` and what the
writers use when no dialect is given. It is lossless by construction: a row is exactly
``record.to_dict()``. Detection only claims rows that carry *every* field of one record type,
so an OpenAI or TRL row that happens to share a few keys is never mistaken for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instructkit._dialects._base import NO_MATCH, Conversion, Dialect, Match
from instructkit._records import Conversation, Instruction, Preference, Record

__all__ = ["NativeDialect", "native_record_type"]

_BY_KEYS: dict[frozenset[str], type[Record]] = {
    frozenset(model.model_fields): model for model in (Conversation, Instruction, Preference)
}


def native_record_type(row: Mapping[str, Any]) -> type[Record] | None:
    """The record type whose complete field set equals ``row``'s keys, if any."""
    return _BY_KEYS.get(frozenset(row))


class NativeDialect(Dialect):
    """instructkit's own layout: ``record.to_dict()``, all fields present."""

    name = "instructkit"
    summary = "instructkit's own record JSON, every field present; lossless."
    columns = tuple(sorted({name for keys in _BY_KEYS for name in keys}))
    record_types = (Conversation, Instruction, Preference)

    def match(self, row: Mapping[str, Any]) -> Match:
        return Match(1.0) if native_record_type(row) is not None else NO_MATCH

    def parse(self, row: Mapping[str, Any], conv: Conversion) -> Record:
        model = native_record_type(row)
        if model is None:
            expected = " or ".join(
                f"{t.__name__} {sorted(t.model_fields)}" for t in _BY_KEYS.values()
            )
            raise conv.fail(f"expected the keys of {expected}, got {sorted(row)}")
        found: Record = conv.build(lambda: model.model_validate(dict(row)))
        return found

    def emit(self, record: Record, conv: Conversion, layout: str | None) -> dict[str, Any]:
        return record.to_dict()
