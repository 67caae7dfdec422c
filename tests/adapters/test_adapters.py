"""Dataset adapters: published rows in, task rows out, rendered targets equal the gold answers.

Every sample row below is written in the dataset's published shape (column names, nesting and
label encoding as on the Hugging Face Hub), with wording made up for these tests.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import instructkit as ik
from instructkit import ConfigurationError, DialectError, ItemReport, adapt, convert, render
from instructkit._adapters import markdown_table
from instructkit._adapters._base import content_id
from instructkit._library import UNANSWERABLE
from instructkit.adapters import adapter_names, get_adapter
from instructkit.strategies import invalid_texts
from instructkit.templates import lint_templates

Row = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]

# name -> [(published row, acceptable gold answer texts)]
CASES: dict[str, list[tuple[Row, set[str]]]] = {
    "snli": [
        (
            {
                "premise": "A girl in a yellow coat feeds ducks at a pond.",
                "hypothesis": "A child is outside near water.",
                "label": 0,
            },
            {"yes"},
        ),
        (
            {
                "premise": "A girl in a yellow coat feeds ducks at a pond.",
                "hypothesis": "The girl is feeding ducks with her grandmother.",
                "label": 1,
            },
            {"it is not possible to tell"},
        ),
        (
            {
                "premise": "A girl in a yellow coat feeds ducks at a pond.",
                "hypothesis": "A girl is asleep in her bed.",
                "label": 2,
            },
            {"no"},
        ),
    ],
    "multi_nli": [
        (
            {
                "promptID": 5001,
                "pairID": "5001e",
                "premise": "The museum opens late on Thursdays, closing at nine.",
                "premise_binary_parse": "( ( The museum ) ... )",
                "premise_parse": "(ROOT (S ...))",
                "hypothesis": "On Thursdays the museum is open in the evening.",
                "hypothesis_binary_parse": "( ... )",
                "hypothesis_parse": "(ROOT ...)",
                "genre": "travel",
                "label": 0,
            },
            {"yes"},
        ),
        (
            {
                "promptID": 5002,
                "pairID": "5002c",
                "premise": "Sales fell for the third straight quarter.",
                "premise_binary_parse": "",
                "premise_parse": "",
                "hypothesis": "Sales have been rising all year.",
                "hypothesis_binary_parse": "",
                "hypothesis_parse": "",
                "genre": "government",
                "label": 2,
            },
            {"no"},
        ),
    ],
    "anli": [
        (
            {
                "uid": "a1b2c3d4-0001",
                "premise": "Lake Morwen is a reservoir in the hills, built in 1931 to supply "
                "two mill towns.",
                "hypothesis": "Lake Morwen was built before 1950.",
                "label": 0,
                "reason": "1931 is before 1950.",
            },
            {"yes"},
        ),
        (
            {
                "uid": "a1b2c3d4-0002",
                "premise": "Lake Morwen is a reservoir in the hills, built in 1931.",
                "hypothesis": "Lake Morwen is the deepest lake in the region.",
                "label": 1,
                "reason": "Depth is not mentioned.",
            },
            {"it is not possible to tell"},
        ),
    ],
    "rte": [
        (
            {
                "sentence1": "The bridge, finished in 2004, links the two halves of the city.",
                "sentence2": "The bridge was finished in 2004.",
                "label": 0,
                "idx": 0,
            },
            {"yes"},
        ),
        (
            {
                "sentence1": "The bridge, finished in 2004, links the two halves of the city.",
                "sentence2": "The bridge was closed in 2004.",
                "label": 1,
                "idx": 1,
            },
            {"no"},
        ),
        (  # SuperGLUE's column names
            {
                "premise": "Ana moved to Lisbon after she retired from teaching.",
                "hypothesis": "Ana used to be a teacher.",
                "idx": 2,
                "label": 0,
            },
            {"yes"},
        ),
    ],
    "qqp": [
        (
            {
                "question1": "How do I keep basil alive indoors?",
                "question2": "What is the best way to grow basil inside the house?",
                "label": 1,
                "idx": 10,
            },
            {"yes"},
        ),
        (
            {
                "question1": "How do I keep basil alive indoors?",
                "question2": "Is basil poisonous to cats?",
                "label": 0,
                "idx": 11,
            },
            {"no"},
        ),
    ],
    "mrpc": [
        (
            {
                "sentence1": "The council approved the budget on Monday by a vote of 7 to 2.",
                "sentence2": "On Monday the council passed the budget, 7 votes to 2.",
                "label": 1,
                "idx": 0,
            },
            {"yes"},
        ),
        (
            {
                "sentence1": "The council approved the budget on Monday.",
                "sentence2": "The council will debate the budget again next year.",
                "label": 0,
                "idx": 1,
            },
            {"no"},
        ),
    ],
    "paws": [
        (
            {
                "id": 1,
                "sentence1": "The river flows from the lake to the sea through the old town.",
                "sentence2": "From the lake the river flows through the old town to the sea.",
                "label": 1,
            },
            {"yes"},
        ),
        (
            {
                "id": 2,
                "sentence1": "Mara sold the horse to Tom before the winter.",
                "sentence2": "Tom sold the horse to Mara before the winter.",
                "label": 0,
            },
            {"no"},
        ),
    ],
    "sst2": [
        (
            {"sentence": "a warm , funny and quietly moving film ", "label": 1, "idx": 0},
            {"positive"},
        ),
        (
            {"sentence": "the plot stalls long before the tedious finale ", "label": 0, "idx": 1},
            {"negative"},
        ),
    ],
    "imdb": [
        (
            {
                "text": "I expected little and got a clever, tightly written thriller.<br /><br />"
                "The lead is superb.",
                "label": 1,
            },
            {"positive"},
        ),
        (
            {"text": "Two hours I will never get back. Wooden acting, no story.", "label": 0},
            {"negative"},
        ),
    ],
    "yelp_polarity": [
        (
            {"text": "Cold fries, rude staff, and we waited forty minutes.", "label": 0},
            {"negative"},
        ),
        (
            {"text": "Lovely little bakery.\\nThe cardamom buns are worth the queue.", "label": 1},
            {"positive"},
        ),
    ],
    "ag_news": [
        (
            {
                "text": "Harbour strike ends after talks (Reuters) Reuters - Dock workers went "
                "back to work on Friday after a deal on pay.",
                "label": 2,
            },
            {"business"},
        ),
        (
            {
                "text": "Late goal lifts Rovers into cup final A header in stoppage time sent "
                "Rovers through on Saturday.",
                "label": 1,
            },
            {"sports"},
        ),
        (
            {
                "text": "New chip cuts phone power use Engineers say the design halves the "
                "energy needed to stream video.",
                "label": 3,
            },
            {"science and technology"},
        ),
    ],
    "dbpedia_14": [
        (
            {
                "label": 9,
                "title": "Pale marsh frog",
                "content": " The pale marsh frog is a small frog found in reed beds of the "
                "northern lowlands.",
            },
            {"animal"},
        ),
        (
            {
                "label": 0,
                "title": "Tallow & Wick",
                "content": " Tallow & Wick is a candle maker founded in 1898 in a market town.",
            },
            {"company"},
        ),
    ],
    "trec": [
        (
            {
                "text": "How far is it from the Earth to the Moon ?",
                "coarse_label": 5,
                "fine_label": 40,
            },
            {"number"},
        ),
        (
            {
                "text": "Who painted the ceiling of the chapel ?",
                "coarse_label": 3,
                "fine_label": 29,
            },
            {"person"},
        ),
        (  # older copies: label-coarse / label-fine
            {"label-coarse": 4, "label-fine": 32, "text": "Where is the tallest waterfall ?"},
            {"location"},
        ),
    ],
    "squad": [
        (
            {
                "id": "5733be284776f41900661182",
                "title": "Lighthouses",
                "context": "The lighthouse on Gull Point was lit for the first time in 1872. Its "
                "lamp burned whale oil until 1910, when kerosene replaced it.",
                "question": "When was the Gull Point lighthouse first lit?",
                "answers": {"text": ["1872", "in 1872", "1872"], "answer_start": [62, 59, 62]},
            },
            {"1872", "in 1872"},
        ),
        (
            {
                "id": "5733be284776f41900661183",
                "title": "Lighthouses",
                "context": "The lighthouse on Gull Point was lit for the first time in 1872. Its "
                "lamp burned whale oil until 1910, when kerosene replaced it.",
                "question": "What fuel replaced whale oil?",
                "answers": {"text": ["kerosene"], "answer_start": [104]},
            },
            {"kerosene"},
        ),
    ],
    "squad_v2": [
        (
            {
                "id": "56ddde6b9a695914005b9628",
                "title": "Orchards",
                "context": "Most of the valley's apples are picked in September and stored in "
                "cool sheds until spring.",
                "question": "When are most of the apples picked?",
                "answers": {"text": ["September", "in September"], "answer_start": [43, 40]},
            },
            {"September", "in September"},
        ),
        (
            {
                "id": "5ad39d53604f3c001a3fe8d1",
                "title": "Orchards",
                "context": "Most of the valley's apples are picked in September and stored in "
                "cool sheds until spring.",
                "question": "How many tonnes of pears does the valley export?",
                "answers": {"text": [], "answer_start": []},
            },
            {UNANSWERABLE},
        ),
    ],
    "boolq": [
        (
            {
                "question": "is a tomato botanically a fruit",
                "answer": True,
                "passage": "Botanically, a tomato is a fruit: it grows from the flower and "
                "holds the seeds, though cooks treat it as a vegetable.",
            },
            {"yes"},
        ),
        (
            {
                "question": "can penguins fly",
                "answer": False,
                "passage": "Penguins are flightless birds; their wings have become flippers "
                "suited to swimming.",
            },
            {"no"},
        ),
        (  # SuperGLUE's shape
            {
                "question": "does the river freeze in winter",
                "passage": "In most winters the river freezes over for several weeks.",
                "idx": 3,
                "label": 1,
            },
            {"yes"},
        ),
    ],
    "nq_open": [
        (
            {"question": "who wrote the novel the silver orchard", "answer": ["Mina Ekwall"]},
            {"Mina Ekwall"},
        ),
        (
            {"question": "how many strings does a viola have", "answer": ["four", "4"]},
            {"four", "4"},
        ),
    ],
    "trivia_qa": [
        (
            {
                "question": "Which planet is known as the Red Planet?",
                "question_id": "tq_001",
                "question_source": "http://www.example.org/",
                "entity_pages": {"doc_source": [], "filename": [], "title": [], "wiki_context": []},
                "search_results": {
                    "description": [],
                    "filename": [],
                    "rank": [],
                    "title": [],
                    "url": [],
                    "search_context": [],
                },
                "answer": {
                    "aliases": ["Mars", "Planet Mars", "mars"],
                    "normalized_aliases": ["mars", "planet mars"],
                    "matched_wiki_entity_name": "",
                    "normalized_matched_wiki_entity_name": "",
                    "normalized_value": "mars",
                    "type": "WikipediaEntity",
                    "value": "Mars",
                },
            },
            {"Mars"},
        ),
    ],
    "piqa": [
        (
            {
                "goal": "Keep a cut apple from turning brown.",
                "sol1": "Brush the cut side with lemon juice.",
                "sol2": "Leave the cut side in the sun.",
                "label": 0,
            },
            {"Brush the cut side with lemon juice."},
        ),
        (
            {
                "goal": "Loosen a stuck jar lid.",
                "sol1": "Put the jar in the freezer upside down.",
                "sol2": "Run the lid under hot water for a minute.",
                "label": 1,
            },
            {"Run the lid under hot water for a minute."},
        ),
    ],
    "copa": [
        (
            {
                "premise": "The bread came out of the oven burnt.",
                "choice1": "The baker forgot the timer.",
                "choice2": "The baker used fresh yeast.",
                "question": "cause",
                "idx": 0,
                "label": 0,
            },
            {"The baker forgot the timer."},
        ),
        (
            {
                "premise": "I left the window open during the storm.",
                "choice1": "The room stayed dry.",
                "choice2": "The carpet got soaked.",
                "question": "effect",
                "idx": 1,
                "label": 1,
            },
            {"The carpet got soaked."},
        ),
    ],
    "hellaswag": [
        (
            {
                "ind": 24,
                "activity_label": "Painting a fence",
                "ctx_a": "A man dips a wide brush into a can of white paint.",
                "ctx_b": "he",
                "ctx": "A man dips a wide brush into a can of white paint. he",
                "endings": [
                    "spreads the paint along the fence boards in long strokes.",
                    "throws the brush into the lake.",
                    "plays a song on the piano.",
                    "eats the paint with a spoon.",
                ],
                "source_id": "activitynet~v_demo",
                "split": "val",
                "split_type": "indomain",
                "label": "0",
            },
            {"spreads the paint along the fence boards in long strokes."},
        ),
        (
            {
                "ind": 25,
                "activity_label": "Making tea",
                "ctx_a": "A woman fills a kettle and sets it on the stove.",
                "ctx_b": "when it whistles, she",
                "ctx": "A woman fills a kettle and sets it on the stove. when it whistles, she",
                "endings": [
                    "puts the kettle in the fridge.",
                    "paints the kettle blue.",
                    "pours the water over a tea bag in a mug.",
                    "climbs onto the roof.",
                ],
                "source_id": "wikihow~1",
                "split": "train",
                "split_type": "indomain",
                "label": "2",
            },
            {"pours the water over a tea bag in a mug."},
        ),
    ],
    "winogrande": [
        (
            {
                "sentence": "The trophy would not fit in the suitcase because the _ was too big.",
                "option1": "trophy",
                "option2": "suitcase",
                "answer": "1",
            },
            {"trophy"},
        ),
        (
            {
                "sentence": "Sam lent Chris an umbrella because _ was going out in the rain.",
                "option1": "Sam",
                "option2": "Chris",
                "answer": "2",
            },
            {"Chris"},
        ),
    ],
    "arc": [
        (
            {
                "id": "Mercury_7001",
                "question": "Which of these is a source of light?",
                "choices": {
                    "text": ["the Moon", "the Sun", "a mirror", "a window"],
                    "label": ["A", "B", "C", "D"],
                },
                "answerKey": "B",
            },
            {"the Sun"},
        ),
        (
            {
                "id": "NYSEDREGENTS_2015_4_9",
                "question": "What do plants need to make their own food?",
                "choices": {"text": ["sunlight", "sand", "salt"], "label": ["1", "2", "3"]},
                "answerKey": "1",
            },
            {"sunlight"},
        ),
    ],
    "openbookqa": [
        (
            {
                "id": "7-980",
                "question_stem": "A magnet will stick to",
                "choices": {
                    "text": ["a wooden spoon", "an iron nail", "a glass jar", "a paper cup"],
                    "label": ["A", "B", "C", "D"],
                },
                "answerKey": "B",
            },
            {"an iron nail"},
        ),
    ],
    "cnn_dailymail": [
        (
            {
                "article": "(CNN) -- A town library that closed after a flood in March reopened "
                "on Saturday with new shelves, a reading garden and longer opening hours. "
                "Volunteers spent six months drying and sorting the books.",
                "highlights": "Town library reopens after March flood .\nVolunteers spent six "
                "months sorting books .",
                "id": "0001d1afc246a7964130f43ae940af6bc6c57f01",
            },
            {
                "Town library reopens after March flood .\nVolunteers spent six months "
                "sorting books ."
            },
        ),
    ],
    "xsum": [
        (
            {
                "document": "A coastal path closed since a cliff fall last winter has reopened "
                "after engineers moved a section of it further inland.\nWalkers are asked to "
                "keep to the marked route.",
                "summary": "A coastal path has reopened after part of it was moved inland "
                "following a cliff fall.",
                "id": "38264402",
            },
            {
                "A coastal path has reopened after part of it was moved inland following a "
                "cliff fall."
            },
        ),
    ],
    "wmt": [
        (
            {
                "translation": {
                    "de": "Der Zug fährt um acht Uhr ab.",
                    "en": "The train leaves at eight o'clock.",
                }
            },
            {"The train leaves at eight o'clock.", "Der Zug fährt um acht Uhr ab."},
        ),
    ],
    "common_gen": [
        (
            {
                "concept_set_idx": 0,
                "concepts": ["dog", "frisbee", "catch", "throw"],
                "target": "A man throws a frisbee and his dog jumps to catch it.",
            },
            {"A man throws a frisbee and his dog jumps to catch it."},
        ),
        (
            {
                "concept_set_idx": 0,
                "concepts": ["dog", "frisbee", "catch", "throw"],
                "target": "The dog catches the frisbee I throw.",
            },
            {"The dog catches the frisbee I throw."},
        ),
    ],
    "e2e_nlg": [
        (
            {
                "meaning_representation": "name[The Copper Kettle], eatType[coffee shop], "
                "food[Italian], area[riverside]",
                "human_reference": "The Copper Kettle is a coffee shop by the river that "
                "serves Italian food.",
            },
            {"The Copper Kettle is a coffee shop by the river that serves Italian food."},
        ),
    ],
}

# One unlabeled row per dataset whose test split has no gold labels, in its published form.
UNLABELED: dict[str, tuple[Row, str]] = {
    "snli": ({"premise": "A cat sits.", "hypothesis": "An animal rests.", "label": -1}, "label"),
    "multi_nli": (
        {"premise": "It rained.", "hypothesis": "It was wet.", "label": -1, "idx": 4},
        "label",
    ),
    "rte": ({"sentence1": "A b c.", "sentence2": "A b.", "label": -1, "idx": 9}, "label"),
    "qqp": ({"question1": "Why?", "question2": "How?", "label": -1, "idx": 3}, "label"),
    "mrpc": ({"sentence1": "One.", "sentence2": "Two.", "label": -1, "idx": 3}, "label"),
    "sst2": ({"sentence": "fine .", "label": -1, "idx": 3}, "label"),
    "imdb": ({"text": "An unlabeled review.", "label": -1}, "label"),
    "boolq": ({"question": "is it", "passage": "It is.", "idx": 0, "label": -1}, "label"),
    "piqa": (
        {"goal": "Open a can.", "sol1": "Use an opener.", "sol2": "Shout.", "label": -1},
        "label",
    ),
    "copa": (
        {
            "premise": "The glass fell.",
            "choice1": "It broke.",
            "choice2": "It sang.",
            "question": "effect",
            "idx": 0,
            "label": -1,
        },
        "label",
    ),
    "hellaswag": (
        {"ind": 1, "ctx": "A boy kicks a ball.", "endings": ["a", "b", "c", "d"], "label": ""},
        "label",
    ),
    "winogrande": (
        {
            "sentence": "Ann thanked Bea because _ helped.",
            "option1": "Ann",
            "option2": "Bea",
            "answer": "",
        },
        "answer",
    ),
    "trivia_qa": (
        {"question": "Who?", "question_id": "tq_9", "answer": {"aliases": [], "value": ""}},
        "answer.value",
    ),
    "common_gen": ({"concept_set_idx": 7, "concepts": ["sun", "hat"], "target": ""}, "target"),
}


def adapted(name: str) -> list[Row]:
    return list(adapt(name, [row for row, _ in CASES[name]]))


def golds(name: str) -> list[set[str]]:
    return [gold for _, gold in CASES[name]]


# -- the registry ------------------------------------------------------------------------------

ISSUE_DATASETS = [
    *("snli", "multi_nli", "rte", "anli", "sst2", "imdb", "yelp_polarity", "squad", "squad_v2"),
    *("boolq", "cnn_dailymail", "xsum", "wmt", "qqp", "mrpc", "paws", "ag_news", "dbpedia_14"),
    *("trec", "piqa", "copa", "hellaswag", "winogrande", "arc", "openbookqa", "common_gen"),
    "e2e_nlg",
]


def test_at_least_twenty_adapters_covering_the_issue() -> None:
    names = adapter_names()
    assert len(names) >= 20
    assert len(names) == len(set(names))
    assert set(ISSUE_DATASETS) <= set(names)


def test_every_adapter_has_cases_and_a_builtin_task() -> None:
    assert set(CASES) == set(adapter_names())
    tasks = ik.templates.builtin_tasks()
    for name in adapter_names():
        adapter = get_adapter(name)
        assert adapter.name == name
        assert tasks[adapter.task.name] == adapter.task
        for text in (adapter.schema, adapter.quirks, adapter.hub, adapter.title):
            assert text.strip()
        assert len(adapter.templates()) >= 10


def test_the_adapter_table_in_the_docs_is_generated_from_the_registry() -> None:
    page = (ROOT / "docs" / "adapters.md").read_text("utf-8")
    begin = page.index("<!-- adapter-table:begin")
    start = page.index("\n", begin) + 1
    end = page.index("<!-- adapter-table:end -->")
    # On failure, paste the output of instructkit._adapters.markdown_table() into the page.
    assert page[start:end] == markdown_table()
    for name in adapter_names():
        assert f"| `{name}` |" in page


def answer_text(record: ik.Instruction, row: Row) -> str:
    """The answer text a rendered response stands for (a marker names one of the options)."""
    options = record.meta["provenance"]["options"]
    if options is None or options["target"] == "text":
        return record.response
    style = ik.templates.OptionStyle.builtin(options["style"])
    marker = record.response
    position = int(marker) - 1 if style.marker == "number" else ord(marker.upper()) - ord("A")
    task = record_task(record)
    texts = [text for _, text in task.labels] if task.labels else row[task.choices or ""]
    return str(texts[options["order"][position]])


def record_task(record: ik.Instruction) -> ik.Task:
    return ik.templates.builtin_tasks()[record.meta["provenance"]["task"]]


# -- rendered targets equal the gold answers ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_target_is_the_gold_answer(name: str) -> None:
    adapter = get_adapter(name)
    rows = adapted(name)
    expected = golds(name)
    if name == "wmt":  # both directions: one task row each
        assert len(rows) == 2 * len(expected)
        expected = [gold for gold in expected for _ in range(2)]
    assert len(rows) == len(expected)
    for row in rows:
        assert row["dataset"] == name
        assert set(row) == {"id", "dataset", *adapter.task.fields}
    checked = 0
    for template in adapter.templates():
        for row, gold in zip(rows, expected, strict=True):
            shown = render(template, row, options=True, dataset=name)
            assert shown.meta["provenance"]["dataset"] == name
            assert shown.id == f"{name}/{row['id']}/{template.id}"
            # A marker-answer template has no without-options variant.
            bare = None if template.marker_only else render(template, row, options=False)
            if template.inverted:
                continue
            if bare is not None:
                assert bare.response in gold, (template.id, bare.response)
            assert answer_text(shown, row) in gold, (template.id, shown.response)
            checked += 1
    assert checked >= len(rows) * 5  # most templates are not inverted


@pytest.mark.parametrize("name", ["snli", "ag_news", "arc", "copa", "winogrande", "hellaswag"])
@pytest.mark.parametrize("style", ["letters-answer", "numbers-answer"])
def test_marker_answers_point_at_the_gold_option(name: str, style: str) -> None:
    template = next(t for t in get_adapter(name).templates() if t.uses_options)
    marker = template.model_copy(update={"id": "marker-1", "options_style": style})
    for row, gold in zip(adapted(name), golds(name), strict=True):
        shown = render(marker, row, options=True, shuffle_options=True, seed=5)
        assert shown.meta["provenance"]["options"]["target"] == "marker"
        assert len(shown.response) == 1
        assert answer_text(shown, row) in gold


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_template_of_the_task_is_lint_clean_on_adapted_rows(name: str) -> None:
    adapter = get_adapter(name)
    assert lint_templates(adapter.templates(), rows={adapter.task.name: adapted(name)}) == []


def test_convert_of_adapted_rows_uses_the_dataset_name() -> None:
    report = ItemReport()
    records = list(
        convert(
            adapt("copa", [row for row, _ in CASES["copa"]]),
            get_adapter("copa").templates(),
            seed=3,
            dataset="copa",
            per_example="all",
            on_error="collect",
            report=report,
        )
    )
    assert report.rejected == 0
    assert len(records) == 2 * len(get_adapter("copa").templates())
    assert {r.meta["provenance"]["dataset"] for r in records} == {"copa"}
    assert {r.meta["provenance"]["example_id"] for r in records} == {"0", "1"}


# -- specific quirks ---------------------------------------------------------------------------


def test_squad_keeps_every_distinct_gold_answer() -> None:
    first = adapted("squad")[0]
    assert first["answer"] == ["1872", "in 1872"]
    assert first["id"] == "5733be284776f41900661182"


def test_squad_v1_rejects_an_empty_answer_list() -> None:
    row = dict(CASES["squad_v2"][1][0])
    with pytest.raises(DialectError, match="squad_v2 adapter") as info:
        list(adapt("squad", [row]))
    assert info.value.loc == "$.answers.text"
    assert info.value.row == 0


def test_squad_v2_unanswerable_question_renders_the_fallback() -> None:
    rows = adapted("squad_v2")
    assert rows[1]["answer"] == [UNANSWERABLE]
    for template in get_adapter("squad_v2").templates():
        assert render(template, rows[1]).response == UNANSWERABLE
        assert UNANSWERABLE in template.instruction


def test_wmt_both_directions_and_one_direction() -> None:
    source = [row for row, _ in CASES["wmt"]]
    both = list(adapt("wmt", source))
    assert [(r["source_language"], r["target_language"]) for r in both] == [
        ("German", "English"),
        ("English", "German"),
    ]
    assert both[0]["source"] == both[1]["target"][0]
    assert both[1]["source"] == both[0]["target"][0]
    assert both[0]["id"].endswith(".de-en")
    assert both[1]["id"].endswith(".en-de")
    assert both[0]["id"].split(".")[0] == both[1]["id"].split(".")[0]
    one = list(adapt("wmt", source, direction="en-de"))
    assert one == [both[1]]
    with pytest.raises(DialectError, match="direction 'fr-en'"):
        list(adapt("wmt", source, direction="fr-en"))


@pytest.mark.parametrize("direction", ["de", "de-de", "xx-en", "DE-EN", 3])
def test_wmt_rejects_bad_directions_at_the_call(direction: object) -> None:
    with pytest.raises(ConfigurationError, match="wmt"):
        adapt("wmt", [], direction=direction)


def test_labels_and_answer_keys_become_task_values() -> None:
    assert [r["label"] for r in adapted("boolq")] == [1, 0, 1]
    assert [r["answer"] for r in adapted("winogrande")] == [0, 1]
    assert [r["answer"] for r in adapted("hellaswag")] == [0, 2]
    assert [r["answer"] for r in adapted("arc")] == [1, 0]
    assert [r["relation"] for r in adapted("copa")] == ["cause", "effect"]
    assert [r["label"] for r in adapted("trec")] == [5, 3, 4]
    rte = adapted("rte")
    assert rte[2]["premise"].startswith("Ana moved")


def test_texts_are_stripped_and_otherwise_untouched() -> None:
    assert adapted("sst2")[0]["text"] == "a warm , funny and quietly moving film"
    assert adapted("dbpedia_14")[0]["content"].startswith("The pale marsh frog")
    assert "<br /><br />" in adapted("imdb")[0]["text"]
    assert "\n" in adapted("cnn_dailymail")[0]["summary"][0]


def test_ids_come_from_the_id_column_or_the_content() -> None:
    assert [r["id"] for r in adapted("sst2")] == ["0", "1"]
    assert [r["id"] for r in adapted("multi_nli")] == ["5001e", "5002c"]
    assert [r["id"] for r in adapted("hellaswag")] == ["24", "25"]
    snli = adapted("snli")
    assert all(r["id"].startswith("h") and len(r["id"]) == 17 for r in snli)
    assert len({r["id"] for r in snli}) == len(snli)
    adapter = get_adapter("snli")
    assert snli[0]["id"] == content_id(CASES["snli"][0][0], adapter.columns)
    # Other columns do not change the id; the published ones do.
    extra = {**CASES["snli"][0][0], "note": "x"}
    assert next(adapt("snli", [extra]))["id"] == snli[0]["id"]
    changed = {**CASES["snli"][0][0], "label": 1}
    assert next(adapt("snli", [changed]))["id"] != snli[0]["id"]


# -- unlabeled rows and bad rows ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(UNLABELED))
def test_unlabeled_rows_are_reported_not_rendered(name: str) -> None:
    bad, column = UNLABELED[name]
    good = CASES[name][0][0]
    report = ItemReport()
    rows = list(adapt(name, [good, bad, good], on_error="collect", report=report))
    assert len(rows) == 2
    assert (report.seen, report.valid, report.rejected) == (3, 2, 1)
    assert report.balanced
    rejection = report.rejections[0]
    assert rejection.row == 1
    assert rejection.loc == f"$.{column}"
    assert "unlabeled" in rejection.reason
    assert isinstance(rejection.error, DialectError)
    with pytest.raises(DialectError, match="unlabeled") as info:
        list(adapt(name, [good, bad]))
    assert info.value.row == 1


@pytest.mark.parametrize(
    ("name", "row", "loc", "words"),
    [
        ("snli", {"premise": "A.", "label": 0}, "$.hypothesis", "expected a column 'hypothesis'"),
        ("snli", {"premise": "A.", "hypothesis": "B.", "label": 3}, "$.label", "got 3"),
        ("snli", {"premise": "A.", "hypothesis": "B.", "label": "0"}, "$.label", "int label"),
        ("snli", {"premise": "A.", "hypothesis": "B.", "label": True}, "$.label", "boolean"),
        ("snli", {"premise": "  ", "hypothesis": "B.", "label": 0}, "$.premise", "non-blank"),
        ("sst2", {"sentence": 5, "label": 0}, "$.sentence", "got an int"),
        ("sst2", {"sentence": None, "label": 0}, "$.sentence", "got null"),
        ("squad", {"context": "C.", "question": "Q?", "answers": ["x"]}, "$.answers", "object"),
        (
            "arc",
            {
                "question": "Q?",
                "choices": {"text": ["a", "b"], "label": ["A", "B"]},
                "answerKey": "C",
            },
            "$.answerKey",
            "among ['A', 'B']",
        ),
        (
            "arc",
            {
                "question": "Q?",
                "choices": {"text": ["a", "a"], "label": ["A", "B"]},
                "answerKey": "A",
            },
            "$.choices.text[1]",
            "distinct",
        ),
        (
            "arc",
            {"question": "Q?", "choices": {"text": ["a", "b"], "label": ["A"]}, "answerKey": "A"},
            "$.choices.label",
            None,
        ),
        (
            "copa",
            {"premise": "P.", "choice1": "a", "choice2": "b", "question": "reason", "label": 0},
            "$.question",
            "'cause' or 'effect'",
        ),
        (
            "piqa",
            {"goal": "G.", "sol1": "same", "sol2": "same", "label": 0},
            "$.sol2",
            "to differ",
        ),
        (
            "winogrande",
            {"sentence": "No blank here.", "option1": "a", "option2": "b", "answer": "1"},
            "$.sentence",
            "'_' blank",
        ),
        (
            "winogrande",
            {"sentence": "A _ b.", "option1": "a", "option2": "b", "answer": "3"},
            "$.answer",
            None,
        ),
        ("boolq", {"question": "q", "passage": "p", "answer": "yes"}, "$.answer", "boolean"),
        ("boolq", {"question": "q", "passage": "p"}, "$.answer", "got neither"),
        ("wmt", {"translation": {"de": "Hallo", "xx": "Hi"}}, "$.translation.xx", "language code"),
        ("wmt", {"translation": {"de": "Hallo", "en": ""}}, "$.translation.en", "non-blank"),
        ("common_gen", {"concepts": "dog cat", "target": "A dog."}, "$.concepts", "list"),
        (
            "multi_nli",
            {"premise": "a", "hypothesis": "b", "label": 0, "pairID": 1.5},
            "$.pairID",
            None,
        ),
    ],
)
def test_bad_rows_raise_located_dialect_errors(
    name: str, row: Row, loc: str, words: str | None
) -> None:
    with pytest.raises(DialectError) as info:
        list(adapt(name, [CASES[name][0][0], row]))
    err = info.value
    assert isinstance(err, ik.DataError)
    assert isinstance(err, ValueError)
    assert err.loc == loc
    assert err.row == 1
    assert str(err).startswith(f"adapter {name!r}: expected")
    if words is not None:
        assert words in str(err)


def test_a_row_that_is_not_a_mapping_is_bad_data() -> None:
    report = ItemReport()
    rows = list(adapt("sst2", ["text", CASES["sst2"][0][0]], on_error="skip", report=report))
    assert len(rows) == 1
    assert report.rejections[0].row == 0
    assert "expected a row mapping" in report.rejections[0].reason


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: adapt("no_such_dataset", []), "adapter name among"),
        (lambda: adapt("snli", [], colour="red"), "options among"),
        (lambda: adapt("snli", [], on_error="skip"), "report="),
        (lambda: adapt("snli", [], on_error="ignore", report=ItemReport()), "on_error"),
        (lambda: adapt("snli", [], on_error="skip", report=[]), "ItemReport"),
        (lambda: adapt("snli", {"premise": "a", "hypothesis": "b", "label": 0}), "single mapping"),
        (lambda: adapt("snli", "rows.jsonl"), "got str"),
        (lambda: adapt("snli", 42), "got int"),
    ],
)
def test_bad_arguments_fail_at_the_call(call: Any, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        call()


# -- containers: lists, Arrow tables, Hugging Face datasets ------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_arrow_tables_give_the_same_rows_as_dicts(name: str) -> None:
    published = [row for row, _ in CASES[name]]
    if name in ("rte", "boolq", "trec"):
        published = published[:2]  # the last row uses an alternative schema
    table = pa.Table.from_pylist(published)
    expected = list(adapt(name, published))
    assert list(adapt(name, table)) == expected
    assert list(adapt(name, table.to_batches()[0])) == expected


def test_arrow_rows_are_read_in_batches() -> None:
    published = [
        {"sentence": f"sentence number {i}", "label": i % 2, "idx": i} for i in range(2500)
    ]
    table = pa.Table.from_pylist(published)
    rows = adapt("sst2", table)
    assert next(rows)["id"] == "0"
    assert len(list(rows)) == 2499


@pytest.fixture(scope="module")
def hf() -> Any:
    return pytest.importorskip("datasets")


@pytest.mark.parametrize("name", ["snli", "squad", "arc", "hellaswag", "wmt", "common_gen"])
def test_hugging_face_datasets_give_the_same_rows_as_dicts(hf: Any, name: str) -> None:
    published = [row for row, _ in CASES[name]]
    dataset = hf.Dataset.from_list(published)
    assert list(adapt(name, dataset)) == list(adapt(name, published))
    # A numpy/torch-style format set by the caller does not leak into the rows.
    assert list(adapt(name, dataset.with_format("numpy"))) == list(adapt(name, published))


def test_hugging_face_selection_and_class_labels(hf: Any) -> None:
    features = hf.Features(
        {
            "premise": hf.Value("string"),
            "hypothesis": hf.Value("string"),
            "label": hf.ClassLabel(names=["entailment", "neutral", "contradiction"]),
        }
    )
    published = [row for row, _ in CASES["snli"]]
    dataset = hf.Dataset.from_list(published, features=features)
    picked = dataset.select([2, 0])
    assert list(adapt("snli", picked)) == list(adapt("snli", [published[2], published[0]]))
    streamed = dataset.to_iterable_dataset()
    assert list(adapt("snli", streamed)) == list(adapt("snli", published))
    with pytest.raises(ConfigurationError, match=r"splits \['train'\]"):
        adapt("snli", hf.DatasetDict({"train": dataset}))


# -- laws --------------------------------------------------------------------------------------


def _pool() -> list[Row]:
    rows: list[Row] = [row for row, _ in CASES["snli"]]
    rows.append(UNLABELED["snli"][0])
    rows.append({"premise": "Only a premise.", "label": 0})
    return rows


@given(st.lists(st.integers(0, 4), max_size=12), st.randoms(use_true_random=False))
def test_adapting_is_per_row_order_free_and_accounted(picks: list[int], rnd: random.Random) -> None:
    pool = _pool()
    published = [pool[i] for i in picks]
    report = ItemReport()
    out = list(adapt("snli", published, on_error="skip", report=report))
    assert report.balanced
    assert report.seen == len(published)
    assert report.valid == len(out) == sum(1 for i in picks if i < 3)
    # Each row maps on its own: the output of a concatenation is the concatenation...
    half = len(published) // 2
    first = list(adapt("snli", published[:half], on_error="skip", report=ItemReport()))
    second = list(adapt("snli", published[half:], on_error="skip", report=ItemReport()))
    assert out == first + second
    # ...and shuffling the input only shuffles the output (ids do not depend on position).
    shuffled = published[:]
    rnd.shuffle(shuffled)
    again = list(adapt("snli", shuffled, on_error="skip", report=ItemReport()))
    key = lambda r: (r["id"], r["hypothesis"])  # noqa: E731
    assert sorted(again, key=key) == sorted(out, key=key)


@given(st.text(min_size=1, max_size=30).filter(str.strip), st.integers(0, 1))
def test_any_sentence_and_label_round_trip_through_sst2(text: str, label: int) -> None:
    (row,) = adapt("sst2", [{"sentence": text, "label": label, "idx": 7}])
    assert row == {"id": "7", "dataset": "sst2", "text": text.strip(), "label": label}
    template = get_adapter("sst2").templates()[0]
    assert render(template, row, options=False).response == ("positive" if label else "negative")


def test_pandas_frames_are_refused_with_a_hint_and_numpy_ints_are_ints() -> None:
    pandas = pytest.importorskip("pandas")
    published = [row for row, _ in CASES["sst2"]]
    frame = pandas.DataFrame(published)
    with pytest.raises(ConfigurationError, match="from_pandas"):
        adapt("sst2", frame)
    expected = list(adapt("sst2", published))
    assert list(adapt("sst2", pa.Table.from_pandas(frame))) == expected
    assert list(adapt("sst2", frame.to_dict("records"))) == expected
    # Rows built from numpy values (frame.iloc, np.load) hold numpy integers: they count as
    # the ints they hold, for labels, answer indices and ids alike.
    numpy = pytest.importorskip("numpy")
    row = {"sentence": "fine", "label": numpy.int64(1), "idx": numpy.int32(4)}
    assert list(adapt("sst2", [row])) == [
        {"id": "4", "dataset": "sst2", "text": "fine", "label": 1}
    ]
    ending = {"ctx": "A", "endings": ["x", "y"], "label": numpy.int8(1), "ind": numpy.int64(3)}
    assert next(adapt("hellaswag", [ending]))["answer"] == 1
    plain = CASES["snli"][1][0]
    assert list(adapt("snli", [{**plain, "label": numpy.int64(1)}])) == adapted("snli")[1:2]


# -- any row: a task row or a located rejection --------------------------------------------

_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
_ANY_TEXT = st.one_of(st.text(max_size=8), invalid_texts(base=st.text(max_size=8)))
# Keys of the nested columns the adapters read (answers, choices, translation, answer).
_KEYS = ["text", "label", "value", "answer_start", "en", "de", "fr", "1"]
_ANY_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.floats(), _ANY_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)


def _with_surrogate(value: Any, surrogate: str, pick: int) -> Any:
    """``value`` with a lone surrogate put into one of its texts (the ``pick``-th, cycling)."""
    texts: list[tuple[Any, Any]] = []

    def walk(parent: Any, key: Any) -> None:
        item = parent[key]
        if isinstance(item, str):
            texts.append((parent, key))
        elif isinstance(item, dict):
            for inner in item:
                walk(item, inner)
        elif isinstance(item, list):
            for inner in range(len(item)):
                walk(item, inner)

    holder = [copy.deepcopy(value)]
    walk(holder, 0)
    if texts:
        parent, key = texts[pick % len(texts)]
        parent[key] = parent[key][:1] + surrogate + parent[key][1:]
    return holder[0]


@st.composite
def _published_rows(draw: st.DrawFn, name: str) -> Row:
    """A published row of ``name``'s shape with some columns damaged in any way."""
    adapter = get_adapter(name)
    row = copy.deepcopy(draw(st.sampled_from([row for row, _ in CASES[name]])))
    for column in sorted({*adapter.columns, *adapter.id_columns, *row}):
        how = draw(st.sampled_from(["keep", "keep", "surrogate", "any", "drop"]))
        if how == "drop":
            row.pop(column, None)
        elif how == "any":
            row[column] = draw(_ANY_VALUE)
        elif how == "surrogate" and column in row:
            row[column] = _with_surrogate(row[column], draw(_SURROGATES), draw(st.integers(0, 5)))
    return row


def _utf8_texts(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_utf8_texts(item) for item in value.values())
    if isinstance(value, list):
        return all(_utf8_texts(item) for item in value)
    return True


@given(st.data())
def test_every_adapter_gives_a_task_row_or_a_located_rejection_for_any_row(
    data: st.DataObject,
) -> None:
    name = data.draw(st.sampled_from(sorted(CASES)))
    published = data.draw(st.lists(_published_rows(name), min_size=1, max_size=4))
    report = ItemReport()
    out = list(adapt(name, published, on_error="collect", report=report))
    assert report.balanced
    assert report.seen == len(published)
    for rejection in report.rejections:
        assert isinstance(rejection.error, DialectError)
        assert rejection.loc is not None
        assert rejection.row is not None
    # What the adapters let through holds only text every writer can encode.
    assert all(_utf8_texts(row) for row in out)


@pytest.mark.parametrize("name", sorted(n for n in CASES if not get_adapter(n).id_columns))
def test_a_lone_surrogate_is_a_located_rejection_also_for_adapters_hashing_the_row(
    name: str,
) -> None:
    # Adapters without an id column hash the published columns; a lone surrogate there used
    # to escape as orjson's TypeError and leave the report unbalanced.
    adapter = get_adapter(name)
    good = CASES[name][0][0]
    for column in adapter.columns:
        if column not in good:
            continue
        row = {**good, column: _with_surrogate(good[column], "\ud800", 0)}
        if row[column] == good[column]:
            continue  # no text in this column
        report = ItemReport()
        assert list(adapt(name, [row], on_error="collect", report=report)) == []
        assert report.balanced
        assert report.rejected == 1
        (rejection,) = report.rejections
        assert rejection.loc is not None
        assert rejection.loc.startswith(f"$.{column}")


def test_snli_premise_with_a_lone_surrogate_is_rejected_at_the_premise() -> None:
    report = ItemReport()
    rows = [{"premise": "a\ud800", "hypothesis": "b", "label": 0}]
    assert list(adapt("snli", rows, on_error="collect", report=report)) == []
    assert report.summary() == "snli: 1 seen, 0 valid, 1 rejected, 0 blank"
    assert report.rejections[0].loc == "$.premise"
    assert report.rejections[0].row == 0
