"""Tasks, templates and rows that several template tests share, each defined once here.

Imported by the test modules of this folder (``from template_fixtures import NLI``): pytest
puts the folder of a test module on ``sys.path`` before importing it.
"""

from __future__ import annotations

from typing import Any

from instructkit import Task, Template
from instructkit.templates import builtin_templates

NLI_LABELS = {0: "yes", 1: "maybe", 2: "no"}
FLAN_NLI_LABELS = {0: "yes", 1: "it is not possible to tell", 2: "no"}
"""The labels FLAN's NLI templates answer with."""


def nli_task(*, labels: dict[int, str] = NLI_LABELS, cluster: str | None = None) -> Task:
    """A three-way NLI task (premise, hypothesis, label)."""
    return Task(
        name="nli",
        cluster=cluster,
        fields={"premise": "text", "hypothesis": "text", "label": "label"},
        target="label",
        labels=labels,
    )


NLI = nli_task()
MC = Task(
    name="mc",
    fields={"question": "text", "choices": "choices", "answer": "label"},
    target="answer",
    choices="choices",
)
COT = Task(
    name="cot",
    fields={"question": "text", "rationale": "text", "answer": "text"},
    target="answer",
    rationale="rationale",
)


def nli_templates(*, system_at: int | None = None) -> list[Template]:
    """Four templates of :data:`NLI`, ``nli-0`` to ``nli-3``, all showing the options.

    Args:
        system_at: The index of the one template with a system prompt, if any.
    """
    return [
        Template(
            id=f"nli-{i}",
            task=NLI,
            instruction=f"Premise: {{premise}}\nHypothesis {i}: {{hypothesis}}\n{{options}}",
            response="{label}",
            system="Answer briefly." if i == system_at else None,
        )
        for i in range(4)
    ]


INVERTED = Template(
    id="nli-inv",
    task=NLI,
    instruction="Premise: {premise}\nWrite a hypothesis whose answer is '{label}'.",
    response="{hypothesis}",
    inverted=True,
)


def nli_rows(n: int, *, start: int = 0) -> list[dict[str, Any]]:
    """``n`` rows of :data:`NLI` with ids ``e{start}`` on, every label in turn."""
    return [
        {
            "id": f"e{i}",
            "premise": f"Premise number {i}.",
            "hypothesis": f"Hypothesis {i % 7}",
            "label": i % 3,
        }
        for i in range(start, start + n)
    ]


BUILTIN_NLI = builtin_templates("nli")
"""The built-in NLI templates."""
BUILTIN_NLI_EXTRA = [
    # Parts made of field values only (blank when the values are), a system prompt, a marker
    # answer, a template that leaves the label out: what the built-in ones do not show.
    Template(
        id="x-bare", task=BUILTIN_NLI[0].task, instruction="{premise}", response="{hypothesis}"
    ),
    Template(
        id="x-sys",
        task=BUILTIN_NLI[0].task,
        system="{hypothesis}",
        instruction="{options}\n{premise}",
        response="{label}",
        options_style=("letters-answer", "flan"),
    ),
    Template(
        id="x-nolabel",
        task=BUILTIN_NLI[0].task,
        instruction="Say: {premise} {options}",
        response="ok",
    ),
]
"""Templates of the built-in NLI task in shapes the built-in templates lack."""
