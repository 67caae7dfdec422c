"""convert(): per-example reproducibility, on_error accounting, few-shot and output layouts."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from template_fixtures import INVERTED, NLI, nli_rows, nli_templates

import instructkit
from instructkit import (
    ConfigurationError,
    Conversation,
    Instruction,
    ItemReport,
    Task,
    Template,
    TemplateError,
    convert,
    render,
)
from instructkit.templates import FewShot

TEMPLATES = nli_templates()

ROWS = nli_rows(30)
POOL = nli_rows(40, start=100)


def provenance(record: Instruction | Conversation) -> dict[str, Any]:
    value = record.meta["provenance"]
    assert isinstance(value, dict)
    return value


# --- reproducibility ------------------------------------------------------------------------

SETTINGS = st.fixed_dictionaries(
    {
        "per_example": st.sampled_from([1, 2, "all"]),
        "options": st.sampled_from([True, False, 0.5]),
        "shuffle_options": st.booleans(),
        "fewshot": st.sampled_from(
            [
                None,
                FewShot(pool=POOL, k=2),
                FewShot(pool=POOL + ROWS, k=3, mixed_templates=True, budget=300),
                FewShot(pool=POOL, k=2, probability=0.5, input_prefix="Q: ", response_prefix="A:"),
            ]
        ),
        "record": st.sampled_from([Instruction, Conversation, "instruction", "Conversation"]),
    }
)


@given(
    settings=SETTINGS,
    seed=st.integers(min_value=0, max_value=2**31),
    shuffle_seed=st.integers(min_value=0, max_value=10**6),
    cuts=st.lists(st.integers(min_value=0, max_value=len(ROWS)), max_size=4),
)
def test_one_pass_shuffled_and_chunked_conversion_give_identical_records(
    settings: dict[str, Any], seed: int, shuffle_seed: int, cuts: list[int]
) -> None:
    templates = [*TEMPLATES, INVERTED]
    one_pass = list(convert(ROWS, templates, seed=seed, **settings))

    shuffled_rows = list(ROWS)
    random.Random(shuffle_seed).shuffle(shuffled_rows)
    shuffled_templates = (
        list(reversed(templates)) if settings["per_example"] != "all" else templates
    )
    shuffled = list(convert(shuffled_rows, shuffled_templates, seed=seed, **settings))

    bounds = [0, *sorted(cuts), len(ROWS)]
    chunked: list[Any] = []
    for lo, hi in itertools.pairwise(bounds):
        chunked.extend(convert(ROWS[lo:hi], templates, seed=seed, **settings))

    assert chunked == one_pass

    def key(record: Any) -> str:
        return str(record.id)

    assert sorted(shuffled, key=key) == sorted(one_pass, key=key)
    per_row = len(templates) if settings["per_example"] == "all" else settings["per_example"]
    assert len(one_pass) == len(ROWS) * per_row


def test_single_template_conversion_equals_render() -> None:
    template = TEMPLATES[0]
    records = list(convert(ROWS, template, seed=4, shuffle_options=True))
    assert records == [render(template, row, seed=4, shuffle_options=True) for row in ROWS]


def test_template_choice_is_spread_and_order_free() -> None:
    records = list(convert(nli_rows(200), TEMPLATES, seed=0))
    used = {provenance(r)["template_id"] for r in records}
    assert used == {t.id for t in TEMPLATES}
    counts = [sum(provenance(r)["template_id"] == t.id for r in records) for t in TEMPLATES]
    assert min(counts) > 25  # 50 expected per template


def test_per_example_k_gives_distinct_templates() -> None:
    records = list(convert(ROWS, TEMPLATES, seed=1, per_example=3))
    by_example: dict[str, set[str]] = {}
    for record in records:
        p = provenance(record)
        by_example.setdefault(p["example_id"], set()).add(p["template_id"])
    assert all(len(ids) == 3 for ids in by_example.values())
    assert len({r.id for r in records}) == len(records)


def test_seed_changes_choices() -> None:
    a = [provenance(r)["template_id"] for r in convert(ROWS, TEMPLATES, seed=1)]
    b = [provenance(r)["template_id"] for r in convert(ROWS, TEMPLATES, seed=2)]
    assert a != b


def test_options_probability_mixes_both_variants() -> None:
    records = list(convert(nli_rows(200), TEMPLATES, seed=3, options=0.5))
    with_options = sum(provenance(r)["template_type"] == "zs_opt" for r in records)
    assert 60 < with_options < 140
    for record in records:
        # Without options the instruction is just the premise and hypothesis lines.
        shown = provenance(record)["options"] is not None
        assert (record.instruction.count("\n") > 1) == shown


# --- bad rows -------------------------------------------------------------------------------

BAD_ROWS = [
    ROWS[0],
    {"id": "unlabeled", "premise": "p", "hypothesis": "h", "label": -1},
    {"id": "missing", "premise": "p", "label": 0},
    ROWS[1],
    "not a row",
]


@pytest.mark.parametrize("on_error", ["skip", "collect"])
def test_rows_that_cannot_render_are_counted_with_their_reason(on_error: Any) -> None:
    report = ItemReport(source="snli")
    records = list(convert(BAD_ROWS, TEMPLATES, seed=0, on_error=on_error, report=report))
    assert [provenance(r)["example_id"] for r in records] == ["e0", "e1"]
    assert (report.seen, report.valid, report.rejected) == (5, 2, 3)
    assert report.balanced
    reasons = [r.reason for r in report.rejections]
    assert "got -1 (an unlabeled row)" in reasons[0]
    assert "expected a value for field 'hypothesis'" in reasons[1]
    assert "expected a row mapping" in reasons[2]
    assert [r.row for r in report.rejections] == [1, 2, 4]
    assert [r.loc for r in report.rejections][:2] == ["$.label", "$.hypothesis"]
    if on_error == "collect":
        assert all(isinstance(r.error, TemplateError) for r in report.rejections)
    else:
        assert all(r.error is None for r in report.rejections)


def test_raise_stops_at_first_bad_row_with_its_position() -> None:
    stream = convert(BAD_ROWS, TEMPLATES, seed=0)
    assert next(stream).meta["provenance"]["example_id"] == "e0"  # type: ignore[index,call-overload]
    with pytest.raises(TemplateError, match=r"unlabeled row.*row 1"):
        next(stream)


def test_a_row_is_rejected_whole_when_one_of_its_templates_fails() -> None:
    cot_task = Task(
        name="cot",
        fields={"q": "text", "why": "text", "a": "text"},
        target="a",
        rationale="why",
    )
    plain = Template(id="plain", task=cot_task, instruction="{q}", response="{a}")
    cot = Template(id="cot", task=cot_task, instruction="{q} Why?", response="{why} So {a}.")
    report = ItemReport()
    rows = [{"q": "1+1?", "a": "2"}, {"q": "2+2?", "why": "Two twos.", "a": "4"}]
    records = list(
        convert(rows, [plain, cot], seed=0, per_example="all", on_error="skip", report=report)
    )
    assert len(records) == 2
    assert report.rejected == 1
    assert "'why'" in report.rejections[0].reason


def test_skip_without_a_report_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="report="):
        convert(ROWS, TEMPLATES, seed=0, on_error="skip")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"per_example": 0}, "per_example"),
        ({"per_example": 9}, "per_example <= the number of templates"),
        ({"per_example": "some"}, "per_example"),
        ({"options": 2}, "probability in [0, 1]"),
        ({"record": "chat"}, "record"),
        ({"record": instructkit.Preference}, "record"),
        ({"on_error": "ignore"}, "on_error"),
        ({"seed": 1.5}, "seed"),
        ({"option_styles": []}, "at least one option style"),
        ({"fewshot": {"k": 1}}, "FewShot"),
    ],
)
def test_bad_arguments_fail_at_call_time(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"seed": 0, **kwargs}
    consumed: list[int] = []

    def rows() -> Any:
        consumed.append(1)
        yield from ROWS

    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        convert(rows(), TEMPLATES, **arguments)
    assert consumed == []


def test_templates_must_share_one_task_and_distinct_ids() -> None:
    other = Template(
        id="x",
        task=Task(name="other", fields={"t": "text"}, target="t"),
        instruction="Repeat {t}",
        response="{t}",
    )
    with pytest.raises(ConfigurationError, match="one task"):
        convert(ROWS, [TEMPLATES[0], other], seed=0)
    with pytest.raises(ConfigurationError, match="distinct template ids"):
        convert(ROWS, [TEMPLATES[0], TEMPLATES[0]], seed=0)
    with pytest.raises(ConfigurationError, match="at least one template"):
        convert(ROWS, [], seed=0)


def test_conversion_is_lazy() -> None:
    seen: list[int] = []

    def rows() -> Any:
        for row in ROWS:
            seen.append(1)
            yield row

    stream = convert(rows(), TEMPLATES, seed=0)
    next(stream)
    assert len(seen) == 1


# --- output layouts -------------------------------------------------------------------------


def test_zero_shot_conversation_output_is_the_instruction_as_chat() -> None:
    instructions = list(convert(ROWS[:5], TEMPLATES, seed=0))
    conversations = list(convert(ROWS[:5], TEMPLATES, seed=0, record=Conversation))
    assert conversations == [r.to_conversation() for r in instructions]


# --- few-shot -------------------------------------------------------------------------------


def test_exemplars_exclude_the_target_and_its_duplicates() -> None:
    twin = {**ROWS[0], "id": "twin", "label": 2}  # same content, different id and label
    pool = [ROWS[0], twin, *ROWS[1:4]]
    shots = FewShot(pool=pool, k=4)
    record = next(convert([ROWS[0]], TEMPLATES, seed=0, fewshot=shots))
    ids = provenance(record)["exemplar_ids"]
    assert "e0" not in ids
    assert "twin" not in ids
    assert sorted(ids) == ["e1", "e2", "e3"]  # only three others exist
    assert provenance(record)["template_type"] == "fs_opt"


def test_duplicate_exemplars_are_not_repeated() -> None:
    pool = [ROWS[1], {**ROWS[1], "id": "copy"}, ROWS[2]]
    record = next(convert([ROWS[0]], TEMPLATES, seed=0, fewshot=FewShot(pool=pool, k=3)))
    ids = provenance(record)["exemplar_ids"]
    assert len(ids) == 2
    assert "e2" in ids


def test_flan_style_prompt_layout() -> None:
    shots = FewShot(
        pool=ROWS[1:3],
        k=2,
        input_prefix="Q: ",
        response_prefix="A: ",
        response_separator="\n",
        example_separator="\n###\n",
    )
    record = next(convert([ROWS[0]], TEMPLATES[0], seed=0, fewshot=shots, options=False))
    ids = provenance(record)["exemplar_ids"]
    rows = {r["id"]: r for r in ROWS}
    parts = [
        f"Q: Premise: {rows[i]['premise']}\nHypothesis 0: {rows[i]['hypothesis']}\n"
        f"A: {NLI.label_text(rows[i]['label'])}"
        for i in ids
    ]
    parts.append("Q: Premise: Premise number 0.\nHypothesis 0: Hypothesis 0\nA:")
    assert record.instruction == "\n###\n".join(parts)
    assert record.response == "yes"


def test_exemplars_follow_the_target_option_style() -> None:
    shots = FewShot(pool=POOL, k=3)
    for record in convert(ROWS, TEMPLATES, seed=0, fewshot=shots):
        style = provenance(record)["options"]["style"]
        blocks = record.instruction.count("OPTIONS:")
        if style == "flan":
            assert blocks == 4
        else:
            assert blocks == 0


def test_conversation_layout_puts_exemplars_in_earlier_turns() -> None:
    shots = FewShot(pool=POOL, k=2)
    record = next(convert([ROWS[0]], TEMPLATES, seed=0, fewshot=shots, record=Conversation))
    assert isinstance(record, Conversation)
    assert [m.role for m in record.messages] == ["user", "assistant"] * 3
    assert record.messages[-1].content == "yes"
    assert provenance(record)["template_type"] == "fs_opt"


def test_budget_drops_exemplars_that_do_not_fit() -> None:
    unlimited = next(convert([ROWS[0]], TEMPLATES[0], seed=0, fewshot=FewShot(pool=POOL, k=3)))
    target_only = next(convert([ROWS[0]], TEMPLATES[0], seed=0))
    # Room for about half of what three exemplars add: one fits, not all three.
    budget = (
        len(target_only.instruction)
        + (len(unlimited.instruction) - len(target_only.instruction)) // 2
    )
    shots = FewShot(pool=POOL, k=3, budget=budget)
    record = next(convert([ROWS[0]], TEMPLATES[0], seed=0, fewshot=shots))
    assert len(record.instruction) <= budget
    kept = provenance(record)["exemplar_ids"]
    assert 0 < len(kept) < 3
    assert provenance(record)["exemplars_dropped"] == 3 - len(kept)
    assert kept == provenance(unlimited)["exemplar_ids"][: len(kept)]
    tiny = FewShot(pool=POOL, k=3, budget=5)
    alone = next(convert([ROWS[0]], TEMPLATES[0], seed=0, fewshot=tiny))
    assert provenance(alone)["exemplar_ids"] == []
    assert provenance(alone)["template_type"] == "zs_opt"
    assert alone.instruction == target_only.instruction


def test_budget_with_a_custom_length_function() -> None:
    def words(text: str) -> int:
        return len(text.split())

    shots = FewShot(pool=POOL, k=5, budget=40, length=words)
    for record in convert(ROWS, TEMPLATES, seed=0, fewshot=shots, options=False):
        if provenance(record)["exemplar_ids"]:
            assert words(record.instruction) <= 40
    conv = FewShot(pool=POOL, k=5, budget=40, length=words)
    for chat in convert(ROWS, TEMPLATES, seed=0, fewshot=conv, record=Conversation):
        if provenance(chat)["exemplar_ids"]:
            prompt = chat.messages[:-1]
            assert sum(words(m.content or "") for m in prompt) <= 40


def test_mixed_template_exemplars_use_several_templates() -> None:
    shots = FewShot(pool=POOL, k=4, mixed_templates=True)
    record = next(convert([ROWS[0]], TEMPLATES, seed=0, fewshot=shots, options=False))
    assert len({line for line in record.instruction.splitlines() if "Hypothesis " in line}) > 1


def test_unrenderable_pool_rows_are_passed_over() -> None:
    pool = [{"id": "bad", "premise": "p", "hypothesis": "h", "label": -1}, "junk", ROWS[5]]
    record = next(convert([ROWS[0]], TEMPLATES, seed=0, fewshot=FewShot(pool=pool, k=2)))  # type: ignore[list-item]
    assert provenance(record)["exemplar_ids"] == ["e5"]


def test_large_pool_uses_seeded_probing() -> None:
    pool = nli_rows(600, start=1000)
    records = list(convert(ROWS[:10], TEMPLATES, seed=0, fewshot=FewShot(pool=pool, k=3)))
    assert all(len(provenance(r)["exemplar_ids"]) == 3 for r in records)
    again = list(convert(ROWS[:10], TEMPLATES, seed=0, fewshot=FewShot(pool=pool, k=3)))
    assert again == records


def test_fewshot_probability_zero_stays_zero_shot() -> None:
    shots = FewShot(pool=POOL, k=2, probability=0.0)
    assert list(convert(ROWS, TEMPLATES, seed=0, fewshot=shots)) == list(
        convert(ROWS, TEMPLATES, seed=0)
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k to be a positive int"),
        ({"budget": 0}, "budget"),
        ({"probability": 1.5}, "probability"),
        ({"pool": "abc"}, "pool"),
        ({"length": 3}, "length to be callable"),
        ({"input_prefix": None}, "input_prefix to be text"),
    ],
)
def test_fewshot_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"pool": POOL, "k": 2, **kwargs}
    with pytest.raises(ConfigurationError, match=message):
        FewShot(**arguments)


# --- the dataset a row comes from -----------------------------------------------------------


def _provenance(record: Instruction) -> dict[str, Any]:
    provenance = record.meta["provenance"]
    assert isinstance(provenance, dict)
    return provenance


@given(
    seed=st.integers(0, 2**32),
    name=st.text(st.characters(codec="utf-8"), min_size=1, max_size=8),
    options=st.sampled_from([True, False, 0.5]),
)
def test_rows_that_name_their_dataset_convert_as_if_it_were_given(
    seed: int, name: str, options: bool | float
) -> None:
    rows = nli_rows(12)
    stamped = [{**row, "dataset": name} for row in rows]
    given_once = list(convert(rows, TEMPLATES, seed=seed, dataset=name, options=options))
    from_rows = list(convert(stamped, TEMPLATES, seed=seed, options=options))
    assert from_rows == given_once
    assert {_provenance(r)["dataset"] for r in from_rows} == {name}
    # Naming it both ways, consistently, changes nothing either.
    assert list(convert(stamped, TEMPLATES, seed=seed, dataset=name, options=options)) == from_rows


def test_adapted_rows_keep_the_adapters_dataset_name() -> None:
    from instructkit import adapt
    from instructkit.templates import builtin_templates

    published = [{"premise": "A man sleeps.", "hypothesis": "A man rests.", "label": 0}]
    records = list(convert(adapt("snli", published), builtin_templates("nli"), seed=3))
    assert _provenance(records[0])["dataset"] == "snli"
    assert records[0].id is not None
    assert records[0].id.startswith("snli/")


def test_a_row_contradicting_dataset_is_rejected_where_it_says_so() -> None:
    rows = [*nli_rows(2), {**nli_rows(1, start=2)[0], "dataset": "mnli"}]
    report = ItemReport()
    kept = list(convert(rows, TEMPLATES, seed=1, dataset="snli", on_error="collect", report=report))
    assert len(kept) == 2
    (rejection,) = report.rejections
    assert rejection.row == 2
    assert "dataset='snli'" in rejection.reason
    assert "'mnli'" in rejection.reason
    with pytest.raises(TemplateError, match=r"- at \$\.dataset") as caught:
        list(convert(rows, TEMPLATES, seed=1, dataset="snli"))
    assert caught.value.row == 2


@pytest.mark.parametrize("bad", [7, "", "a\ud800", ["snli"]])
def test_a_dataset_name_that_is_not_text_is_rejected(bad: object) -> None:
    rows = [{**nli_rows(1)[0], "dataset": bad}]
    with pytest.raises(TemplateError, match=r"dataset name to be non-empty text.*- at \$\.dataset"):
        list(convert(rows, TEMPLATES, seed=1))
    with pytest.raises(TemplateError, match=r"- at \$\.dataset"):
        render(TEMPLATES[0], rows[0])


def test_a_task_field_named_dataset_stays_data() -> None:
    task = Task(name="meta-qa", fields={"dataset": "text", "answer": "text"}, target="answer")
    template = Template(
        id="which", task=task, instruction="Which corpus? {dataset}", response="{answer}"
    )
    (record,) = convert([{"id": "x", "dataset": "SQuAD", "answer": "reading"}], template, seed=0)
    assert record.instruction == "Which corpus? SQuAD"
    assert _provenance(record)["dataset"] == "meta-qa"


def test_the_old_output_keyword_still_works_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"convert\(output=\.\.\.\).*use record="):
        old = list(convert(ROWS[:3], TEMPLATES, seed=0, output="conversation"))
    assert old == list(convert(ROWS[:3], TEMPLATES, seed=0, record=Conversation))
