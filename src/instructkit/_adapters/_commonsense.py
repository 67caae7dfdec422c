"""Adapters for multiple-choice commonsense and science datasets, and WinoGrande.

Each maps its published answer encoding (an int, a string index, a letter or digit key, "1"/"2")
onto an index into the example's ``choices``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instructkit._adapters._base import Adapter, Mapped, Row
from instructkit._library import (
    CAUSE_EFFECT,
    FILL_BLANK,
    MULTIPLE_CHOICE_QA,
    SENTENCE_COMPLETION,
)

__all__ = ["ADAPTERS"]


def _pair(row: Row, first: str, second: str) -> list[str]:
    choices = [row.text(first), row.text(second)]
    if choices[0] == choices[1]:
        raise row.error(
            second, f"expected {first} and {second} to differ, got {choices[0]!r} in both"
        )
    return choices


def _piqa(row: Row, options: Mapping[str, Any]) -> Mapped:
    return {
        "question": row.text("goal"),
        "choices": _pair(row, "sol1", "sol2"),
        "answer": row.label("label", (0, 1), meaning="0 sol1, 1 sol2"),
    }


def _copa(row: Row, options: Mapping[str, Any]) -> Mapped:
    relation = row.text("question")
    if relation not in ("cause", "effect"):
        raise row.error(
            "question", f"expected 'cause' or 'effect' in column 'question', got {relation!r}"
        )
    return {
        "premise": row.text("premise"),
        "relation": relation,
        "choices": _pair(row, "choice1", "choice2"),
        "answer": row.label("label", (0, 1), meaning="0 choice1, 1 choice2"),
    }


def _hellaswag(row: Row, options: Mapping[str, Any]) -> Mapped:
    endings = row.texts("endings", minimum=2, distinct=True)
    keys = [str(i) for i in range(len(endings))]
    return {
        "context": row.text("ctx"),
        "choices": endings,
        "answer": row.choice_index("label", keys, what="the index of the right ending"),
    }


def _winogrande(row: Row, options: Mapping[str, Any]) -> Mapped:
    sentence = row.text("sentence")
    if "_" not in sentence:
        raise row.error("sentence", f"expected a '_' blank in column 'sentence', got {sentence!r}")
    return {
        "sentence": sentence,
        "choices": _pair(row, "option1", "option2"),
        "answer": row.choice_index("answer", ["1", "2"], what="the right option number"),
    }


def _keyed(row: Row, question: str) -> Mapped:
    choices = row.mapping("choices")
    for part in ("text", "label"):
        if choices.get(part) is None:
            raise row.error(f"choices.{part}", f"expected choices.{part} (a list), got none")
    texts = row.text_list(choices["text"], "choices.text", minimum=2, distinct=True)
    keys = row.text_list(choices["label"], "choices.label", minimum=2, distinct=True)
    if len(keys) != len(texts):
        raise row.error(
            "choices.label",
            f"expected one key per choice text ({len(texts)}), got {len(keys)}",
        )
    return {
        "question": row.text(question),
        "choices": texts,
        "answer": row.choice_index("answerKey", keys, what="the answer key"),
    }


def _arc(row: Row, options: Mapping[str, Any]) -> Mapped:
    return _keyed(row, "question")


def _openbookqa(row: Row, options: Mapping[str, Any]) -> Mapped:
    return _keyed(row, "question_stem")


ADAPTERS: tuple[Adapter, ...] = (
    Adapter(
        name="piqa",
        title="PIQA",
        hub="ybisk/piqa",
        task=MULTIPLE_CHOICE_QA,
        schema="goal: string; sol1: string; sol2: string; label: int (0 sol1, 1 sol2, "
        "-1 unlabeled)",
        columns=("goal", "sol1", "sol2", "label"),
        id_columns=(),
        quirks="The goal is the question and [sol1, sol2] the choices. Label -1 (test split) "
        "is reported as unlabeled.",
        mapper=_piqa,
    ),
    Adapter(
        name="copa",
        title="COPA",
        hub="super_glue copa",
        task=CAUSE_EFFECT,
        schema="premise: string; choice1: string; choice2: string; question: string ('cause' "
        "or 'effect'); idx: int; label: int (0 choice1, 1 choice2, -1 unlabeled)",
        columns=("premise", "choice1", "choice2", "question", "label"),
        id_columns=("idx",),
        quirks="COPA's question column (cause/effect) becomes the relation field. Label -1 "
        "(test split) is reported as unlabeled.",
        mapper=_copa,
    ),
    Adapter(
        name="hellaswag",
        title="HellaSwag",
        hub="Rowan/hellaswag",
        task=SENTENCE_COMPLETION,
        schema="ind: int; activity_label: string; ctx_a: string; ctx_b: string; ctx: string; "
        "endings: list[string] (4); source_id: string; split: string; split_type: string; "
        "label: string ('0'-'3', '' in the test split)",
        columns=("ctx", "endings", "label"),
        id_columns=("ind",),
        quirks="The label is a string index ('2'); an empty label (test split) is reported as "
        "unlabeled. Uses ctx (ctx_a and ctx_b joined) as the context.",
        mapper=_hellaswag,
    ),
    Adapter(
        name="winogrande",
        title="WinoGrande",
        hub="allenai/winogrande",
        task=FILL_BLANK,
        schema="sentence: string (with one '_'); option1: string; option2: string; answer: "
        "string ('1' or '2', '' in the test split)",
        columns=("sentence", "option1", "option2", "answer"),
        id_columns=(),
        quirks="The answer '1'/'2' becomes index 0/1 into [option1, option2]; an empty answer "
        "(test split) is reported as unlabeled.",
        mapper=_winogrande,
    ),
    Adapter(
        name="arc",
        title="AI2 Reasoning Challenge",
        hub="allenai/ai2_arc",
        task=MULTIPLE_CHOICE_QA,
        schema="id: string; question: string; choices: {text: list[string], label: "
        "list[string]}; answerKey: string",
        columns=("question", "choices", "answerKey"),
        id_columns=("id",),
        quirks="Choice keys are letters ('A'-'E') for most questions and digits ('1'-'5') for "
        "some; answerKey is looked up among the row's own keys. 3 to 5 choices.",
        mapper=_arc,
    ),
    Adapter(
        name="openbookqa",
        title="OpenBookQA",
        hub="allenai/openbookqa main",
        task=MULTIPLE_CHOICE_QA,
        schema="id: string; question_stem: string; choices: {text: list[string], label: "
        "list[string]}; answerKey: string. The additional config's fact1, humanScore, clarity "
        "and turkIdAnonymized are ignored.",
        columns=("question_stem", "choices", "answerKey"),
        id_columns=("id",),
        quirks="The question is in question_stem, often an unfinished sentence that the "
        "right choice completes.",
        mapper=_openbookqa,
    ),
)
"""The commonsense and multiple-choice adapters, in catalogue order."""
