"""instructkit's own bookkeeping in ``meta``: the reserved keys, and what becomes of them.

Some facts about a record are not data but what instructkit needs to give a row back as it
was: where an instruction's input was joined into a user turn, where a TRL completion starts,
which layout of a dialect a record was read from. They live in ``meta`` under keys starting
with :data:`BOOKKEEPING_PREFIX`, registered in :data:`BOOKKEEPING_KEYS`. The rules:

* The native ``instructkit`` layout keeps them (a record's JSON is the record).
* No other layout ever writes one: :func:`split_bookkeeping` takes them out of a record before
  a dialect writes it, the dialect consumes those it can express in its own columns (TRL's
  prompt-completion split), and :func:`bookkeeping_losses` reports the rest where dropping
  them changes what reading back gives.
* Record conversions consume what the target type expresses by its shape
  (:meth:`~instructkit.Conversation.to_instruction`) and carry the rest in ``meta``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from instructkit._reports import Loss

__all__ = [
    "BOOKKEEPING_KEYS",
    "BOOKKEEPING_PREFIX",
    "COMPLETION_START_KEY",
    "INPUT_OFFSET_KEY",
    "LAYOUT_KEY",
    "bookkeeping_losses",
    "has_bookkeeping",
    "input_join_loss",
    "meta_loc",
    "remembered_layout",
    "split_bookkeeping",
    "with_layout",
]

BOOKKEEPING_PREFIX = "instructkit."
"""Every ``meta`` key starting with this is instructkit's, never a third-party column."""

INPUT_OFFSET_KEY = "instructkit.input_offset"
"""The ``Conversation.meta`` key where :meth:`Instruction.to_conversation` records, in code
points, where the input starts inside the user message, so the join can be undone exactly."""

COMPLETION_START_KEY = "instructkit.completion_start"
"""The ``Conversation.meta`` key holding, for a conversation read from a TRL prompt-completion
row, the index of the first completion message (the prompt's length)."""

LAYOUT_KEY = "instructkit.layout"
"""The ``meta`` key naming the layout a record was read from, as ``"<dialect>:<layout>"``,
when it is not the one the dialect writes for that record by default. Writing the record in
the same dialect without ``layout=`` uses it again."""

BOOKKEEPING_KEYS: Mapping[str, str] = {
    INPUT_OFFSET_KEY: "where an instruction's input starts in the joined user turn",
    COMPLETION_START_KEY: "the index of the first completion message",
    LAYOUT_KEY: "the layout of a dialect the record was read from",
}
"""Every bookkeeping key instructkit itself sets, and what it records."""

_R = TypeVar("_R")


def has_bookkeeping(meta: Mapping[str, Any]) -> bool:
    """Whether any key of ``meta`` is in the reserved namespace."""
    return any(key.startswith(BOOKKEEPING_PREFIX) for key in meta)


def split_bookkeeping(meta: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``meta`` cut in two: the ordinary entries, and the bookkeeping ones.

    Returns:
        ``(ordinary, bookkeeping)``, each in ``meta``'s order.
    """
    ordinary: dict[str, Any] = {}
    bookkeeping: dict[str, Any] = {}
    for key, value in meta.items():
        (bookkeeping if key.startswith(BOOKKEEPING_PREFIX) else ordinary)[key] = value
    return ordinary, bookkeeping


def meta_loc(key: str) -> str:
    """The record path of the meta entry ``key``, as losses name it."""
    return f"$.meta.{key}" if key.isidentifier() else f"$.meta[{key!r}]"


def remembered_layout(
    meta: Mapping[str, Any], dialect: str, layouts: tuple[str, ...]
) -> str | None:
    """The layout of ``dialect`` that ``meta`` says the record was read from, if any.

    A memory of another dialect's layout, or of a layout ``dialect`` does not have, is no
    memory for this one.
    """
    value = meta.get(LAYOUT_KEY)
    if not isinstance(value, str):
        return None
    name, _, layout = value.partition(":")
    return layout if name == dialect and layout in layouts else None


def with_layout(meta: Mapping[str, Any], dialect: str, layout: str | None) -> dict[str, Any] | None:
    """``meta`` remembering ``layout`` of ``dialect`` (or nothing, for ``None``).

    Returns:
        The new meta, or ``None`` when ``meta`` already says exactly that.
    """
    value = None if layout is None else f"{dialect}:{layout}"
    if meta.get(LAYOUT_KEY) == value:
        return None
    updated = {key: item for key, item in meta.items() if key != LAYOUT_KEY}
    if value is not None:
        updated[LAYOUT_KEY] = value
    return updated


def bookkeeping_losses(
    left: Mapping[str, Any], *, dialect: str, from_instruction: bool
) -> list[Loss]:
    """What dropping the bookkeeping a dialect did not consume loses.

    Args:
        left: The bookkeeping entries the dialect could not write.
        dialect: The dialect's name, for the wording.
        from_instruction: The record being written is an Instruction (its input offset was
            made by the conversion to a conversation, so the loss is named on its ``input``).

    Returns:
        One loss per entry whose absence changes what reading the row back gives. The
        layout memory is not among them: it describes the file a record came from, not the
        record, and reading any row gives it afresh.
    """
    losses: list[Loss] = []
    for key in left:
        if key == LAYOUT_KEY:
            continue
        if key == INPUT_OFFSET_KEY:
            losses.append(
                input_join_loss(dialect)
                if from_instruction
                else Loss(
                    "dropped",
                    meta_loc(key),
                    f"{dialect} rows cannot record where the input starts in the user turn; "
                    "reading back gives it as part of the instruction",
                )
            )
        elif key == COMPLETION_START_KEY:
            losses.append(
                Loss(
                    "dropped",
                    meta_loc(key),
                    f"this {dialect} layout has no prompt-completion split",
                )
            )
        else:
            losses.append(
                Loss(
                    "dropped",
                    meta_loc(key),
                    f"meta keys starting with {BOOKKEEPING_PREFIX!r} are instructkit's "
                    f"bookkeeping, written only in the instructkit dialect",
                )
            )
    return losses


def input_join_loss(dialect: str) -> Loss:
    """The loss of writing an instruction's input joined into one text without its offset."""
    return Loss(
        "changed",
        "$.input",
        f"{dialect} has no input column: the input is joined to the instruction after a "
        "blank line and reads back as part of the instruction",
    )
