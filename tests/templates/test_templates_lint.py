"""lint_templates(): pinned findings on hand-written bad templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from template_fixtures import COT, MC, NLI

from instructkit import Task, Template
from instructkit._templates._lint import LINT_CODES
from instructkit.templates import LintFinding, lint_templates

SUM = Task(name="summary", fields={"article": "text", "summary": "text"}, target="summary")

GOOD = Template(
    id="nli-ok",
    task=NLI,
    instruction="{premise}\nCan we conclude that {hypothesis}?\n{options}",
    response="{label}",
)


def nli(instruction: str, response: str = "{label}", **kwargs: Any) -> Template:
    return Template(
        id=kwargs.pop("id", "nli-x"),
        task=NLI,
        instruction=instruction,
        response=response,
        **kwargs,
    )


def found(*templates: Any, **kwargs: Any) -> list[tuple[str, str, str | None, int | None]]:
    return [
        (f.template_id, f.code, f.part, f.position)
        for f in lint_templates(list(templates), **kwargs)
    ]


def test_a_clean_template_has_no_findings() -> None:
    assert lint_templates([GOOD]) == []


def test_the_flan_stray_n_typo() -> None:
    # The Flan 2021 bug: "\n" written as "n" right after a placeholder.
    typo = nli("{premise}\nCan we conclude that {hypothesis}?n{options}")
    findings = lint_templates([typo])
    assert [(f.code, f.part, f.position) for f in findings] == [("glued-text", "instruction", 44)]
    assert "a stray 'n' right before {options}" in findings[0].message
    typo = nli("{premise}\nCan we conclude that {hypothesis}n\n{options}")
    findings = lint_templates([typo])
    assert [(f.code, f.part, f.position) for f in findings] == [("glued-text", "instruction", 43)]
    assert "a stray 'n' right after {hypothesis}" in findings[0].message
    assert "newline ('\\n') was probably meant" in findings[0].message
    assert str(findings[0]).startswith("nli-x instruction[43]: glued-text: ")


def test_stray_n_between_two_placeholders_is_reported_once() -> None:
    typo = nli("Premise: {premise}nHypothesis: {hypothesis}\n{options}")
    assert found(typo) == [("nli-x", "glued-text", "instruction", 18)]
    typo = nli("{premise}\n{hypothesis}n{options}")
    assert found(typo) == [("nli-x", "glued-text", "instruction", 22)]


def test_stray_n_before_a_placeholder() -> None:
    typo = nli("{premise}\nHypothesis:n{hypothesis}\n{options}")
    findings = lint_templates([typo])
    assert [(f.code, f.position) for f in findings] == [("glued-text", 21)]
    assert "a stray 'n' right before {hypothesis}" in findings[0].message


def test_glued_words_and_touching_placeholders() -> None:
    glued = nli("{premise}Does it follow that{hypothesis}?\n{options}")
    findings = lint_templates([glued])
    assert [(f.code, f.position) for f in findings] == [("glued-text", 9), ("glued-text", 27)]
    assert "'Does' is glued to {premise}" in findings[0].message
    touching = nli("Is it so? {premise}{hypothesis}\n{options}")
    assert [(f.code, f.position, f.message) for f in lint_templates([touching])] == [
        (
            "glued-text",
            19,
            "{premise} and {hypothesis} touch: a space or newline was probably meant",
        )
    ]


def test_boundary_whitespace_and_double_spaces() -> None:
    sloppy = nli(
        " {premise}\nDoes it  follow that {hypothesis}?\n{options}\n",
        response=" {label}",
    )
    assert found(sloppy) == [
        ("nli-x", "boundary-whitespace", "instruction", 0),
        ("nli-x", "boundary-whitespace", "instruction", 55),
        ("nli-x", "double-space", "instruction", 18),
        ("nli-x", "boundary-whitespace", "response", 0),
    ]


def test_duplicates_within_a_set() -> None:
    same_text = GOOD.model_copy(update={"id": "nli-copy"})
    same_id = nli("{premise} -> {hypothesis}?\n{options}", id="nli-ok")
    assert found(GOOD, same_text, same_id) == [
        ("nli-copy", "duplicate-template", None, None),
        ("nli-ok", "duplicate-id", None, None),
    ]


def test_options_block_and_label_space_must_agree() -> None:
    no_labels = Template(
        id="sum-1",
        task=SUM,
        instruction="Summarize:\n{article}\n{options}",
        response="{summary}",
    )
    assert found(no_labels) == [("sum-1", "options-without-labels", "instruction", 21)]
    no_options = nli("{premise}\nDoes it follow that {hypothesis}?")
    assert found(no_options) == [("nli-x", "labels-without-options", "instruction", None)]


def test_unused_required_field_and_target_placement() -> None:
    unused = nli("Is '{premise}' true?\n{options}")
    assert found(unused) == [("nli-x", "unused-field", None, None)]
    assert "{hypothesis}" in lint_templates([unused])[0].message
    no_target = nli("Echo: {premise} {hypothesis}", response="{premise}")
    assert found(no_target) == [
        ("nli-x", "unused-field", None, None),
        ("nli-x", "target-not-in-response", "response", None),
    ]
    fake_inverted = nli("Is {premise} {hypothesis}\n{options}", inverted=True)
    assert found(fake_inverted) == [("nli-x", "inverted-answers-target", "response", None)]
    inverted = nli(
        "{premise}\nWrite a hypothesis for the answer {label}.",
        response="{hypothesis}",
        inverted=True,
    )
    assert found(inverted) == []


def test_chain_of_thought_must_reason_before_answering() -> None:
    backwards = Template(
        id="cot-1",
        task=COT,
        instruction="{question} Explain.",
        response="{answer}, because {rationale}",
    )
    assert found(backwards) == [("cot-1", "rationale-after-answer", "response", None)]
    forwards = backwards.model_copy(update={"response": "{rationale} So: {answer}"})
    assert lint_templates([Template.model_validate(forwards.to_dict())]) == []


def test_empty_renders() -> None:
    blank = Template(id="sum-2", task=SUM, instruction="  ", response="{summary}")
    codes = [f.code for f in lint_templates([blank])]
    assert "empty-render" in codes
    assert "unused-field" in codes
    bare = Template(id="sum-3", task=SUM, instruction="{article}", response="{summary}")
    assert found(bare) == [("sum-3", "empty-render", "instruction", 0)]
    options_only = nli("{options}\n{premise}{hypothesis}")
    assert ("nli-x", "empty-render", "instruction", 0) in found(options_only)


def test_sample_rows_are_rendered_and_failures_reported() -> None:
    rows = [
        {"premise": "A.", "hypothesis": "B", "label": 0},
        {"premise": "A.", "hypothesis": "B", "label": -1},
        {"premise": " ", "hypothesis": "B", "label": 1},
    ]
    empty_when_blank = Template(id="sum-4", task=SUM, instruction="{article}", response="{summary}")
    findings = lint_templates([GOOD, empty_when_blank], rows={"nli": rows})
    assert [(f.template_id, f.code) for f in findings] == [
        ("nli-ok", "render-error"),
        ("sum-4", "empty-render"),  # static: no text of its own; no rows of its task given
    ]
    assert "sample row 1 (with options)" in findings[0].message
    assert "unlabeled row" in findings[0].message
    finding = lint_templates(
        [Template(id="sum-5", task=SUM, instruction="Sum up: {article}", response="{summary}")],
        rows=[{"article": "text", "summary": "  "}],
    )
    assert [(f.code, "non-blank response" in f.message) for f in finding] == [
        ("empty-render", True)
    ]


def test_raw_templates_report_build_problems_with_positions() -> None:
    raw = GOOD.to_dict()
    broken = {**raw, "id": "raw-1", "instruction": "{premise}\n{hypothesis.upper}\n{options}"}
    unknown = {**raw, "id": "raw-2", "instruction": "{premise} {hypotesis} {lable}\n{options}"}
    bad_task = {**raw, "id": "raw-3", "task": {"name": "t", "fields": {}, "target": "x"}}
    no_id = {"instruction": "{"}
    findings = lint_templates([broken, unknown, bad_task, no_id, GOOD])
    assert [(f.template_id, f.code, f.part, f.position) for f in findings] == [
        ("raw-1", "syntax", "instruction", 10),
        ("raw-2", "unknown-field", "instruction", 10),
        ("raw-2", "unknown-field", "instruction", 22),
        ("raw-3", "invalid", None, None),
        ("#3", "invalid", None, None),
        ("#3", "syntax", "instruction", 0),
    ]
    assert "attribute access" in findings[0].message
    assert "(premise, hypothesis, label, options)" in findings[1].message


MC_ROWS = [{"question": "Sky?", "choices": ["green", "blue"], "answer": 1}]


def test_marker_only_templates_are_reported_and_rendered_with_options_only() -> None:
    letters = Template(
        id="mc-1",
        task=MC,
        instruction="{question}\nAnswer with the letter.\n{options}",
        response="{answer}",
        options_style="letters-answer",
    )
    findings = lint_templates([letters], rows={"mc": MC_ROWS})
    assert [(f.template_id, f.code, f.part, f.position) for f in findings] == [
        ("mc-1", "marker-answer-only", "instruction", 35)
    ]
    assert "letters-answer" in findings[0].message
    assert "no without-options variant" in findings[0].message
    # Either style may be drawn, and one answers with the text: both variants exist.
    either = letters.model_copy(update={"options_style": ("letters-answer", "letters")})
    assert lint_templates([either], rows={"mc": MC_ROWS}) == []
    hidden = letters.model_copy(update={"instruction": "{question}\nAnswer with the letter."})
    codes = {f.code: f.message for f in lint_templates([hidden])}
    assert "no options are ever shown" in codes["marker-answer-only"]


def test_every_code_is_documented() -> None:
    codes = set()
    bad = [
        nli("{premise}n{hypothesis}  x {options} "),
        nli("Say {premise} {hypothesis}", response="{premise}"),
        Template(id="s", task=SUM, instruction="{article}\n{options}", response="{summary}"),
    ]
    for finding in lint_templates(bad):
        assert isinstance(finding, LintFinding)
        codes.add(finding.code)
    assert codes <= set(LINT_CODES)
    assert len(codes) >= 6


def test_the_docs_list_every_code() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "templates.md").read_text(
        encoding="utf-8"
    )
    for code, meaning in LINT_CODES.items():
        assert f"| `{code}` |" in page, code
        assert meaning.replace("{options}", "`{options}`").replace("'}n'", "`}n`") in page, code
