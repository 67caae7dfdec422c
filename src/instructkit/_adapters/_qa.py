"""Adapters for question answering: SQuAD v1 and v2, BoolQ, Natural Questions and TriviaQA."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instructkit._adapters._base import Adapter, Mapped, Row
from instructkit._library import (
    CLOSED_BOOK_QA,
    EXTRACTIVE_QA,
    EXTRACTIVE_QA_UNANSWERABLE,
    UNANSWERABLE,
    YES_NO_QA,
)

__all__ = ["ADAPTERS"]


def _distinct(items: list[str]) -> list[str]:
    # SQuAD's validation split repeats an answer once per annotator; repeats would only skew
    # the seeded pick among the alternatives.
    return list(dict.fromkeys(items))


def _squad_answers(row: Row, *, allow_none: bool) -> list[str]:
    answers = row.mapping("answers")
    if "text" not in answers or answers["text"] is None:
        raise row.error("answers.text", "expected answers.text (a list of answer texts), got none")
    texts = row.text_list(answers["text"], "answers.text", minimum=0)
    if not texts and not allow_none:
        raise row.error(
            "answers.text",
            "expected at least one gold answer in answers.text, got an empty list (SQuAD v1 "
            "questions are all answerable; use the squad_v2 adapter for v2 rows)",
        )
    return _distinct(texts)


def _squad(row: Row, options: Mapping[str, Any]) -> Mapped:
    return {
        "context": row.text("context"),
        "question": row.text("question"),
        "answer": _squad_answers(row, allow_none=False),
    }


def _squad_v2(row: Row, options: Mapping[str, Any]) -> Mapped:
    answers = _squad_answers(row, allow_none=True)
    return {
        "context": row.text("context"),
        "question": row.text("question"),
        "answer": answers or [UNANSWERABLE],
    }


def _boolq(row: Row, options: Mapping[str, Any]) -> Mapped:
    if row.has("label"):
        label = row.label("label", (0, 1), meaning="0 false, 1 true")
    elif not row.has("answer"):
        raise row.error(
            "answer",
            "expected a boolean column 'answer' (or SuperGLUE's 'label'), got neither",
        )
    else:
        answer = row.raw("answer")
        if not isinstance(answer, bool):
            raise row.error(
                "answer", f"expected a boolean in column 'answer', got {type(answer).__name__}"
            )
        label = int(answer)
    return {"passage": row.text("passage"), "question": row.text("question"), "label": label}


def _nq_open(row: Row, options: Mapping[str, Any]) -> Mapped:
    return {"question": row.text("question"), "answer": _distinct(row.texts("answer"))}


def _trivia_qa(row: Row, options: Mapping[str, Any]) -> Mapped:
    answer = row.mapping("answer")
    value = answer.get("value")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise row.unlabeled("answer.value", value)
    if not isinstance(value, str):
        raise row.error(
            "answer.value", f"expected text in answer.value, got {type(value).__name__}"
        )
    answer_text = row.encodable(value.strip(), "answer.value")
    return {"question": row.text("question"), "answer": [answer_text]}


ADAPTERS: tuple[Adapter, ...] = (
    Adapter(
        name="squad",
        title="SQuAD v1.1",
        hub="rajpurkar/squad",
        task=EXTRACTIVE_QA,
        schema="id: string; title: string; context: string; question: string; answers: "
        "{text: list[string], answer_start: list[int]}",
        columns=("context", "question", "answers"),
        id_columns=("id",),
        quirks="Every text in answers.text is a gold answer (repeats removed); one is picked "
        "per example by a seeded hash. An empty answer list is an error.",
        mapper=_squad,
    ),
    Adapter(
        name="squad_v2",
        title="SQuAD 2.0",
        hub="rajpurkar/squad_v2",
        task=EXTRACTIVE_QA_UNANSWERABLE,
        schema="id: string; title: string; context: string; question: string; answers: "
        "{text: list[string], answer_start: list[int]} (both lists empty for an "
        "unanswerable question)",
        columns=("context", "question", "answers"),
        id_columns=("id",),
        quirks=f"Unanswerable questions (empty answers.text) get the answer {UNANSWERABLE!r}, "
        "which every template of the task asks for.",
        mapper=_squad_v2,
    ),
    Adapter(
        name="boolq",
        title="BoolQ",
        hub="google/boolq",
        task=YES_NO_QA,
        schema="question: string; answer: bool; passage: string. SuperGLUE copies have "
        "label: int (0 False, 1 True, -1 unlabeled) and idx: int instead of answer.",
        columns=("question", "passage", "answer", "label"),
        id_columns=("idx",),
        quirks="Reads the boolean answer (True -> 1), or the label and idx of super_glue "
        "boolq (-1: unlabeled). Questions stay lower case without a question mark.",
        mapper=_boolq,
    ),
    Adapter(
        name="nq_open",
        title="Natural Questions (open)",
        hub="google-research-datasets/nq_open",
        task=CLOSED_BOOK_QA,
        schema="question: string; answer: list[string]",
        columns=("question", "answer"),
        id_columns=(),
        quirks="Every listed answer is a gold alternative (one is picked per example).",
        mapper=_nq_open,
    ),
    Adapter(
        name="trivia_qa",
        title="TriviaQA (no context)",
        hub="mandarjoshi/trivia_qa rc.nocontext",
        task=CLOSED_BOOK_QA,
        schema="question: string; question_id: string; question_source: string; answer: "
        "{value: string, aliases: list[string], normalized_value: string, ...}",
        columns=("question", "answer"),
        id_columns=("question_id",),
        quirks="The target is answer.value (the aliases include lower-cased and partial "
        "forms that read badly as a response). An empty value (test split) is reported as "
        "unlabeled.",
        mapper=_trivia_qa,
    ),
)
"""The question-answering adapters, in catalogue order."""
