"""The keywords :func:`read` and :func:`write` share: ``record=`` and ``dialect=``.

Also the conversion ``record=`` asks for, which both sides apply to every record.
"""

from __future__ import annotations

from typing import Final

from instructkit._dialects import get_dialect
from instructkit._errors import ConfigurationError, RecordValidationError, with_article
from instructkit._records import Conversation, Instruction, Preference, Record
from instructkit._reports import LossReport

__all__ = [
    "NATIVE",
    "RECORD_TYPES",
    "RecordType",
    "check_dialect",
    "convert_record",
    "record_type",
]

NATIVE: Final = "instructkit"
"""The dialect name of instructkit's own layout, ``record.to_dict()``."""

RecordType = type[Instruction] | type[Conversation] | type[Preference]
RECORD_TYPES: Final[tuple[RecordType, ...]] = (Instruction, Conversation, Preference)


def record_type(record: object) -> RecordType | None:
    """The record class ``record=`` names (class or name, any case), or ``None`` for none.

    Raises:
        ConfigurationError: anything else.
    """
    if record is None:
        return None
    for kind in RECORD_TYPES:
        if record is kind or (isinstance(record, str) and record.lower() == kind.__name__.lower()):
            return kind
    raise ConfigurationError(
        "expected record to be Instruction, Conversation or Preference (the class or its "
        f"name), got {record!r}"
    )


def check_dialect(dialect: object, *, allow_auto: bool) -> str | None:
    """The dialect ``dialect=`` names (``"auto"`` only where allowed), or ``None``.

    Raises:
        ConfigurationError: not a name, or an unknown dialect.
    """
    if dialect is None:
        return None
    if dialect == "auto" and allow_auto:
        return "auto"
    if not isinstance(dialect, str):
        raise ConfigurationError(f"expected dialect to be a name or None, got {dialect!r}")
    return get_dialect(dialect).name


def convert_record(
    record: Record,
    target: RecordType | None,
    *,
    strict: bool = False,
    losses: LossReport | None = None,
) -> Record:
    """Turn ``record`` into the ``target`` type through the records' own conversions.

    Instruction -> Conversation is lossless; Conversation -> Instruction works for
    ``[system?] user assistant`` transcripts; Preference converts to nothing else.

    Raises:
        RecordValidationError: the conversion is impossible for this record.
        LossyConversionError: ``strict`` and the conversion would lose something.
    """
    if target is None or type(record) is target:
        return record
    if target is Conversation and isinstance(record, Instruction):
        return record.to_conversation()
    if target is Instruction and isinstance(record, Conversation):
        return record.to_instruction(strict=strict, losses=losses)
    raise RecordValidationError(
        f"expected a record that converts to {target.__name__}, got "
        f"{with_article(type(record).__name__)}",
        loc="$",
    )
