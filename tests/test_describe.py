"""describe(): categories, length statistics and duplicates of a set of records."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import instructkit as ik
from instructkit import ConfigurationError, Conversation, Instruction, Message, Preference, describe
from instructkit._describe import normalize_text
from instructkit.curation import Description


def inst(instruction: str, response: str, **kwargs: Any) -> Instruction:
    return Instruction(instruction=instruction, response=response, **kwargs)


GARDEN = [
    inst("When should I water tomatoes?", "Early in the morning.", meta={"category": "qa"}),
    inst(
        "Summarize the text.",
        "Mulch keeps soil moist.",
        input="Mulch is ...",
        meta={"category": "summarization"},
    ),
    inst(
        "When should I water tomatoes?", "Early in the morning.", id="dup", meta={"category": "qa"}
    ),
    inst("when  should I WATER tomatoes?", "early in the morning.", meta={"category": "qa"}),
    inst("When should I water tomatoes?", "At dusk.", meta={"category": "qa"}),
    inst("Is this pest harmful? Aphids.", "harmful", meta={"category": "classification"}),
    inst("No category here.", "Fine."),
]


def test_counts_per_category_most_frequent_first_none_last() -> None:
    report = describe(GARDEN)
    assert report.total == 7
    assert report.by_type == {"Instruction": 7}
    assert report.by_category == {"qa": 4, "classification": 1, "summarization": 1, "(none)": 1}
    assert list(report.by_category)[-1] == "(none)"


def test_length_statistics_match_the_definitions() -> None:
    report = describe(GARDEN)
    for field in ("instruction", "input", "response"):
        values = [len(getattr(r, field)) for r in GARDEN]
        stats = report.lengths[field]
        assert stats.unit == "characters"
        assert stats.count == len(GARDEN)
        assert (stats.min, stats.max) == (min(values), max(values))
        assert stats.median == statistics.median(values)
        assert stats.mean == pytest.approx(statistics.fmean(values))
    assert "system" not in report.lengths


def test_exact_normalised_and_prompt_duplicates_with_positions_and_ids() -> None:
    report = describe(GARDEN)
    # id and meta do not count: records 0 and 2 are exact duplicates.
    assert [g.indices for g in report.exact_duplicates] == [(0, 2)]
    assert [g.ids for g in report.exact_duplicates] == [(None, "dup")]
    # Case and spacing differences only show up after normalisation.
    assert [g.indices for g in report.normalized_duplicates] == [(0, 2, 3)]
    # The same question with a different answer is a duplicate prompt.
    assert [g.indices for g in report.duplicate_prompts] == [(0, 2, 3, 4)]
    assert report.exact_duplicate_count == 1
    assert report.normalized_duplicate_count == 2


def test_punctuation_and_inner_words_still_count_as_different() -> None:
    records = [inst("Why?", "Yes."), inst("Why", "Yes."), inst("Why ?", "Yes.")]
    report = describe(records)
    assert report.normalized_duplicates == ()


def test_category_from_the_provenance_task_of_rendered_records() -> None:
    rows = [
        {"sentence": "a fine film", "label": 1, "idx": 0},
        {"sentence": "a dull film", "label": 0, "idx": 1},
    ]
    adapter = ik.adapters.get_adapter("sst2")
    records = list(ik.convert(ik.adapt("sst2", rows), adapter.templates(), seed=0))
    records.append(inst("Hand written.", "Yes.", meta={"category": "extra"}))
    report = describe(records)
    assert report.by_category == {"sentiment": 2, "extra": 1}


def test_category_from_a_meta_key_or_a_function() -> None:
    records = [
        inst("a", "b", meta={"topic": "soil"}),
        inst("c", "d", meta={"topic": "soil"}),
        inst("e", "f", meta={"topic": 3}),
        inst("g", "h"),
    ]
    assert describe(records, by="topic").by_category == {"soil": 2, "3": 1, "(none)": 1}
    assert describe(records, by="topic").category_key == "meta['topic']"

    def first_letter(record: Any) -> str:
        return str(record.instruction[0])

    by_letter = describe(records, by=first_letter)
    assert by_letter.by_category == {"a": 1, "c": 1, "e": 1, "g": 1}
    assert by_letter.category_key == "first_letter"
    assert describe(records, by=lambda r: None).by_category == {"(none)": 4}


def test_conversations_and_preferences_have_their_own_fields() -> None:
    chat = Conversation(
        messages=[
            Message(role="system", content="Be brief."),
            Message(role="user", content="Hi there"),
            Message(role="assistant", content="Hello"),
            Message(role="user", content="Bye"),
            Message(role="assistant", content="Goodbye!"),
        ]
    )
    pref = Preference(
        prompt=[Message(role="user", content="Pick one")],
        chosen=[Message(role="assistant", content="This one")],
        rejected=[Message(role="assistant", content="No")],
    )
    report = describe([chat, pref, GARDEN[0]])
    assert report.by_type == {"Conversation": 1, "Preference": 1, "Instruction": 1}
    assert report.lengths["messages"].unit == "turns"
    assert report.lengths["messages"].max == 5
    assert report.lengths["user"].max == len("Hi there") + len("Bye")
    assert report.lengths["assistant"].max == len("Hello") + len("Goodbye!")
    assert report.lengths["system"].count == 1
    assert report.lengths["prompt"].max == len("Pick one")
    assert (report.lengths["chosen"].max, report.lengths["rejected"].max) == (8, 2)
    assert list(report.lengths) == [
        "system",
        "instruction",
        "input",
        "response",
        "messages",
        "user",
        "assistant",
        "prompt",
        "chosen",
        "rejected",
    ]


def test_conversation_prompt_duplicates_ignore_the_final_answer() -> None:
    def chat(answer: str) -> Conversation:
        return Conversation(
            messages=[
                Message(role="user", content="Name a bird."),
                Message(role="assistant", content=answer),
            ]
        )

    report = describe([chat("Robin."), chat("Wren."), chat("Robin.")])
    assert [g.indices for g in report.exact_duplicates] == [(0, 2)]
    assert [g.indices for g in report.duplicate_prompts] == [(0, 1, 2)]


def test_an_instruction_and_its_conversation_are_not_duplicates() -> None:
    record = GARDEN[0]
    report = describe([record, record.to_conversation()])
    assert report.exact_duplicates == ()
    assert report.duplicate_prompts == ()


def test_str_is_a_readable_table() -> None:
    text = str(describe(GARDEN))
    lines = text.splitlines()
    assert lines[0] == "7 records (7 Instruction)"
    assert any(line.startswith("qa") and line.rstrip().endswith("57.1%") for line in lines)
    header = next(line for line in lines if line.startswith("field"))
    assert header.split() == ["field", "unit", "records", "min", "median", "mean", "max"]
    assert any(line.split()[:3] == ["instruction", "characters", "7"] for line in lines)
    assert "  exact: 1 group, 2 records" in lines
    assert "    #0, #2 (dup)" in lines
    assert "  normalised (NFKC, case, spaces): 1 group, 3 records" in lines


def test_str_shows_at_most_five_groups() -> None:
    records = [inst(f"Question {i}?", "Same.") for i in range(7) for _ in range(2)]
    text = str(describe(records))
    assert "    ... and 2 more" in text


def test_empty_input() -> None:
    report = describe([])
    assert report.total == 0
    assert report.lengths == {}
    assert report.by_category == {}
    assert "0 records" in str(report)
    assert "lengths: no records" in str(report)


def test_to_dict_is_json(tmp_path: Path) -> None:
    data = describe(GARDEN).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["exact_duplicates"] == [{"indices": [0, 2], "ids": [None, "dup"]}]
    assert data["lengths"]["response"]["max"] == len("Mulch keeps soil moist.")


def test_reads_a_reader_once(tmp_path: Path) -> None:
    path = tmp_path / "garden.jsonl"
    ik.write(GARDEN, path)
    with ik.read(path) as reader:
        report = describe(reader)
    assert report.total == len(GARDEN)
    assert report.by_category["qa"] == 4


@pytest.mark.parametrize(
    ("records", "by", "words"),
    [
        ([GARDEN[0], {"instruction": "x", "response": "y"}], None, "got dict at position 1"),
        ([Message(role="user", content="hi")], None, "got Message at position 0"),
        ("records.jsonl", None, "iterable of records"),
        (GARDEN[0], None, "iterable of records"),
        (GARDEN, 3, "expected by"),
    ],
)
def test_bad_arguments(records: Any, by: Any, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        describe(records, by=by)


# -- laws ------------------------------------------------------------------------------------

texts = st.sampled_from(["Water daily.", "water  DAILY.", "Prune in spring.", "Why?", "why?"])
records = st.lists(
    st.builds(
        inst,
        texts,
        texts,
        meta=st.sampled_from([{}, {"category": "a"}, {"category": "b"}]),
    ),
    max_size=12,
)


@given(records, st.randoms(use_true_random=False))
def test_counts_balance_and_do_not_depend_on_order(items: list[Instruction], rnd: Any) -> None:
    report = describe(items)
    assert sum(report.by_category.values()) == report.total == len(items)
    distinct = {(r.instruction, r.response) for r in items}
    assert report.total - report.exact_duplicate_count == len(distinct)
    normalised = {(normalize_text(r.instruction), normalize_text(r.response)) for r in items}
    assert report.total - report.normalized_duplicate_count == len(normalised)
    # Every exact group lies inside one normalised group.
    for group in report.exact_duplicates:
        assert any(set(group.indices) <= set(g.indices) for g in report.normalized_duplicates)
    shuffled = items[:]
    rnd.shuffle(shuffled)
    again = describe(shuffled)
    assert again.by_category == report.by_category
    assert again.lengths == report.lengths
    assert again.exact_duplicate_count == report.exact_duplicate_count


@given(records)
def test_doubling_the_input_makes_every_record_a_duplicate(items: list[Instruction]) -> None:
    report = describe(items + items)
    grouped = sorted(i for g in report.exact_duplicates for i in g.indices)
    assert grouped == list(range(2 * len(items)))


@given(st.text(max_size=40))
def test_normalisation_is_idempotent_and_trimmed(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert once == once.strip()
    assert "  " not in once


def test_description_is_exported() -> None:
    assert isinstance(describe(GARDEN), Description)
