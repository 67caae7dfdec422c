"""Tasks: the typed fields a template may use, the target, and the label space."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

import orjson
import pydantic
from pydantic import BeforeValidator, Strict

from instructkit._errors import RecordValidationError, TemplateError
from instructkit._records import NonEmptyText
from instructkit._templates._base import TemplateRecord

__all__ = [
    "BOOL_LABEL_ADVICE",
    "FIELD_KINDS",
    "OPTIONS_PLACEHOLDER",
    "FieldKind",
    "LabelValue",
    "Task",
]

FieldKind = Literal["text", "number", "label", "choices", "alternatives", "list"]
"""What a task field holds in a row, and how a placeholder renders it:

* ``"text"``: a string, rendered as is.
* ``"number"``: an int or float (not a bool), rendered with :func:`str`.
* ``"label"``: a label value (int or str) of the task's label space, or for a task with
  per-example ``choices`` an index into them or one of their texts; rendered as the answer
  text (or as the option marker, see :class:`~instructkit.templates.OptionStyle`).
* ``"choices"``: a list of at least two distinct strings, the per-example answer choices
  (multiple-choice tasks); shown only through ``{options}``, never as a placeholder.
* ``"alternatives"``: several equally good strings (gold answers, reference summaries); a
  placeholder renders one of them, picked by a seeded hash per example. A lone string counts
  as a one-item list.
* ``"list"``: a list of strings (keywords, concepts) rendered joined with ``", "``.
"""

FIELD_KINDS: tuple[str, ...] = (
    "text",
    "number",
    "label",
    "choices",
    "alternatives",
    "list",
)

OPTIONS_PLACEHOLDER = "options"
"""The reserved placeholder name where a template shows the answer options."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

LabelValue = Annotated[int, Strict()] | Annotated[str, Strict()]
LabelSpace = tuple[tuple[LabelValue, NonEmptyText], ...]


BOOL_LABEL_ADVICE = (
    "booleans are not label values, since True == 1 in Python and would pass for the label 1: "
    "use int labels such as {1: 'yes', 0: 'no'} and convert boolean columns in the adapter "
    "with int(value)"
)
"""What to do about a boolean label, shared by every message that refuses one."""


def _labels_from_mapping(value: object) -> object:
    # Python callers write {0: "yes", 1: "no"}; JSON cannot have int keys, so the stored and
    # serialised form is a list of [value, text] pairs, which keeps ints ints.
    if isinstance(value, Mapping):
        value = [[k, v] for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        for index, pair in enumerate(value):
            if isinstance(pair, (list, tuple)) and pair and isinstance(pair[0], bool):
                raise RecordValidationError(
                    f"expected label values that are ints or strings, got the bool {pair[0]!r}; "
                    + BOOL_LABEL_ADVICE,
                    loc=f"$[{index}][0]",
                )
    return value


class Task(TemplateRecord):
    """A task: named, typed input fields, the target field, and for classification the labels.

    Attributes:
        name: The task's name (``"nli"``, ``"squad_v1"``).
        cluster: The task cluster it belongs to (``"natural language inference"``), if any.
        fields: Field name to :data:`FieldKind`, in a fixed order. Names are identifiers;
            ``options`` is reserved.
        target: The field a (non-inverted) template's response produces.
        labels: For classification with a fixed label space: ``[value, answer text]`` pairs
            (a ``{value: text}`` mapping is accepted too), in display order. Values are ints
            or strings, texts are distinct and non-empty. The target field must then be of
            kind ``"label"``. Booleans are refused, here and as row values: ``True == 1`` in
            Python (also as a dict key), so a boolean label would be confused with ``1``. A
            dataset with boolean answers (BoolQ) uses the labels ``{1: "yes", 0: "no"}`` and
            its adapter converts each answer with ``int(value)``.
        choices: For multiple choice with per-example answers: the name of the ``"choices"``
            field that holds them. Mutually exclusive with ``labels``.
        rationale: The field holding a chain-of-thought rationale, if the task has one. It is
            optional: only templates that use it need it in the row.
        optional: Other fields a template need not use (the linter does not ask for them).

    Example:
        >>> from instructkit import Task
        >>> nli = Task(name="nli", cluster="nli",
        ...            fields={"premise": "text", "hypothesis": "text", "label": "label"},
        ...            target="label", labels={0: "yes", 1: "it is not possible to tell", 2: "no"})
        >>> nli.label_text(2)
        'no'
    """

    name: NonEmptyText
    cluster: NonEmptyText | None = None
    fields: dict[str, FieldKind]
    target: NonEmptyText
    labels: Annotated[LabelSpace, BeforeValidator(_labels_from_mapping)] | None = None
    choices: NonEmptyText | None = None
    rationale: NonEmptyText | None = None
    optional: tuple[NonEmptyText, ...] = ()

    @pydantic.model_validator(mode="after")
    def _check(self) -> Task:
        where = f"task {self.name!r}"
        for name in self.fields:
            if not _NAME.match(name):
                raise TemplateError(
                    f"{where}: expected field names that are identifiers, got {name!r}",
                    loc=f"$.fields[{name!r}]",
                )
            if name == OPTIONS_PLACEHOLDER:
                raise TemplateError(
                    f"{where}: expected no field named {OPTIONS_PLACEHOLDER!r} (it is reserved "
                    "for the answer options), got one",
                    loc="$.fields",
                )
        names = list(self.fields)
        for attr in ("target", "choices", "rationale"):
            value = getattr(self, attr)
            if value is not None and value not in self.fields:
                raise TemplateError(
                    f"{where}: expected {attr} to name one of the fields {names}, got {value!r}",
                    loc=f"$.{attr}",
                )
        for index, name in enumerate(self.optional):
            if name not in self.fields:
                raise TemplateError(
                    f"{where}: expected optional fields among {names}, got {name!r}",
                    loc=f"$.optional[{index}]",
                )
        kinds = self.fields
        choice_fields = [n for n, k in kinds.items() if k == "choices"]
        if self.labels is not None and self.choices is not None:
            raise TemplateError(
                f"{where}: expected either labels or choices, got both", loc="$.choices"
            )
        if self.labels is not None:
            self._check_labels(where)
        if self.choices is not None and kinds[self.choices] != "choices":
            raise TemplateError(
                f"{where}: expected choices to name a field of kind 'choices', got "
                f"{self.choices!r} of kind {kinds[self.choices]!r}",
                loc="$.choices",
            )
        if choice_fields and (len(choice_fields) > 1 or choice_fields[0] != self.choices):
            raise TemplateError(
                f"{where}: expected exactly one 'choices' field, named by choices=, got "
                f"{choice_fields} with choices={self.choices!r}",
                loc="$.choices",
            )
        classification = self.labels is not None or self.choices is not None
        if classification and kinds[self.target] != "label":
            raise TemplateError(
                f"{where}: expected the target of a classification task to be of kind 'label', "
                f"got {self.target!r} of kind {kinds[self.target]!r}",
                loc="$.target",
            )
        label_fields = [n for n, k in kinds.items() if k == "label"]
        if label_fields and not classification:
            raise TemplateError(
                f"{where}: expected labels= or choices= for the 'label' field(s) {label_fields}, "
                "got neither",
                loc="$.labels",
            )
        if self.rationale is not None and kinds[self.rationale] not in ("text", "alternatives"):
            raise TemplateError(
                f"{where}: expected the rationale field to be of kind 'text' or 'alternatives', "
                f"got {kinds[self.rationale]!r}",
                loc="$.rationale",
            )
        return self

    def _check_labels(self, where: str) -> None:
        labels = self.labels or ()
        if len(labels) < 2:
            raise TemplateError(
                f"{where}: expected at least 2 labels, got {len(labels)}", loc="$.labels"
            )
        seen_values: set[tuple[str, int | str]] = set()
        seen_texts: set[str] = set()
        for index, (value, text) in enumerate(labels):
            key = (type(value).__name__, value)
            if key in seen_values:
                raise TemplateError(
                    f"{where}: expected distinct label values, got {value!r} twice",
                    loc=f"$.labels[{index}][0]",
                )
            if text in seen_texts:
                # Two labels with one text would make the rendered answer ambiguous.
                raise TemplateError(
                    f"{where}: expected distinct answer texts, got {text!r} twice",
                    loc=f"$.labels[{index}][1]",
                )
            seen_values.add(key)
            seen_texts.add(text)

    def __hash__(self) -> int:
        return hash(orjson.dumps(self.to_dict()))

    @property
    def has_label_space(self) -> bool:
        """Whether answers come from a label space (fixed ``labels`` or per-example ``choices``)."""
        return self.labels is not None or self.choices is not None

    @property
    def required(self) -> tuple[str, ...]:
        """The fields a template set is expected to use: all but the optional ones."""
        skip = set(self.optional)
        if self.rationale is not None:
            skip.add(self.rationale)
        return tuple(name for name in self.fields if name not in skip)

    def label_text(self, value: int | str) -> str:
        """The answer text of a label value of the fixed label space.

        Raises:
            TemplateError: the task has no fixed labels, or ``value`` is not among them.
        """
        for label, text in self.labels or ():
            if label == value and type(label) is type(value):
                return text
        advice = f"; {BOOL_LABEL_ADVICE}" if isinstance(value, bool) else ""
        raise TemplateError(
            f"task {self.name!r}: expected a label among {self.label_values()}, got "
            f"{value!r}{advice}",
            loc=f"$.{self.target}",
        )

    def label_values(self) -> list[int | str]:
        """The label values of the fixed label space, in display order (empty if none)."""
        return [value for value, _ in self.labels or ()]
