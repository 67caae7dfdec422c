"""Tasks, templates (parsing, validation, JSON files), answer options and render()."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from template_fixtures import COT, FLAN_NLI_LABELS, MC, nli_task

from instructkit import (
    ConfigurationError,
    DataError,
    Instruction,
    MalformedJSONError,
    RecordValidationError,
    Task,
    Template,
    TemplateError,
    convert,
    render,
)
from instructkit._templates._options import BUILTIN_OPTION_STYLES, render_options
from instructkit._templates._pattern import PatternProblem, parse_pattern
from instructkit.templates import OptionStyle, load_templates, save_templates

NLI = nli_task(labels=FLAN_NLI_LABELS, cluster="natural language inference")
QA = Task(
    name="qa",
    fields={"context": "text", "question": "text", "answers": "alternatives"},
    target="answers",
)


def nli_template(**kwargs: Any) -> Template:
    base: dict[str, Any] = {
        "id": "nli-1",
        "task": NLI,
        "instruction": "{premise}\nDoes it follow that {hypothesis}?\n\n{options}",
        "response": "{label}",
    }
    base.update(kwargs)
    return Template(**base)


ROW = {"id": "r1", "premise": "A dog runs.", "hypothesis": "An animal moves", "label": 0}


# --- Task -----------------------------------------------------------------------------------


def test_task_label_mapping_becomes_ordered_pairs_and_keeps_int_values() -> None:
    assert NLI.labels == ((0, "yes"), (1, "it is not possible to tell"), (2, "no"))
    again = Task.model_validate_json(json.dumps(NLI.to_dict()))
    assert again == NLI
    assert again.label_values() == [0, 1, 2]
    assert NLI.label_text(1) == "it is not possible to tell"


def test_task_string_labels() -> None:
    task = Task(
        name="s",
        fields={"t": "text", "y": "label"},
        target="y",
        labels={"pos": "positive", "neg": "negative"},
    )
    assert task.label_text("neg") == "negative"
    template = Template(id="s", task=task, instruction="{t}\n{options}", response="{y}")
    record = render(template, {"t": "Fine.", "y": "neg"}, shuffle_options=True, seed=4)
    assert record.response == "negative"
    options = record.meta["provenance"]["options"]  # type: ignore[index,call-overload]
    # Positions into the label space, never the label values: a column of one type.
    assert sorted(options["order"]) == [0, 1]
    with pytest.raises(TemplateError, match=r"expected a label among \['pos', 'neg'\], got 0"):
        task.label_text(0)


@pytest.mark.parametrize(
    ("kwargs", "message", "loc"),
    [
        ({"labels": {0: "yes", 1: "yes"}}, "distinct answer texts, got 'yes' twice", "labels"),
        ({"labels": {0: "yes"}}, "at least 2 labels, got 1", "labels"),
        ({"labels": [[0, "a"], [0, "b"]]}, "distinct label values, got 0 twice", "labels"),
        ({"target": "nope"}, "target to name one of the fields", "target"),
        ({"labels": None}, "labels= or choices= for the 'label' field", "labels"),
        ({"fields": {"options": "text", "label": "label"}}, "reserved", "fields"),
        ({"fields": {"bad name": "text", "label": "label"}}, "identifiers", "fields"),
        ({"optional": ("zzz",)}, "optional fields among", "optional"),
        ({"choices": "premise", "labels": None}, "kind 'choices'", "choices"),
    ],
)
def test_task_rules_raise_template_errors(kwargs: dict[str, Any], message: str, loc: str) -> None:
    base: dict[str, Any] = {
        "name": "t",
        "fields": {"premise": "text", "label": "label"},
        "target": "label",
        "labels": {0: "yes", 1: "no"},
    }
    base.update(kwargs)
    with pytest.raises(TemplateError, match=re.escape(message)) as info:
        Task(**base)
    assert info.value.loc is not None
    assert info.value.loc.startswith(f"$.{loc}")


def test_task_classification_target_must_be_label_kind() -> None:
    with pytest.raises(TemplateError, match="kind 'label'"):
        Task(name="t", fields={"x": "text"}, target="x", labels={0: "a", 1: "b"})


def test_task_type_errors_are_record_validation_errors() -> None:
    with pytest.raises(RecordValidationError, match=r"fields"):
        Task(name="t", fields={"x": "blob"}, target="x")  # type: ignore[dict-item]
    with pytest.raises(RecordValidationError):
        Task(
            name="t", fields={"x": "text", "y": "label"}, target="y", labels=[[1.5, "a"], [1, "b"]]
        )


@pytest.mark.parametrize(
    ("labels", "loc"),
    [
        ({True: "yes", False: "no"}, "$.labels[0][0]"),
        ([[1, "yes"], [False, "no"]], "$.labels[1][0]"),
    ],
)
def test_bool_labels_are_refused_with_what_to_do(labels: Any, loc: str) -> None:
    with pytest.raises(RecordValidationError) as info:
        Task(name="t", fields={"x": "text", "y": "label"}, target="y", labels=labels)
    assert info.value.loc == loc
    assert "got the bool" in info.value.reason
    assert "{1: 'yes', 0: 'no'}" in info.value.reason
    assert "int(value)" in info.value.reason
    data = Task(name="t", fields={"x": "text", "y": "label"}, target="y", labels={1: "a", 0: "b"})
    stored = {**data.to_dict(), "labels": [[True, "a"], [False, "b"]]}
    with pytest.raises(RecordValidationError, match="int\\(value\\)"):
        Task.model_validate_json(json.dumps(stored))


BOOL_TASK = Task(
    name="boolq",
    fields={"passage": "text", "question": "text", "label": "label"},
    target="label",
    labels={1: "yes", 0: "no"},
)


@given(answer=st.booleans(), options=st.booleans(), seed=st.integers(min_value=0, max_value=99))
def test_bool_row_labels_never_pass_for_one_and_zero(
    answer: bool, options: bool, seed: int
) -> None:
    template = Template(
        id="b", task=BOOL_TASK, instruction="{passage}\n{question}?\n{options}", response="{label}"
    )
    row = {"passage": "Penguins cannot fly.", "question": "can penguins fly", "label": answer}
    with pytest.raises(TemplateError) as info:
        render(template, row, seed=seed, options=options)
    assert info.value.loc == "$.label"
    assert f"expected a label among [1, 0], got {answer!r}; booleans are not label values" in str(
        info.value
    )
    assert "int(value)" in str(info.value)
    assert render(template, {**row, "label": int(answer)}, options=options).response == (
        "yes" if answer else "no"
    )
    with pytest.raises(TemplateError, match="int\\(value\\)"):
        BOOL_TASK.label_text(answer)


def test_bool_answer_of_a_multiple_choice_row_says_what_to_do() -> None:
    template = Template(id="mc", task=MC, instruction="{question}\n{options}", response="{answer}")
    row = {"question": "Sky?", "choices": ["green", "blue"], "answer": True}
    with pytest.raises(TemplateError, match=r"one of the choices.*got True; booleans are not"):
        render(template, row)


def test_task_rationale_is_optional_for_templates() -> None:
    assert COT.required == ("question", "answer")


# --- Template parsing -----------------------------------------------------------------------

HOSTILE = [
    ("{x.__class__}", "attribute access", 0),
    ("a {x[0]}", "indexing", 2),
    ("{x:>10}", "format spec", 0),
    ("{x!r}", "conversion", 0),
    ("{x!s}", "conversion", 0),
    ("{0}", "positional", 0),
    ("{}", "empty placeholder", 0),
    ("text {", "expected '}' to close", 5),
    ("text }", "single '}'", 5),
    ("{premise", "expected '}' to close", 0),
    ("{{premise}", "single '}'", 9),
    ("{pre{mise}", "expected '}' to close", 0),
    ("{ premise }", "letters, digits and '_'", 0),
    ("{x.__class__.__init__.__globals__}", "attribute access", 0),
]


@pytest.mark.parametrize(("text", "what", "position"), HOSTILE)
def test_hostile_placeholders_are_rejected_when_built(text: str, what: str, position: int) -> None:
    with pytest.raises(TemplateError) as info:
        nli_template(id="evil", instruction=text)
    message = str(info.value)
    assert "template 'evil'" in message
    assert f"instruction position {position}:" in message
    assert what in message
    assert info.value.loc == "$.instruction"


def test_hostile_text_in_response_and_system_names_the_part() -> None:
    with pytest.raises(TemplateError, match=r"response position 0: .*conversion"):
        nli_template(response="{label!r}")
    with pytest.raises(TemplateError, match=r"system position 3: .*format spec") as info:
        nli_template(system="Hi {label:x}")
    assert info.value.loc == "$.system"


def test_unknown_placeholder_lists_valid_names() -> None:
    with pytest.raises(TemplateError) as info:
        nli_template(instruction="{premise} {hypotesis}")
    assert "expected a field of task 'nli' (premise, hypothesis, label, options)" in str(info.value)
    assert "got {hypotesis}" in str(info.value)


def test_choices_field_cannot_be_a_placeholder() -> None:
    with pytest.raises(TemplateError, match=r"expected \{options\} to show the answer choices"):
        Template(id="m", task=MC, instruction="{question} {choices}", response="{answer}")


_SPECIAL = st.sampled_from(["{", "}", ".", "[", "]", "!", ":", "0", " ", "x", "__class__"])


@given(
    prefix=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="{}"), max_size=10),
    inner=st.lists(_SPECIAL, min_size=1, max_size=6).map("".join),
)
def test_hypothesis_hostile_placeholders_raise_template_errors(prefix: str, inner: str) -> None:
    text = prefix + "{" + inner + "}"
    try:
        template: Template | None = nli_template(instruction=text)
        message = ""
    except TemplateError as err:
        template, message = None, str(err)
    if template is None:
        assert "template 'nli-1', instruction position" in message
    else:
        # Only a plain known field name, or an escape, may get through.
        assert set(template.fields_used) <= {"premise", "hypothesis", "label", "options"}


@given(st.text(max_size=40))
def test_any_text_either_builds_or_raises_template_error(text: str) -> None:
    try:
        template = nli_template(instruction=text)
    except TemplateError:
        return
    pattern = template.pattern("instruction")
    assert pattern is not None
    assert pattern.raw == text


# A grammar for valid patterns: literal text (with escaped braces) and known placeholders.
_LITERAL = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="{}"), max_size=8)
_PIECE = st.one_of(
    _LITERAL.map(lambda s: ("lit", s)),
    st.sampled_from(["{{", "}}"]).map(lambda s: ("esc", s)),
    st.sampled_from(["premise", "hypothesis"]).map(lambda s: ("field", s)),
)


@given(
    pieces=st.lists(_PIECE, max_size=8),
    premise=st.text(min_size=1, max_size=10),
    hypothesis=st.text(min_size=1, max_size=10),
)
def test_rendering_leaves_no_placeholder_or_brace_not_in_the_data(
    pieces: list[tuple[str, str]], premise: str, hypothesis: str
) -> None:
    raw = "Q " + "".join(text if kind != "field" else "{" + text + "}" for kind, text in pieces)
    template = nli_template(instruction=raw)
    values = {"premise": premise, "hypothesis": hypothesis}
    expected = "Q " + "".join(
        text if kind == "lit" else text[0] if kind == "esc" else values[text]
        for kind, text in pieces
    )
    record = render(template, {**ROW, **values})
    assert record.instruction == expected
    braces_from_data = sum(
        values[text].count("{") + values[text].count("}")
        for kind, text in pieces
        if kind == "field"
    )
    escaped = sum(1 for kind, _ in pieces if kind == "esc")
    assert record.instruction.count("{") + record.instruction.count("}") == (
        braces_from_data + escaped
    )


def test_parse_once_pieces_and_escapes() -> None:
    pattern = parse_pattern("a {{b}} {c}!")
    assert [
        p if isinstance(p, str) else ("slot", p.name, p.start, p.end) for p in pattern.pieces
    ] == [
        "a {b} ",
        ("slot", "c", 8, 11),
        "!",
    ]
    with pytest.raises(PatternProblem) as info:
        parse_pattern("ok {a.b}")
    assert info.value.position == 3


def test_without_options_variant_drops_slot_and_lead_in_whitespace() -> None:
    cases = {
        "{premise}\n\n{options}": "{premise}",
        "{premise}\n{options}\nAnswer:": "{premise}\nAnswer:",
        "{options}\n\n{premise}": "{premise}",
        "Pick one. {options} Then say why: {premise}": "Pick one. Then say why: {premise}",
    }
    for raw, plain in cases.items():
        template = nli_template(instruction=raw)
        pattern = template.pattern("instruction")
        assert pattern is not None
        rebuilt = "".join(p if isinstance(p, str) else "{" + p.name + "}" for p in pattern.plain)
        assert rebuilt == plain, raw


def test_content_hash_follows_the_text_not_the_id_or_tags() -> None:
    base = nli_template()
    assert nli_template(id="other", tags=("x",), language="en-GB").content_hash == base.content_hash
    assert nli_template(instruction="{premise} {hypothesis} {options}").content_hash != (
        base.content_hash
    )
    assert nli_template(inverted=True).content_hash != base.content_hash
    assert nli_template(options_style="letters").content_hash != base.content_hash
    relabelled = NLI.model_copy(update={"labels": ((0, "true"), (1, "maybe"), (2, "false"))})
    assert nli_template(task=relabelled).content_hash != base.content_hash


def test_templates_are_immutable_and_hashable() -> None:
    template = nli_template()
    with pytest.raises(Exception, match="frozen"):
        template.instruction = "x"  # type: ignore[misc]
    assert len({template, nli_template()}) == 1


def test_unknown_option_style_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="option style name among") as info:
        nli_template(options_style=("flan", "fancy"))
    assert info.value.loc == "$.options_style[1]"


# --- JSON files -----------------------------------------------------------------------------


def test_template_save_and_load_round_trip(tmp_path: Path) -> None:
    template = nli_template(system="Be brief.", tags=("nli",), options_style=("flan", "letters"))
    path = tmp_path / "t.json"
    template.save(path)
    loaded = Template.load(path)
    assert loaded == template
    assert loaded.content_hash == template.content_hash
    assert loaded.task.labels == NLI.labels


def test_template_set_file_stores_each_task_once(tmp_path: Path) -> None:
    templates = [
        nli_template(),
        nli_template(id="nli-2", instruction="{hypothesis}? {premise}\n{options}"),
        Template(id="mc-1", task=MC, instruction="{question}\n{options}", response="{answer}"),
    ]
    path = tmp_path / "set.json"
    save_templates(path, templates)
    document = json.loads(path.read_text())
    assert [t["name"] for t in document["tasks"]] == ["nli", "mc"]
    assert document["templates"][0]["task"] == "nli"
    assert load_templates(path) == templates
    (tmp_path / "list.json").write_text(json.dumps([t.to_dict() for t in templates]))
    assert load_templates(tmp_path / "list.json") == templates
    assert load_templates(tmp_path / "list.json")[1].id == "nli-2"


def test_save_templates_rejects_conflicting_definitions(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="distinct template ids"):
        save_templates(tmp_path / "x.json", [nli_template(), nli_template()])
    other = NLI.model_copy(update={"cluster": "other"})
    with pytest.raises(ConfigurationError, match="one definition per task name"):
        save_templates(tmp_path / "x.json", [nli_template(), nli_template(id="b", task=other)])


def test_loading_bad_files_reports_file_and_location(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"id": ')
    with pytest.raises(MalformedJSONError) as info:
        Template.load(bad_json)
    assert info.value.file == str(bad_json)
    bad = tmp_path / "bad_template.json"
    save_templates(bad, [nli_template()])
    document = json.loads(bad.read_text())
    document["templates"][0]["instruction"] = "{premise.__class__}"
    bad.write_text(json.dumps(document))
    with pytest.raises(TemplateError) as err:
        load_templates(bad)
    assert err.value.file == str(bad)
    assert err.value.loc == "$.templates[0].instruction"
    document["templates"][0]["task"] = "unknown"
    bad.write_text(json.dumps(document))
    with pytest.raises(TemplateError, match=r"\(known: 'nli'\), got unknown task 'unknown'"):
        load_templates(bad)


SET = [
    nli_template(),
    nli_template(id="nli-2", instruction="{hypothesis}? {premise}\n{options}", inverted=False),
    Template(id="mc-1", task=MC, instruction="{question}\n{options}", response="{answer}"),
    Template(id="qa-1", task=QA, instruction="{context}\n{question}", response="{answers}"),
]
TASKS = {task.name: task for task in (NLI, MC, QA, COT)}


@given(
    chosen=st.lists(st.sampled_from(SET), unique_by=lambda t: t.id, max_size=len(SET)),
    embed=st.booleans(),
)
def test_template_sets_round_trip_with_or_without_their_tasks(
    tmp_path_factory: pytest.TempPathFactory, chosen: list[Template], embed: bool
) -> None:
    path = tmp_path_factory.mktemp("sets") / "set.json"
    save_templates(path, chosen, embed_tasks=embed)
    document = json.loads(path.read_text())
    assert ("tasks" in document) is embed
    assert [row["task"] for row in document["templates"]] == [t.task.name for t in chosen]
    assert load_templates(path, tasks=TASKS) == chosen
    if embed:
        assert load_templates(path) == chosen


def test_a_set_referring_to_an_unknown_task_names_it_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "refs.json"
    save_templates(path, SET[:3], embed_tasks=False)
    with pytest.raises(TemplateError) as info:
        load_templates(path, tasks={"nli": NLI})
    assert info.value.file == str(path)
    assert info.value.loc == "$.templates[2].task"
    assert "got unknown task 'mc'" in str(info.value)
    assert str(path) in str(info.value)
    assert "tasks=" in str(info.value)
    with pytest.raises(TemplateError, match=r"\(known: none\), got unknown task 'nli'"):
        load_templates(path)


def test_task_names_resolve_in_template_lists_too(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    rows = [{**t.to_dict(), "task": t.task.name} for t in SET[:2]]
    path.write_text(json.dumps(rows))
    assert load_templates(path, tasks={"nli": NLI}) == SET[:2]
    with pytest.raises(TemplateError, match="unknown task 'nli'") as info:
        load_templates(path)
    assert info.value.loc == "$[0].task"
    single = tmp_path / "one.json"
    single.write_text(json.dumps(rows[0]))
    assert load_templates(single, tasks={"nli": NLI}) == SET[:1]


def test_a_stored_task_must_equal_the_given_one(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    save_templates(path, SET[:2])
    assert load_templates(path, tasks={"nli": NLI}) == SET[:2]
    drifted = NLI.model_copy(update={"labels": {0: "yes", 1: "maybe", 2: "no"}})
    with pytest.raises(TemplateError, match="equal the one given in tasks=") as info:
        load_templates(path, tasks={"nli": drifted})
    assert info.value.loc == "$.tasks[0]"
    assert info.value.file == str(path)


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([NLI], "expected tasks to map task names to Task objects, got list"),
        ({"nli": "nli"}, "got str for 'nli'"),
        ({"snli": NLI}, "got task 'nli' under 'snli'"),
    ],
)
def test_load_templates_checks_its_tasks_argument(tmp_path: Path, tasks: Any, message: str) -> None:
    path = tmp_path / "set.json"
    save_templates(path, SET[:1])
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        load_templates(path, tasks=tasks)


def test_nested_task_errors_keep_their_class_and_location() -> None:
    data = nli_template().to_dict()
    data["task"]["labels"] = [[0, "a"], [1, "a"]]
    with pytest.raises(TemplateError) as info:
        Template.model_validate(data)
    assert info.value.loc == "$.task.labels[1][1]"
    data = nli_template().to_dict()
    data["instruction"] = 7
    with pytest.raises(RecordValidationError) as type_error:
        Template.model_validate(data)
    assert type_error.value.loc == "$.instruction"


# --- Options --------------------------------------------------------------------------------


def test_builtin_styles_render_as_documented() -> None:
    texts = ["yes", "no"]
    blocks = {
        name: render_options(style, texts, answer=1).block
        for name, style in BUILTIN_OPTION_STYLES.items()
    }
    assert blocks["flan"] == "OPTIONS:\n- yes\n- no"
    assert blocks["dash"] == "- yes\n- no"
    assert blocks["letters"] == "(A) yes\n(B) no"
    assert blocks["numbers"] == "1. yes\n2. no"
    assert blocks["inline"] == "Options: yes, no"
    assert blocks["letters-inline"] == "(A) yes (B) no"
    assert render_options(BUILTIN_OPTION_STYLES["letters-answer"], texts, answer=1).answer == "B"
    assert render_options(BUILTIN_OPTION_STYLES["numbers-answer"], texts, answer=0).answer == "1"


def test_marker_target_needs_letter_or_number_markers() -> None:
    with pytest.raises(TemplateError, match="letter or number marker"):
        OptionStyle(name="bad", marker="dash", target="marker")


def test_letters_run_out_after_26_options() -> None:
    task = Task(
        name="many",
        fields={"q": "text", "c": "choices", "a": "label"},
        target="a",
        choices="c",
    )
    template = Template(
        id="m", task=task, instruction="{q}\n{options}", response="{a}", options_style="letters"
    )
    row = {"q": "?", "c": [f"c{i}" for i in range(27)], "a": 0}
    with pytest.raises(TemplateError, match="at most 26 options"):
        render(template, row)
    assert render(template, {**row, "c": row["c"][:26]}).response == "c0"


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1)


def split_inline(block: str, header: str = "Options: ") -> list[str]:
    """How a reader takes an inline list apart: JSON strings when quoted, else at ", "."""
    assert block.startswith(header)
    body = block[len(header) :]
    if body.startswith('"'):
        items = json.loads(f"[{body}]")
        assert isinstance(items, list)
        return items
    return body.split(", ")


# Commas, quotes and backslashes are the interesting characters; the rest is any text.
_OPTION = st.text(
    alphabet=st.one_of(
        st.sampled_from(',"\\ 0'), st.characters(codec="utf-8", exclude_categories=["Cs"])
    ),
    min_size=1,
).filter(str.strip)


@given(texts=st.lists(_OPTION, min_size=2, max_size=6, unique=True))
def test_inline_options_split_back_into_the_options(texts: list[str]) -> None:
    style = BUILTIN_OPTION_STYLES["inline"]
    block = render_options(style, texts, answer=0).block
    assert split_inline(block) == texts
    if not any("," in text or '"' in text for text in texts):
        # Lists that were never ambiguous render as they always did.
        assert block == "Options: " + ", ".join(texts)


def test_inline_options_with_commas_are_quoted() -> None:
    style = BUILTIN_OPTION_STYLES["inline"]
    assert render_options(style, ["10,000", "20,000", "none"], answer=1).block == (
        'Options: "10,000", "20,000", "none"'
    )
    assert render_options(style, ['say "hi"', "no"], answer=None).block == (
        'Options: "say \\"hi\\"", "no"'
    )
    custom = OptionStyle(name="slashes", marker="none", layout="inline", joiner=" / ")
    assert render_options(custom, ["and/or", "or"], answer=None).block == '"and/or" / "or"'
    assert render_options(custom, ["a, b", "c"], answer=None).block == "a, b / c"
    task = Task(
        name="count",
        fields={"q": "text", "n": "label"},
        target="n",
        labels={0: "10,000", 1: "20,000"},
    )
    template = Template(
        id="c", task=task, instruction="{q}\n{options}", response="{n}", options_style="inline"
    )
    record = render(template, {"q": "How many?", "n": 1})
    assert record.instruction == 'How many?\nOptions: "10,000", "20,000"'
    assert record.response == "20,000"


MARKER = Template(
    id="mc-letter",
    task=MC,
    instruction="{question}\nAnswer with the letter.\n{options}",
    response="{answer}",
    options_style=("letters-answer", "numbers-answer"),
)
MC_ROW = {"id": "q", "question": "Sky?", "choices": ["green", "blue"], "answer": 1}


def test_marker_only_templates_have_no_without_options_variant() -> None:
    assert MARKER.marker_only
    assert render(MARKER, MC_ROW).response in ("B", "2")
    with pytest.raises(ConfigurationError, match="no without-options variant") as info:
        render(MARKER, MC_ROW, options=False)
    assert "'mc-letter'" in str(info.value)
    assert "['letters-answer', 'numbers-answer']" in str(info.value)
    mixed = MARKER.model_copy(update={"options_style": ("letters-answer", "letters")})
    assert not mixed.marker_only
    assert render(mixed, MC_ROW, options=False).response == "blue"
    # Call-level marker styles leave the template's wording generic, so both variants exist.
    plain = MARKER.model_copy(update={"options_style": None})
    assert not plain.marker_only
    assert render(plain, MC_ROW, options=False, option_styles="letters-answer").response == "blue"


def test_marker_only_templates_must_show_options() -> None:
    hidden = MARKER.model_copy(update={"instruction": "{question}\nAnswer with the letter."})
    with pytest.raises(ConfigurationError, match="has no \\{options\\} block"):
        render(hidden, MC_ROW)
    nli = nli_template(options_style="letters-answer")
    unlabeled = Task(name="qa", fields={"q": "text", "a": "text"}, target="a")
    free = Template(
        id="qa-x",
        task=unlabeled,
        instruction="{q}\n{options}",
        response="{a}",
        options_style="letters-answer",
    )
    with pytest.raises(ConfigurationError, match="task 'qa' has no label space"):
        render(free, {"q": "?", "a": "x"})
    assert render(nli, ROW).response == "A"


@pytest.mark.parametrize("options", [False, 0.0, 0.5, 0.999])
def test_convert_refuses_marker_only_templates_without_options_before_reading(
    options: float,
) -> None:
    def rows() -> Any:
        raise AssertionError("read before the arguments were checked")
        yield  # pragma: no cover

    with pytest.raises(ConfigurationError, match=r"'mc-letter'.*no without-options variant"):
        convert(rows(), [MARKER], seed=0, options=options)
    records = list(convert([MC_ROW], [MARKER], seed=0, options=1.0))
    assert [r.response for r in records] in (["B"], ["2"])


@given(
    labels=st.lists(_TEXT.filter(lambda s: s.strip()), min_size=2, max_size=8, unique=True),
    gold=st.integers(min_value=0, max_value=7),
    style=st.sampled_from(sorted(BUILTIN_OPTION_STYLES)),
    shuffle=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**32),
    fixed=st.booleans(),
)
def test_target_is_always_one_of_the_rendered_options(
    labels: list[str], gold: int, style: str, shuffle: bool, seed: int, fixed: bool
) -> None:
    gold %= len(labels)
    task = MC
    row: dict[str, Any] = {"id": "e", "question": "which?", "choices": labels, "answer": gold}
    if fixed:  # a fixed label space with label values that are not positions
        task = Task(
            name="cls",
            fields={"question": "text", "answer": "label"},
            target="answer",
            labels={10 * i: text for i, text in enumerate(labels)},
        )
        row = {"id": "e", "question": "which?", "answer": 10 * gold}
    template = Template(
        id="mc",
        task=task,
        instruction="Q: {question}\n{options}",
        response="{answer}",
        options_style=style,
    )
    record = render(template, row, seed=seed, shuffle_options=shuffle)
    provenance = record.meta["provenance"]
    assert isinstance(provenance, dict)
    options = provenance["options"]
    assert isinstance(options, dict)
    order = options["order"]
    assert isinstance(order, list)
    assert sorted(order) == list(range(len(labels)))  # type: ignore[type-var]
    shown = [labels[i] for i in order]  # type: ignore[index]
    spec = BUILTIN_OPTION_STYLES[style]
    rendered = render_options(spec, shown, answer=order.index(gold))
    assert rendered.block in record.instruction
    assert record.response in rendered.answers
    if spec.target == "text":
        assert record.response == labels[gold]
    else:
        assert record.response == spec.token(order.index(gold))
    if not shuffle:
        assert order == list(range(len(labels)))


def test_option_order_and_style_are_seeded_per_example() -> None:
    template = nli_template()
    first = render(template, ROW, seed=5, shuffle_options=True)
    assert (
        render(template, dict(reversed(list(ROW.items()))), seed=5, shuffle_options=True) == first
    )
    styles = set()
    orders = set()
    for i in range(40):
        record = render(template, {**ROW, "id": f"r{i}"}, seed=5, shuffle_options=True)
        options = record.meta["provenance"]["options"]  # type: ignore[index,call-overload]
        styles.add(options["style"])
        orders.add(tuple(options["order"]))
    assert len(styles) > 3  # drawn from the default set
    assert len(orders) > 3


def test_template_style_wins_over_call_styles() -> None:
    record = render(nli_template(options_style="letters"), ROW, option_styles=["flan"])
    assert "(A) yes" in record.instruction
    record = render(nli_template(), ROW, option_styles="numbers")
    assert "1. yes" in record.instruction
    with pytest.raises(ConfigurationError, match="option style name"):
        render(nli_template(), ROW, option_styles=["nope"])


# --- render ---------------------------------------------------------------------------------


def test_render_with_and_without_options_from_one_declaration() -> None:
    template = nli_template(options_style="flan")
    with_options = render(template, ROW)
    without = render(template, ROW, options=False)
    assert with_options.instruction == (
        "A dog runs.\nDoes it follow that An animal moves?\n\n"
        "OPTIONS:\n- yes\n- it is not possible to tell\n- no"
    )
    assert without.instruction == "A dog runs.\nDoes it follow that An animal moves?"
    assert with_options.response == without.response == "yes"
    assert with_options.meta["provenance"]["template_type"] == "zs_opt"  # type: ignore[index,call-overload]
    assert without.meta["provenance"]["template_type"] == "zs_noopt"  # type: ignore[index,call-overload]


def test_render_records_provenance() -> None:
    record = render(nli_template(), ROW, seed=9, dataset="snli")
    assert isinstance(record, Instruction)
    assert record.id == "snli/r1/nli-1"
    provenance = record.meta["provenance"]
    assert isinstance(provenance, dict)
    assert provenance["task"] == "nli"
    assert provenance["cluster"] == "natural language inference"
    assert provenance["dataset"] == "snli"
    assert provenance["example_id"] == "r1"
    assert provenance["template_id"] == "nli-1"
    assert provenance["template_hash"] == nli_template().content_hash
    assert provenance["inverted"] is False
    assert provenance["seed"] == 9
    assert provenance["exemplar_ids"] == []
    import instructkit

    assert provenance["version"] == instructkit.__version__


def test_rows_without_id_get_a_content_hash_id() -> None:
    row = {k: v for k, v in ROW.items() if k != "id"}
    first = render(nli_template(), row)
    assert first.meta["provenance"]["example_id"].startswith("h")  # type: ignore[index,union-attr,call-overload]
    assert render(nli_template(), dict(reversed(list(row.items())))) == first


@pytest.mark.parametrize(
    ("row", "message", "loc"),
    [
        ({"premise": "p", "label": 0}, "expected a value for field 'hypothesis'", "$.hypothesis"),
        ({**ROW, "label": -1}, "got -1 (an unlabeled row)", "$.label"),
        ({**ROW, "label": 7}, "expected a label among [0, 1, 2], got 7", "$.label"),
        ({**ROW, "label": "0"}, "got '0'", "$.label"),
        ({**ROW, "label": None}, "got None (an unlabeled row)", "$.label"),
        ({**ROW, "premise": 3}, "expected text for field 'premise', got int", "$.premise"),
        ({**ROW, "premise": None}, "expected a value for field 'premise'", "$.premise"),
    ],
)
def test_rows_that_cannot_render_raise_located_template_errors(
    row: dict[str, Any], message: str, loc: str
) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)) as info:
        render(nli_template(), row)
    assert info.value.loc == loc
    assert isinstance(info.value, DataError)


def test_missing_field_message_lists_the_row_keys() -> None:
    with pytest.raises(TemplateError, match=r"the row has: id, label, premise"):
        render(nli_template(), {"id": 1, "premise": "p", "label": 0})


def test_blank_render_is_an_error() -> None:
    template = Template(id="t", task=QA, instruction="{question}", response="{answers}")
    with pytest.raises(TemplateError, match="expected a non-blank instruction"):
        render(template, {"context": "c", "question": "  ", "answers": "a"})


def test_multiple_choice_answer_by_index_or_text() -> None:
    template = Template(
        id="mc-1",
        task=MC,
        instruction="{question}\n{options}",
        response="{answer}",
        options_style="letters-answer",
    )
    row = {"question": "Color of the sky?", "choices": ["green", "blue"], "answer": 1}
    assert render(template, row).response == "B"
    assert render(template, {**row, "answer": "blue"}).response == "B"
    either = template.model_copy(update={"options_style": ("letters-answer", "letters")})
    assert render(either, row, options=False).response == "blue"
    with pytest.raises(TemplateError, match=r"answer index in range\(2\), got 2"):
        render(template, {**row, "answer": 2})
    with pytest.raises(TemplateError, match="one of the choices"):
        render(template, {**row, "answer": "red"})
    with pytest.raises(TemplateError, match="distinct answer choices"):
        render(template, {**row, "choices": ["blue", "blue"]})
    with pytest.raises(TemplateError, match="at least 2 answer choices"):
        render(template, {**row, "choices": ["blue"], "answer": 0})


def test_several_gold_answers_pick_one_per_example_seeded() -> None:
    template = Template(
        id="qa-1", task=QA, instruction="{context}\n{question}", response="{answers}"
    )
    picked = set()
    for i in range(30):
        row = {"id": i, "context": "c", "question": "q", "answers": ["a", "b", "c"]}
        record = render(template, row, seed=2)
        assert record == render(template, row, seed=2)
        picks = record.meta["provenance"]["picks"]  # type: ignore[index,call-overload]
        assert ["a", "b", "c"][picks["answers"]] == record.response
        picked.add(record.response)
    assert picked == {"a", "b", "c"}
    single = render(template, {"context": "c", "question": "q", "answers": "only"})
    assert single.response == "only"
    assert single.meta["provenance"]["picks"] == {}  # type: ignore[index,call-overload]


def test_number_and_list_fields() -> None:
    task = Task(
        name="gen",
        fields={"concepts": "list", "n": "number", "text": "text"},
        target="text",
    )
    template = Template(
        id="g", task=task, instruction="Use {concepts} in {n} words.", response="{text}"
    )
    record = render(template, {"concepts": ["dog", "ball"], "n": 7, "text": "A dog has a ball."})
    assert record.instruction == "Use dog, ball in 7 words."
    with pytest.raises(TemplateError, match="expected a number"):
        render(template, {"concepts": [], "n": True, "text": "t"})
    with pytest.raises(TemplateError, match="finite number"):
        render(template, {"concepts": [], "n": float("nan"), "text": "t"})
    with pytest.raises(TemplateError, match=r"text items") as info:
        render(template, {"concepts": ["a", 1], "n": 1, "text": "t"})
    assert info.value.loc == "$.concepts[1]"


def test_chain_of_thought_target_holds_reasoning_then_answer() -> None:
    template = Template(
        id="cot-1",
        task=COT,
        instruction="{question} Think step by step.",
        response="{rationale} So the answer is {answer}.",
        tags=("cot",),
    )
    record = render(template, {"question": "2+3?", "rationale": "2 plus 3 is 5.", "answer": "5"})
    assert record.response == "2 plus 3 is 5. So the answer is 5."
    assert record.meta["provenance"]["cot"] is True  # type: ignore[index,call-overload]
    plain = Template(id="cot-0", task=COT, instruction="{question}", response="{answer}")
    assert render(plain, {"question": "2+3?", "answer": "5"}).response == "5"


def test_inverted_template_renders_label_as_text_in_the_instruction() -> None:
    template = Template(
        id="nli-inv",
        task=NLI,
        instruction="Write a sentence. Is it implied by '{premise}'? Answer: {label}",
        response="{hypothesis}",
        inverted=True,
    )
    record = render(template, {**ROW, "label": 2})
    assert record.instruction.endswith("Answer: no")
    assert record.response == "An animal moves"
    assert record.meta["provenance"]["inverted"] is True  # type: ignore[index,call-overload]


def test_render_argument_errors() -> None:
    with pytest.raises(ConfigurationError, match="seed"):
        render(nli_template(), ROW, seed="1")  # type: ignore[arg-type]
    with pytest.raises(TemplateError, match="expected a row mapping"):
        render(nli_template(), ["not", "a", "row"])  # type: ignore[arg-type]
