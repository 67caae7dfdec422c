"""Task, template and task-row strategies: everything builds, and every row renders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from instructkit import Instruction, Task, Template, render
from instructkit.strategies import TASK_SHAPES, TemplatedRow, task_rows, tasks, templates

T = TypeVar("T")


def find_any(strategy: st.SearchStrategy[T], condition: Callable[[T], bool]) -> T:
    return find(
        strategy,
        condition,
        settings=settings(max_examples=1000, phases=[Phase.generate], database=None),
    )


def minimal(strategy: st.SearchStrategy[T]) -> T:
    return find(strategy, lambda _: True, settings=settings(max_examples=100, database=None))


@given(task_rows())
def test_every_row_renders_with_its_template(example: TemplatedRow) -> None:
    record = render(example.template, example.row)
    assert isinstance(record, Instruction)
    assert record.instruction.strip()
    assert record.response.strip()
    assert Instruction.model_validate(record.to_dict()) == record


@given(templates())
def test_templates_validate_again(template: Template) -> None:
    assert Template.model_validate(template.to_dict()).to_dict() == template.to_dict()
    assert Task.model_validate(template.task.to_dict()).to_dict() == template.task.to_dict()


@given(task_rows(text=st.just("fixed")))
def test_text_strategy_fills_text_fields(example: TemplatedRow) -> None:
    for name, kind in example.template.task.fields.items():
        if kind == "text":
            assert example.row[name] == "fixed"


@given(templates(tasks=tasks(shapes=st.just("classification"))))
def test_tasks_strategy_is_used(template: Template) -> None:
    assert template.task.labels is not None


TEMPLATE_CASES: dict[str, Callable[[TemplatedRow], bool]] = {
    **{
        f"{shape} task": (
            lambda e, shape=shape: {
                "generation": e.template.task.labels is None and e.template.task.choices is None,
                "classification": e.template.task.labels is not None,
                "multiple_choice": e.template.task.choices is not None,
            }[shape]
        )
        for shape in TASK_SHAPES
    },
    "options placeholder": lambda e: "{options}" in e.template.instruction,
    "options block not last": lambda e: (
        "{options}" in e.template.instruction
        and not e.template.instruction.rstrip().endswith("{options}")
    ),
    "several option styles": lambda e: isinstance(e.template.options_style, tuple),
    "string label values": lambda e: any(
        isinstance(value, str) for value, _ in e.template.task.labels or ()
    ),
    "choice answer given as text": lambda e: (
        e.template.task.choices is not None and isinstance(e.row[e.template.task.target], str)
    ),
    "choice answer given as index": lambda e: (
        e.template.task.choices is not None and isinstance(e.row[e.template.task.target], int)
    ),
    "several alternatives": lambda e: any(
        kind == "alternatives" and isinstance(e.row[name], list) and len(e.row[name]) > 1
        for name, kind in e.template.task.fields.items()
    ),
    "float number": lambda e: any(isinstance(v, float) for v in e.row.values()),
    "system pattern": lambda e: e.template.system is not None,
    "escaped braces": lambda e: "{{" in e.template.instruction,
    "whitespace-only text value": lambda e: any(
        isinstance(v, str) and v and v.isspace() for v in e.row.values()
    ),
    "integer example id": lambda e: isinstance(e.row.get("id"), int),
    "text example id": lambda e: isinstance(e.row.get("id"), str),
}


@pytest.mark.parametrize("case", TEMPLATE_CASES)
def test_every_template_edge_case_is_reached(case: str) -> None:
    found = find_any(task_rows(), TEMPLATE_CASES[case])
    render(found.template, found.row)


def test_shrinking_targets() -> None:
    # One search covers all three promises: a task row's template is drawn by templates(),
    # whose task is drawn by tasks().
    example = minimal(task_rows())
    assert example.template.task == Task(
        name="_", fields={"a": "text", "a_1": "text"}, target="a_1"
    )
    template = example.template
    assert (template.id, template.instruction, template.response) == ("0", "0{a}", "0{a_1}")
    assert template.system is None
    assert template.options_style is None
    assert example.row == {"a": "", "a_1": ""}


@pytest.mark.parametrize(
    "strategy",
    [
        tasks(max_fields=0),
        tasks(shapes=st.just("ranking")),
        tasks(shapes="generation"),  # type: ignore[arg-type]
        templates(tasks=Task(name="t", fields={"a": "text"}, target="a")),  # type: ignore[arg-type]
        templates(text="x"),  # type: ignore[arg-type]
        task_rows(templates=[]),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_raise_invalid_argument(strategy: st.SearchStrategy[Any]) -> None:
    @settings(max_examples=1, database=None, phases=[Phase.generate])
    @given(strategy)
    def run(_: object) -> None:
        pass

    with pytest.raises(InvalidArgument):
        run()
