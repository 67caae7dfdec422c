r"""The template linter: typos and inconsistencies that render fine but train badly."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from instructkit._errors import DataError
from instructkit._templates._pattern import Pattern, PatternProblem, parse_pattern
from instructkit._templates._render import Settings, render_row
from instructkit._templates._task import OPTIONS_PLACEHOLDER, Task
from instructkit._templates._template import PARTS, Template

__all__ = ["LINT_CODES", "LintFinding", "lint_templates"]

LINT_CODES: dict[str, str] = {
    "syntax": "a pattern that does not parse (bad placeholder, unbalanced brace)",
    "unknown-field": "a placeholder that is not a field of the task",
    "invalid": "a template or task that cannot be built for another reason",
    "unused-field": "a required task field that no pattern of the template uses",
    "glued-text": "a letter or digit glued to a placeholder, such as the Flan '}n' typo",
    "boundary-whitespace": "whitespace at the start or end of a pattern",
    "double-space": "two spaces in a row in a pattern's own text",
    "duplicate-id": "two templates of the set with one id",
    "duplicate-template": "two templates of the set with the same content hash",
    "options-without-labels": "an {options} block in a template whose task has no label space",
    "labels-without-options": "a classification template answering the target without {options}",
    "marker-answer-only": "a template whose option styles all answer with a marker, so it has "
    "no without-options variant",
    "target-not-in-response": "a non-inverted template whose response does not use the target",
    "inverted-answers-target": "an inverted template whose response is just the target",
    "rationale-after-answer": "a chain-of-thought response giving the answer before the reasons",
    "empty-render": "a pattern that renders blank (always, or on one of the sample rows)",
    "render-error": "a sample row that the template cannot render",
}
"""Every finding code, with what it means."""


@dataclass(frozen=True)
class LintFinding:
    """One problem the linter found.

    Attributes:
        template_id: The template's id (or ``"#<index>"`` for an unbuildable one without id).
        code: One of :data:`LINT_CODES`.
        message: What is wrong, and what was probably meant.
        part: ``"system"``, ``"instruction"`` or ``"response"``, if the problem has a place.
        position: Offset in that pattern's raw text, if known.
    """

    template_id: str
    code: str
    message: str
    part: str | None = None
    position: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.part is not None:
            where = f" {self.part}" + (f"[{self.position}]" if self.position is not None else "")
        return f"{self.template_id}{where}: {self.code}: {self.message}"


_STRAY = frozenset("nt")


def _glue(template_id: str, part: str, raw: str, pattern: Pattern) -> list[LintFinding]:
    found = []
    slots = pattern.slots
    flagged: set[int] = set()
    for slot in slots:
        after = raw[slot.end] if slot.end < len(raw) else ""
        before = raw[slot.start - 1] if slot.start > 0 else ""
        if after.isalnum():
            follow = raw[slot.end + 1] if slot.end + 1 < len(raw) else ""
            if after in _STRAY and not (follow.isalpha() and follow.islower()):
                message = (
                    f"a stray {after!r} right after {{{slot.name}}}: "
                    f"{'a newline' if after == 'n' else 'a tab'} ('\\{after}') was probably meant"
                )
            else:
                word = re.match(r"\w+", raw[slot.end :])
                glued = word.group(0) if word else after
                message = (
                    f"{glued!r} is glued to {{{slot.name}}}: a space or newline was probably meant"
                )
            found.append(LintFinding(template_id, "glued-text", message, part, slot.end))
            flagged.add(slot.end)
        if before.isalnum() and slot.start - 1 not in flagged:
            prior = raw[slot.start - 2] if slot.start > 1 else ""
            if before in _STRAY and not prior.isalpha():
                message = (
                    f"a stray {before!r} right before {{{slot.name}}}: "
                    f"{'a newline' if before == 'n' else 'a tab'} ('\\{before}') was probably meant"
                )
            else:
                message = (
                    f"text is glued to the start of {{{slot.name}}}: a space or newline was "
                    "probably meant"
                )
            found.append(LintFinding(template_id, "glued-text", message, part, slot.start - 1))
    for left, right in itertools.pairwise(slots):
        if left.end == right.start:
            found.append(
                LintFinding(
                    template_id,
                    "glued-text",
                    f"{{{left.name}}} and {{{right.name}}} touch: a space or newline was "
                    "probably meant",
                    part,
                    right.start,
                )
            )
    return found


def _text_checks(template_id: str, part: str, raw: str) -> list[LintFinding]:
    found = []
    if raw and raw != raw.lstrip():
        found.append(
            LintFinding(
                template_id,
                "boundary-whitespace",
                f"the {part} starts with whitespace {raw[: len(raw) - len(raw.lstrip())]!r}",
                part,
                0,
            )
        )
    if raw and raw != raw.rstrip():
        stripped = raw.rstrip()
        found.append(
            LintFinding(
                template_id,
                "boundary-whitespace",
                f"the {part} ends with whitespace {raw[len(stripped) :]!r}",
                part,
                len(stripped),
            )
        )
    for match in re.finditer(r"(?<! ) {2,}(?! )", raw):
        if raw[: match.start()].strip() == "" or raw[match.end() :].strip() == "":
            continue  # already reported as boundary whitespace
        found.append(
            LintFinding(
                template_id,
                "double-space",
                f"{len(match.group(0))} spaces in a row",
                part,
                match.start(),
            )
        )
    return found


def _structure(template: Template) -> list[LintFinding]:
    """Every structural rule's findings for one template, in the order the rules are listed."""
    return [finding for rule in _STRUCTURE_RULES for finding in rule(template)]


def _response_fields(template: Template) -> list[str]:
    response = template.pattern("response")
    return [s.name for s in response.slots] if response is not None else []


def _unused_fields(template: Template) -> Iterator[LintFinding]:
    task = template.task
    used = set(template.fields_used)
    for name in task.required:
        if name not in used and task.fields[name] != "choices":
            yield LintFinding(
                template.id, "unused-field", f"no pattern uses the required field {{{name}}}"
            )
    # The choices field is shown through {options}; without it the choices are unused, unless
    # the response answers from them (reported as labels-without-options).
    answers_from_choices = task.target in used and not template.inverted
    if (
        task.choices is not None
        and task.choices in task.required
        and not template.uses_options
        and not answers_from_choices
    ):
        yield LintFinding(
            template.id,
            "unused-field",
            f"the answer choices ({task.choices!r}) are never shown: add {{options}}",
        )


def _options_without_labels(template: Template) -> Iterator[LintFinding]:
    task = template.task
    if template.uses_options and not task.has_label_space:
        part, position = _first_slot(template, OPTIONS_PLACEHOLDER)
        yield LintFinding(
            template.id,
            "options-without-labels",
            f"task {task.name!r} has no label space, so {{options}} always renders empty",
            part,
            position,
        )


def _labels_without_options(template: Template) -> Iterator[LintFinding]:
    task = template.task
    if (
        task.has_label_space
        and not template.inverted
        and task.target in _response_fields(template)
        and not template.uses_options
    ):
        yield LintFinding(
            template.id,
            "labels-without-options",
            f"the response answers {{{task.target}}} from a label space but no pattern "
            "shows {options} (the without-options variant is derived automatically)",
            "instruction",
        )


def _marker_answer_only(template: Template) -> Iterator[LintFinding]:
    if not template.marker_only:
        return
    names = ", ".join(style.name for style in template.styles)
    if template.uses_options and template.task.has_label_space:
        message = (
            f"every option style ({names}) answers with a marker, so there is no "
            "without-options variant (render and convert refuse options=False); add a style "
            "that answers with the option text if the template should have one"
        )
    else:
        message = (
            f"every option style ({names}) answers with a marker, but no options "
            "are ever shown, so the answer would refer to nothing"
        )
    part, position = _first_slot(template, OPTIONS_PLACEHOLDER)
    yield LintFinding(template.id, "marker-answer-only", message, part, position)


def _target_placement(template: Template) -> Iterator[LintFinding]:
    target = template.task.target
    response_fields = _response_fields(template)
    if not template.inverted and target not in response_fields:
        yield LintFinding(
            template.id,
            "target-not-in-response",
            f"the response does not use the target {{{target}}}; set inverted=True "
            "if the template turns the task around",
            "response",
        )
    if template.inverted and response_fields and set(response_fields) == {target}:
        yield LintFinding(
            template.id,
            "inverted-answers-target",
            f"the template is marked inverted but its response is just {{{target}}}",
            "response",
        )


def _rationale_after_answer(template: Template) -> Iterator[LintFinding]:
    target, rationale = template.task.target, template.task.rationale
    fields = _response_fields(template)
    if (
        rationale is not None
        and rationale in fields
        and target in fields
        and fields.index(target) < fields.index(rationale)
    ):
        yield LintFinding(
            template.id,
            "rationale-after-answer",
            f"{{{target}}} comes before the reasoning {{{rationale}}}; chain of "
            "thought gives the reasons first",
            "response",
        )


def _empty_render(template: Template) -> Iterator[LintFinding]:
    for part in ("instruction", "response"):
        pattern = template.pattern(part)
        if pattern is None:
            continue
        literal = "".join(p for p in pattern.pieces if isinstance(p, str))
        if not pattern.slots and not literal.strip():
            yield LintFinding(template.id, "empty-render", f"the {part} pattern is blank", part, 0)
    instruction = template.pattern("instruction")
    if instruction is not None and instruction.slots:
        literal = "".join(p for p in instruction.plain if isinstance(p, str))
        if not literal.strip():
            yield LintFinding(
                template.id,
                "empty-render",
                "the instruction has no text of its own (it renders blank when its fields "
                "are empty, and asks nothing)",
                "instruction",
                0,
            )


# The structural rules, one function each, in the order their findings are listed.
_STRUCTURE_RULES: tuple[Callable[[Template], Iterator[LintFinding]], ...] = (
    _unused_fields,
    _options_without_labels,
    _labels_without_options,
    _marker_answer_only,
    _target_placement,
    _rationale_after_answer,
    _empty_render,
)


def _first_slot(template: Template, name: str) -> tuple[str | None, int | None]:
    for part in PARTS:
        pattern = template.pattern(part)
        if pattern is not None:
            for slot in pattern.slots:
                if slot.name == name:
                    return part, slot.start
    return None, None


def _build(raw: Any, index: int) -> tuple[Template | None, list[LintFinding]]:
    if isinstance(raw, Template):
        return raw, []
    tid = f"#{index}"
    if isinstance(raw, Mapping) and isinstance(raw.get("id"), str) and raw["id"]:
        tid = raw["id"]
    found: list[LintFinding] = []
    task: Task | None = None
    if isinstance(raw, Mapping):
        try:
            task_data = raw.get("task")
            task = task_data if isinstance(task_data, Task) else Task.model_validate(task_data)
        except DataError as err:
            found.append(LintFinding(tid, "invalid", f"the task cannot be built: {err}"))
        for part in PARTS:
            text = raw.get(part)
            if not isinstance(text, str):
                continue
            try:
                pattern = parse_pattern(text)
            except PatternProblem as problem:
                found.append(LintFinding(tid, "syntax", problem.reason, part, problem.position))
                continue
            if task is None:
                continue
            for slot in pattern.slots:
                if slot.name != OPTIONS_PLACEHOLDER and slot.name not in task.fields:
                    valid = ", ".join([*task.fields, OPTIONS_PLACEHOLDER])
                    found.append(
                        LintFinding(
                            tid,
                            "unknown-field",
                            f"{{{slot.name}}} is not a field of task {task.name!r} ({valid})",
                            part,
                            slot.start,
                        )
                    )
    try:
        template = Template.model_validate(raw)
    except DataError as err:
        if not found:
            found.append(LintFinding(tid, "invalid", str(err)))
        return None, found
    return template, found


def lint_templates(
    templates: Iterable[Template | Mapping[str, Any]],
    *,
    rows: Mapping[str, Iterable[Mapping[str, Any]]] | Iterable[Mapping[str, Any]] | None = None,
    seed: int = 0,
) -> list[LintFinding]:
    r"""Check a set of templates for typos and inconsistencies; return what was found.

    Templates may be given as :class:`Template` objects or as raw mappings (as read from a
    JSON file), in which case problems that stop a template from being built (syntax,
    unknown fields) are reported as findings too. Codes are listed in :data:`LINT_CODES`.

    Args:
        templates: The set (duplicates are looked for across it).
        rows: Sample rows: a mapping of task name to rows, or rows for every template (when
            all templates share one task). Each template is rendered on each of its rows,
            with and without options, and blank or failing renders are reported.
        seed: The seed for those renders.

    Returns:
        The findings, in template order, each with the template id and, where it has one,
        the pattern and position.

    Example:
        >>> from instructkit import Task, Template
        >>> from instructkit.templates import lint_templates
        >>> task = Task(name="nli", fields={"premise": "text", "hypothesis": "text",
        ...             "label": "label"}, target="label", labels={0: "yes", 1: "no"})
        >>> typo = Template(id="nli-9", task=task, response="{label}",
        ...                 instruction="{premise}\nDoes this mean that {hypothesis}n{options}")
        >>> for finding in lint_templates([typo]):
        ...     print(finding)
        nli-9 instruction[42]: glued-text: a stray 'n' right after {hypothesis}: a newline ('\n') was probably meant
    """  # noqa: E501
    by_task: dict[str, list[Mapping[str, Any]]] | None = None
    shared: list[Mapping[str, Any]] = []
    if isinstance(rows, Mapping):
        by_task = {str(name): list(task_rows) for name, task_rows in rows.items()}
    elif rows is not None:
        shared = list(rows)
    findings: list[LintFinding] = []
    seen_ids: dict[str, int] = {}
    seen_hashes: dict[str, str] = {}
    for index, raw in enumerate(templates):
        template, found = _build(raw, index)
        findings.extend(found)
        if template is None:
            continue
        tid = template.id
        if tid in seen_ids:
            findings.append(
                LintFinding(tid, "duplicate-id", f"template #{seen_ids[tid]} has the same id")
            )
        else:
            seen_ids[tid] = index
        if template.content_hash in seen_hashes:
            findings.append(
                LintFinding(
                    tid,
                    "duplicate-template",
                    f"same text and task as template {seen_hashes[template.content_hash]!r}",
                )
            )
        else:
            seen_hashes[template.content_hash] = tid
        for part in PARTS:
            pattern = template.pattern(part)
            if pattern is None:
                continue
            findings.extend(_glue(tid, part, pattern.raw, pattern))
            findings.extend(_text_checks(tid, part, pattern.raw))
        findings.extend(_structure(template))
        sample = shared if by_task is None else by_task.get(template.task.name, [])
        findings.extend(_render_checks(template, sample, seed))
    return findings


def _render_checks(
    template: Template, rows: list[Mapping[str, Any]], seed: int
) -> list[LintFinding]:
    found: list[LintFinding] = []
    settings = Settings(seed=seed)
    # A marker-only template has no without-options variant (reported as marker-answer-only).
    variants = (True,) if template.marker_only else (True, False)
    for row_index, row in enumerate(rows):
        for with_options in variants:
            try:
                render_row(template, row, settings, with_options=with_options)
            except DataError as err:
                variant = "with" if with_options else "without"
                blank = "non-blank" in err.reason
                found.append(
                    LintFinding(
                        template.id,
                        "empty-render" if blank else "render-error",
                        f"sample row {row_index} ({variant} options): {err}",
                    )
                )
                break
    return found
