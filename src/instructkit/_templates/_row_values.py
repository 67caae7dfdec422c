"""A row's field values for a template: checked, and turned into the texts it shows.

Every error is a :class:`~instructkit.TemplateError` located at the field (``$.label``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from instructkit._errors import TemplateError
from instructkit._templates._task import BOOL_LABEL_ADVICE, Task
from instructkit._templates._template import LabelSpace, Template, compiled

__all__ = ["gold_index", "label_space", "missing_field", "scalar_text", "text_list"]


def missing_field(name: str, row: Mapping[str, Any]) -> TemplateError:
    """The error for a field the row does not have, listing the keys it has."""
    keys = ", ".join(sorted(str(k) for k in row)) or "none"
    return TemplateError(
        f"expected a value for field {name!r}, got no such key (the row has: {keys})",
        loc=f"$.{name}",
    )


def text_list(name: str, value: object, *, what: str) -> list[str]:
    """``value`` as a list of texts: one string, or a list of strings.

    Raises:
        TemplateError: anything else (``what`` names what was expected).
    """
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise TemplateError(
            f"expected {what} for field {name!r}, got {type(value).__name__}", loc=f"$.{name}"
        )
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise TemplateError(
                f"expected text items in field {name!r}, got {type(item).__name__}",
                loc=f"$.{name}[{index}]",
            )
    return list(value)


def _choices_of(task: Task, row: Mapping[str, Any]) -> list[str]:
    name = task.choices
    assert name is not None
    if name not in row or row[name] is None:
        raise missing_field(name, row)
    value = row[name]
    if isinstance(value, str):
        raise TemplateError(
            f"expected a list of answer choices in field {name!r}, got a single string",
            loc=f"$.{name}",
        )
    choices = text_list(name, value, what="a list of answer choices")
    if len(choices) < 2:
        raise TemplateError(
            f"expected at least 2 answer choices in field {name!r}, got {len(choices)}",
            loc=f"$.{name}",
        )
    for index, choice in enumerate(choices):
        if not choice.strip():
            raise TemplateError(
                f"expected non-blank answer choices, got {choice!r}", loc=f"$.{name}[{index}]"
            )
        if choice in choices[:index]:
            raise TemplateError(
                f"expected distinct answer choices, got {choice!r} twice",
                loc=f"$.{name}[{index}]",
            )
    return choices


def label_space(template: Template, task: Task, row: Mapping[str, Any]) -> LabelSpace:
    """The labels a row's answer is among: the template's fixed labels, or the row's choices.

    Raises:
        TemplateError: the row's choices are missing or unusable.
    """
    fixed = compiled(template).labels
    if fixed is not None:
        return fixed
    choices = tuple(_choices_of(task, row))
    return LabelSpace(choices, tuple(range(len(choices))), choices)


def _bool_note(value: object) -> str:
    # bool is an int subclass and True == 1, so a silent match would be easy and wrong.
    return f"; {BOOL_LABEL_ADVICE}" if isinstance(value, bool) else ""


def gold_index(task: Task, row: Mapping[str, Any], space: LabelSpace) -> int:
    """The index of the row's answer in ``space``.

    Raises:
        TemplateError: the answer is missing or is none of the labels or choices.
    """
    name = task.target
    if name not in row:
        raise missing_field(name, row)
    value = row[name]
    if task.labels is not None:
        for index, label in enumerate(space.values):
            if label == value and type(label) is type(value):
                return index
        shown = list(space.values)
        note = " (an unlabeled row)" if value is None or value == -1 else _bool_note(value)
        raise TemplateError(f"expected a label among {shown}, got {value!r}{note}", loc=f"$.{name}")
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(space.texts):
            return value
        raise TemplateError(
            f"expected an answer index in range({len(space.texts)}), got {value}"
            + (" (an unlabeled row)" if value == -1 else ""),
            loc=f"$.{name}",
        )
    if isinstance(value, str) and value in space.texts:
        return space.texts.index(value)
    raise TemplateError(
        f"expected the answer as an index or one of the choices {list(space.texts)}, got "
        f"{value!r}{_bool_note(value)}",
        loc=f"$.{name}",
    )


def scalar_text(name: str, kind: str, value: object) -> str:
    """The text of a ``text``, ``number`` or ``list`` field.

    Raises:
        TemplateError: the value is not of the field's kind.
    """
    if kind == "text":
        if not isinstance(value, str):
            raise TemplateError(
                f"expected text for field {name!r}, got {type(value).__name__}", loc=f"$.{name}"
            )
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TemplateError(
                f"expected a number for field {name!r}, got {type(value).__name__}",
                loc=f"$.{name}",
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise TemplateError(
                f"expected a finite number for field {name!r}, got {value!r}", loc=f"$.{name}"
            )
        return str(value)
    # "list"
    return ", ".join(text_list(name, value, what="a list of strings"))
