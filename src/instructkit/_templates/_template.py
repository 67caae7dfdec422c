"""Templates: patterns (parsed in ``_pattern``) validated against a task, and template files."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson
import pydantic
from pydantic import PrivateAttr

from instructkit._errors import (
    ConfigurationError,
    DataError,
    MalformedJSONError,
    TemplateError,
    format_loc,
)
from instructkit._records import NonEmptyText, Text
from instructkit._templates._base import TemplateRecord
from instructkit._templates._options import OptionStyle, resolve_style
from instructkit._templates._pattern import Pattern, PatternProblem, parse_pattern
from instructkit._templates._task import OPTIONS_PLACEHOLDER, LabelValue, Task

__all__ = [
    "PARTS",
    "Compiled",
    "LabelSpace",
    "Template",
    "compiled",
    "load_templates",
    "save_templates",
]

PARTS: tuple[str, ...] = ("system", "instruction", "response")
"""The patterns of a template, in the order a reader sees them."""

_FILE_FORMAT = "instructkit.templates/1"


OptionStyleSpec = str | OptionStyle
"""An option style by built-in name or as an object."""


@dataclass(frozen=True)
class LabelSpace:
    """A fixed label space, laid out for rendering.

    Attributes:
        keys: One distinct text per label (type and value), ranked to shuffle options.
        values: The label values, in display order.
        texts: Their answer texts.
    """

    keys: tuple[str, ...]
    values: tuple[LabelValue, ...]
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Compiled:
    """Everything rendering needs from a template, worked out once when it is built.

    Attributes:
        patterns: The parsed patterns by part (parts without a pattern are absent).
        styles: The template's own option styles, resolved (empty: the caller decides).
        content_hash: See :attr:`Template.content_hash`.
        used: See :attr:`Template.fields_used`.
        uses_options: See :attr:`Template.uses_options`.
        marker_only: See :attr:`Template.marker_only`.
        cot: Whether the response uses the task's rationale field.
        labels: The task's fixed label space, or ``None``.
    """

    patterns: dict[str, Pattern]
    styles: tuple[OptionStyle, ...]
    content_hash: str
    used: tuple[str, ...]
    uses_options: bool
    marker_only: bool
    cot: bool
    labels: LabelSpace | None


class Template(TemplateRecord):
    r"""An instruction template for one task: what to ask, and what the answer looks like.

    Patterns use ``{field}`` placeholders naming fields of :attr:`task`, ``{{`` and ``}}``
    for literal braces, and nothing else. The reserved placeholder ``{options}`` shows the
    task's answer options (see :class:`OptionStyle`); one declaration gives two variants:
    with options, and without them (the ``{options}`` slot and the whitespace leading into
    it are removed). Everything is checked when the template is built.

    Attributes:
        id: A unique id (``"nli-3"``).
        task: The task whose fields the patterns use.
        instruction: The pattern of the instruction (the prompt).
        response: The pattern of the response (the target).
        system: An optional pattern for a system prompt.
        inverted: Whether the template turns the task around (asks for an input given the
            answer, such as "write a premise for this hypothesis").
        language: BCP 47 language tag of the template's own wording.
        tags: Free-form tags (``"cot"``, ``"short"``).
        options_style: The option style(s) this template uses: a built-in name, an
            :class:`OptionStyle`, a tuple of those (one drawn per example), or ``None`` to
            leave it to the caller (who by default draws from
            :data:`~instructkit._templates._options.DEFAULT_OPTION_STYLES`).

    Example:
        >>> from instructkit import Task, Template
        >>> task = Task(name="sentiment", fields={"text": "text", "label": "label"},
        ...             target="label", labels={0: "negative", 1: "positive"})
        >>> t = Template(id="sent-1", task=task,
        ...              instruction="Review: {text}\nIs this review positive?\n{options}",
        ...              response="{label}")
        >>> t.fields_used
        ('text', 'options', 'label')
        >>> len(t.content_hash)
        16
    """

    id: NonEmptyText
    task: Task
    instruction: Text
    response: Text
    system: Text | None = None
    inverted: bool = False
    language: NonEmptyText = "en"
    tags: tuple[NonEmptyText, ...] = ()
    options_style: OptionStyleSpec | tuple[OptionStyleSpec, ...] | None = None

    # One private attribute read through compiled(): pydantic's lookup of private attributes is
    # slow enough to show in profiles of convert() when repeated per property.
    _compiled: Compiled = PrivateAttr()

    @pydantic.model_validator(mode="after")
    def _build(self) -> Template:
        valid = [*self.task.fields, OPTIONS_PLACEHOLDER]
        patterns: dict[str, Pattern] = {}
        for part in PARTS:
            raw = getattr(self, part)
            if raw is None:
                continue
            try:
                pattern = parse_pattern(raw)
            except PatternProblem as problem:
                raise TemplateError(
                    f"template {self.id!r}, {part} position {problem.position}: {problem.reason}",
                    loc=f"$.{part}",
                ) from None
            for slot in pattern.slots:
                kind = self.task.fields.get(slot.name)
                if slot.name != OPTIONS_PLACEHOLDER and kind is None:
                    raise TemplateError(
                        f"template {self.id!r}, {part} position {slot.start}: expected a field "
                        f"of task {self.task.name!r} ({', '.join(valid)}), got {{{slot.name}}}",
                        loc=f"$.{part}",
                    )
                if kind == "choices":
                    raise TemplateError(
                        f"template {self.id!r}, {part} position {slot.start}: expected "
                        f"{{{OPTIONS_PLACEHOLDER}}} to show the answer choices, got the choices "
                        f"field {{{slot.name}}} itself",
                        loc=f"$.{part}",
                    )
            patterns[part] = pattern
        seen: dict[str, None] = {}
        for part in PARTS:
            if part in patterns:
                for slot in patterns[part].slots:
                    seen.setdefault(slot.name, None)
        styles = self._resolve_styles()
        task = self.task
        response = patterns.get("response")
        labels = None
        if task.labels is not None:
            labels = LabelSpace(
                tuple(f"{type(v).__name__}:{v}" for v, _ in task.labels),
                tuple(v for v, _ in task.labels),
                tuple(t for _, t in task.labels),
            )
        self._compiled = Compiled(
            patterns=patterns,
            styles=styles,
            content_hash=self._compute_hash(styles),
            used=tuple(seen),
            uses_options=OPTIONS_PLACEHOLDER in seen,
            marker_only=bool(styles) and all(s.target == "marker" for s in styles),
            cot=task.rationale is not None
            and response is not None
            and any(s.name == task.rationale for s in response.slots),
            labels=labels,
        )
        return self

    def _resolve_styles(self) -> tuple[OptionStyle, ...]:
        spec = self.options_style
        if spec is None:
            return ()
        specs = spec if isinstance(spec, tuple) else (spec,)
        if not specs:
            raise TemplateError(
                f"template {self.id!r}: expected at least one option style, got ()",
                loc="$.options_style",
            )
        styles = []
        for index, item in enumerate(specs):
            try:
                styles.append(resolve_style(item))
            except ConfigurationError as err:
                raise TemplateError(
                    f"template {self.id!r}: {err}",
                    loc="$.options_style" + (f"[{index}]" if isinstance(spec, tuple) else ""),
                ) from None
        names = [s.name for s in styles]
        if len(set(names)) != len(names):
            raise TemplateError(
                f"template {self.id!r}: expected distinct option style names, got {names}",
                loc="$.options_style",
            )
        return tuple(styles)

    def _compute_hash(self, styles: tuple[OptionStyle, ...]) -> str:
        # Everything that changes what a rendering looks like, and nothing else (not the id,
        # tags or language), so renaming or retagging a template keeps its hash.
        content = {
            "task": self.task.to_dict(),
            "system": self.system,
            "instruction": self.instruction,
            "response": self.response,
            "inverted": self.inverted,
            "options_style": [s.to_dict() for s in styles],
        }
        digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return digest[:16]

    def __hash__(self) -> int:
        return hash((self.id, compiled(self).content_hash))

    @property
    def content_hash(self) -> str:
        """16 hex digits that change whenever the text, task or option styles change."""
        return compiled(self).content_hash

    def pattern(self, part: str) -> Pattern | None:
        """The parsed pattern of ``part`` (``"system"``, ``"instruction"``, ``"response"``)."""
        return compiled(self).patterns.get(part)

    @property
    def styles(self) -> tuple[OptionStyle, ...]:
        """The option styles this template names, resolved (empty: the caller decides)."""
        return compiled(self).styles

    @property
    def fields_used(self) -> tuple[str, ...]:
        """The distinct placeholder names, in order of first use (system, instruction, response)."""
        return compiled(self).used

    @property
    def uses_options(self) -> bool:
        """Whether any pattern shows ``{options}``."""
        return compiled(self).uses_options

    @property
    def marker_only(self) -> bool:
        """Whether every option style the template names answers with the option's marker.

        Such a template asks for a letter or a number, so it has no without-options variant:
        :func:`~instructkit.render` and :func:`~instructkit.convert` refuse to render it
        without its options block, and :func:`~instructkit.templates.lint_templates` reports it.
        """
        return compiled(self).marker_only

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Template:
        """Read one template from a JSON file written by :meth:`save`.

        Raises:
            MalformedJSONError: the file is not JSON.
            TemplateError: the template breaks a rule (located with the file name).
            RecordValidationError: a field has the wrong type.
        """
        data = _read_json(path)
        try:
            return cls.model_validate(data)
        except DataError as err:
            raise err.located(file=os.fspath(path)) from err

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write this template (with its task) to a JSON file that :meth:`load` reads back."""
        Path(path).write_bytes(orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")


def compiled(template: Template) -> Compiled:
    """What rendering needs from ``template``, worked out when it was built."""
    # Read straight from pydantic's private-attribute dict: its attribute lookup for private
    # names costs microseconds per access, which rendering would pay several times per row.
    private = template.__pydantic_private__
    assert private is not None  # set by every validated Template
    return cast(Compiled, private["_compiled"])


def _read_json(path: str | os.PathLike[str]) -> Any:
    raw = Path(path).read_bytes()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise MalformedJSONError(
            f"expected JSON, got {err.msg}",
            file=os.fspath(path),
            line=err.lineno,
            column=err.colno,
            offset=err.pos,
        ) from err


def save_templates(
    path: str | os.PathLike[str], templates: Iterable[Template], *, embed_tasks: bool = True
) -> None:
    """Write a set of templates to one JSON file, each template naming its task.

    The file is ``{"format": "instructkit.templates/1", "tasks": [...], "templates": [...]}``
    where each template names its task by ``name`` and each task is stored once. With
    ``embed_tasks=False`` the ``tasks`` list is left out: the file only refers to its tasks
    by name, and :func:`load_templates` needs them as ``tasks=`` (this is how the built-in
    library stores its templates, next to the tasks defined in code).

    Args:
        path: The file to write.
        templates: The templates, in the order to store them.
        embed_tasks: Store the task definitions in the file (default) or refer to them only.

    Raises:
        ConfigurationError: two different tasks share a name, or two templates an id.
    """
    tasks: dict[str, Task] = {}
    rows: list[dict[str, Any]] = []
    ids: set[str] = set()
    for template in templates:
        known = tasks.setdefault(template.task.name, template.task)
        if known != template.task:
            raise ConfigurationError(
                f"expected one definition per task name, got two different tasks named "
                f"{template.task.name!r}"
            )
        if template.id in ids:
            raise ConfigurationError(f"expected distinct template ids, got {template.id!r} twice")
        ids.add(template.id)
        row = template.to_dict()
        row["task"] = template.task.name
        rows.append(row)
    document: dict[str, Any] = {"format": _FILE_FORMAT}
    if embed_tasks:
        document["tasks"] = [task.to_dict() for task in tasks.values()]
    document["templates"] = rows
    Path(path).write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


def load_templates(
    path: str | os.PathLike[str], *, tasks: Mapping[str, Task] | None = None
) -> list[Template]:
    """Read templates from a JSON file.

    Accepts the file :func:`save_templates` writes, a JSON list of templates, or a single
    template as :meth:`Template.save` writes it. A template gives its task inline (an
    object) or by name; a name refers to a task stored in the file's ``tasks`` list or
    given in ``tasks=``. A task both stored in the file and given must be the same.

    Args:
        path: The file to read.
        tasks: Tasks the file may refer to by name, keyed by their names.

    Returns:
        The templates, in file order.

    Raises:
        MalformedJSONError: the file is not JSON.
        TemplateError: a template or task breaks a rule, names a task that is neither in the
            file nor in ``tasks=``, or the file stores a task that differs from the given one.
        RecordValidationError: a field has the wrong type.
        ConfigurationError: ``tasks`` is not a mapping of task names to their tasks.

    Example:
        >>> import tempfile, pathlib
        >>> from instructkit import Task, Template
        >>> from instructkit.templates import load_templates, save_templates
        >>> task = Task(name="qa", fields={"q": "text", "a": "text"}, target="a")
        >>> t = Template(id="qa-1", task=task, instruction="{q}", response="{a}")
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "qa.json"
        >>> save_templates(path, [t], embed_tasks=False)
        >>> load_templates(path, tasks={"qa": task}) == [t]
        True
    """
    given = _check_tasks(tasks)
    file = os.fspath(path)
    data = _read_json(path)
    try:
        if isinstance(data, dict) and "templates" in data:
            return _load_document(data, given)
        if isinstance(data, list):
            return [_load_template(item, given, (index,)) for index, item in enumerate(data)]
        return [_load_template(data, given, ())]
    except DataError as err:
        raise err.located(file=file) from err


def _check_tasks(tasks: object) -> dict[str, Task]:
    if tasks is None:
        return {}
    if not isinstance(tasks, Mapping):
        raise ConfigurationError(
            f"expected tasks to map task names to Task objects, got {type(tasks).__name__}"
        )
    out: dict[str, Task] = {}
    for name, task in tasks.items():
        if not isinstance(task, Task):
            raise ConfigurationError(
                f"expected tasks to map task names to Task objects, got {type(task).__name__} "
                f"for {name!r}"
            )
        if name != task.name:
            raise ConfigurationError(
                f"expected each task under its own name, got task {task.name!r} under {name!r}"
            )
        out[name] = task
    return out


_T = TypeVar("_T", Template, Task)


def _validate_at(kind: type[_T], item: Any, prefix: tuple[str | int, ...]) -> _T:
    # Errors inside a file's list point at the item: $.templates[3].instruction.
    try:
        return kind.model_validate(item)
    except DataError as err:
        raise err.located(prefix=prefix) from err


def _load_template(item: Any, tasks: Mapping[str, Task], prefix: tuple[str | int, ...]) -> Template:
    # A template names its task, or holds it inline (then validated as part of the template).
    name = item.get("task") if isinstance(item, dict) else None
    if isinstance(name, str):
        if name not in tasks:
            known = ", ".join(repr(n) for n in sorted(tasks)) or "none"
            raise TemplateError(
                "expected a task stored in the file or given in load_templates(tasks=...) "
                f"(known: {known}), got unknown task {name!r}",
                loc=format_loc([*prefix, "task"]),
            )
        item = {**item, "task": tasks[name]}
    return _validate_at(Template, item, prefix)


def _load_document(data: dict[str, Any], given: Mapping[str, Task]) -> list[Template]:
    if data.get("format") != _FILE_FORMAT:
        raise TemplateError(
            f"expected format {_FILE_FORMAT!r}, got {data.get('format')!r}", loc="$.format"
        )
    raw_tasks = data.get("tasks", [])
    raw_templates = data.get("templates")
    if not isinstance(raw_tasks, list) or not isinstance(raw_templates, list):
        raise TemplateError(
            "expected a list under 'templates' (and under 'tasks', if present), got "
            f"{type(raw_templates).__name__} and {type(raw_tasks).__name__}",
            loc="$",
        )
    tasks = dict(given)
    for index, item in enumerate(raw_tasks):
        task = _validate_at(Task, item, ("tasks", index))
        if task.name in given and given[task.name] != task:
            raise TemplateError(
                f"expected the stored task {task.name!r} to equal the one given in tasks=, got "
                "a different definition",
                loc=f"$.tasks[{index}]",
            )
        tasks[task.name] = task
    out = []
    for index, item in enumerate(raw_templates):
        if not isinstance(item, dict):
            raise TemplateError(
                f"expected a template object, got {type(item).__name__}",
                loc=f"$.templates[{index}]",
            )
        out.append(_load_template(item, tasks, ("templates", index)))
    return out
