"""TRL's ten layouts: which one a row's columns select, and the columns of each.

The layouts themselves are described in the ``trl`` dialect's module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instructkit._dialects._images import IMAGES

__all__ = [
    "OPTIONAL_COLUMNS",
    "REFUSED_LAYOUTS",
    "TRL_FORMS",
    "TRL_KINDS",
    "layout_columns",
    "layout_shape",
    "refused_layout",
]

TRL_KINDS = (
    "language_modeling",
    "prompt_only",
    "prompt_completion",
    "preference",
    "implicit_preference",
)
"""TRL's dataset types, in the order reading prefers them when a row has several's columns."""

TRL_FORMS = ("conversational", "standard")
"""TRL's two forms of every dataset type: message lists and plain strings."""
_COLUMNS: dict[str, tuple[str, ...]] = {
    "language_modeling": ("messages",),
    "prompt_only": ("prompt",),
    "prompt_completion": ("prompt", "completion"),
    "preference": ("prompt", "chosen", "rejected"),
    "implicit_preference": ("chosen", "rejected"),
}
OPTIONAL_COLUMNS = ("tools", "id", "chat_template_kwargs", IMAGES)
"""Columns any layout may have besides its own."""
# TRL layouts that need record types instructkit does not have yet (a labelled single answer,
# labelled steps): rows with all these columns are refused, never read as another layout.
REFUSED_LAYOUTS: dict[str, tuple[str, ...]] = {
    "unpaired preference": ("prompt", "completion", "label"),
    "stepwise supervision": ("prompt", "completions", "labels"),
}


def refused_layout(row: Mapping[str, Any]) -> str | None:
    """The name of the TRL layout of ``row`` that instructkit refuses, or ``None``."""
    for layout, columns in REFUSED_LAYOUTS.items():
        if all(row.get(column) is not None for column in columns):
            return layout
    return None


def layout_shape(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (kind, form) a row's columns select, or ``None``; null columns count as absent."""
    present = {key for key, value in row.items() if value is not None}
    if {"chosen", "rejected"} <= present:
        chosen = row["chosen"]
        form = "standard" if isinstance(chosen, str) else "conversational"
        if "prompt" in present and not (isinstance(row["prompt"], str) and form != "standard"):
            return "preference", form
        return "implicit_preference", form
    if "prompt" in present:
        form = "standard" if isinstance(row["prompt"], str) else "conversational"
        return ("prompt_completion" if "completion" in present else "prompt_only"), form
    if "messages" in present:
        return "language_modeling", "conversational"
    if "text" in present:
        return "language_modeling", "standard"
    return None


def layout_columns(kind: str, form: str) -> tuple[str, ...]:
    """The columns of the layout ``<form>_<kind>``."""
    if kind == "language_modeling" and form == "standard":
        return ("text",)
    return _COLUMNS[kind]
