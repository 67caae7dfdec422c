"""Adapters for sentence-pair and single-text classification datasets.

NLI (SNLI, MultiNLI, ANLI, RTE), paraphrase (QQP, MRPC, PAWS), sentiment (SST-2, IMDB, Yelp
polarity) and topic classification (AG News, DBpedia-14, TREC). The built-in tasks use the
published label ids, so these adapters mostly rename columns and check the ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instructkit._adapters._base import Adapter, Mapped, Mapper, Row
from instructkit._library import (
    ENTAILMENT,
    ENTITY_CATEGORY,
    NEWS_TOPIC,
    NLI,
    PARAPHRASE,
    QUESTION_TYPE,
    SENTIMENT,
)

__all__ = ["ADAPTERS"]

_NLI_IDS = "0 entailment, 1 neutral, 2 contradiction"


def _nli(row: Row, options: Mapping[str, Any]) -> Mapped:
    return {
        "premise": row.text("premise"),
        "hypothesis": row.text("hypothesis"),
        "label": row.label("label", (0, 1, 2), meaning=_NLI_IDS),
    }


def _rte(row: Row, options: Mapping[str, Any]) -> Mapped:
    # GLUE publishes sentence1/sentence2, SuperGLUE premise/hypothesis; both use 0/1 ids.
    glue = row.has("sentence1") or not row.has("premise")
    return {
        "premise": row.text("sentence1" if glue else "premise"),
        "hypothesis": row.text("sentence2" if glue else "hypothesis"),
        "label": row.label("label", (0, 1), meaning="0 entailment, 1 not entailment"),
    }


def _pair(first: str, second: str) -> Mapper:
    def mapper(row: Row, options: Mapping[str, Any]) -> Mapped:
        return {
            "sentence1": row.text(first),
            "sentence2": row.text(second),
            "label": row.label("label", (0, 1), meaning="0 different, 1 same meaning"),
        }

    return mapper


def _text_label(column: str, ids: tuple[int, ...], meaning: str) -> Mapper:
    def mapper(row: Row, options: Mapping[str, Any]) -> Mapped:
        return {"text": row.text(column), "label": row.label("label", ids, meaning=meaning)}

    return mapper


def _dbpedia(row: Row, options: Mapping[str, Any]) -> Mapped:
    return {
        "title": row.text("title"),
        "content": row.text("content"),
        "label": row.label("label", tuple(range(14)), meaning="the 14 DBpedia classes"),
    }


def _trec(row: Row, options: Mapping[str, Any]) -> Mapped:
    # The current hub copy names the column coarse_label; older copies used label-coarse.
    column = (
        "label-coarse"
        if row.has("label-coarse") and not row.has("coarse_label")
        else ("coarse_label")
    )
    return {
        "question": row.text("text"),
        "label": row.label(
            column,
            tuple(range(6)),
            meaning="0 ABBR, 1 ENTY, 2 DESC, 3 HUM, 4 LOC, 5 NUM",
        ),
    }


ADAPTERS: tuple[Adapter, ...] = (
    Adapter(
        name="snli",
        title="SNLI",
        hub="stanfordnlp/snli",
        task=NLI,
        schema="premise: string; hypothesis: string; label: int (0 entailment, 1 neutral, "
        "2 contradiction, -1 no gold label)",
        columns=("premise", "hypothesis", "label"),
        id_columns=(),
        quirks="Label -1 (no annotator majority) is reported as unlabeled.",
        mapper=_nli,
    ),
    Adapter(
        name="multi_nli",
        title="MultiNLI",
        hub="nyu-mll/multi_nli",
        task=NLI,
        schema="promptID: int; pairID: string; premise: string; hypothesis: string; genre: "
        "string; label: int (0 entailment, 1 neutral, 2 contradiction, -1 unlabeled); "
        "the *_parse / *_binary_parse columns are ignored. GLUE copies have idx instead of "
        "pairID.",
        columns=("premise", "hypothesis", "label"),
        id_columns=("pairID", "idx"),
        quirks="Also reads GLUE's mnli copy (ids from idx, which restarts in every split). "
        "Label -1 (GLUE test splits) is reported as unlabeled.",
        mapper=_nli,
    ),
    Adapter(
        name="anli",
        title="Adversarial NLI",
        hub="facebook/anli",
        task=NLI,
        schema="uid: string; premise: string; hypothesis: string; label: int (0 entailment, "
        "1 neutral, 2 contradiction); reason: string (ignored)",
        columns=("premise", "hypothesis", "label"),
        id_columns=("uid",),
        quirks="All rounds (train_r1 ... test_r3) share the schema; ids from uid.",
        mapper=_nli,
    ),
    Adapter(
        name="rte",
        title="RTE",
        hub="nyu-mll/glue rte",
        task=ENTAILMENT,
        schema="sentence1: string; sentence2: string; label: int (0 entailment, "
        "1 not_entailment, -1 unlabeled); idx: int. SuperGLUE copies name the texts premise "
        "and hypothesis.",
        columns=("sentence1", "sentence2", "premise", "hypothesis", "label"),
        id_columns=("idx",),
        quirks="Reads the GLUE or the SuperGLUE (super_glue rte) column names. Two-way "
        "task; label -1 (test splits) is reported as unlabeled.",
        mapper=_rte,
    ),
    Adapter(
        name="qqp",
        title="Quora Question Pairs",
        hub="nyu-mll/glue qqp",
        task=PARAPHRASE,
        schema="question1: string; question2: string; label: int (0 not_duplicate, "
        "1 duplicate, -1 unlabeled); idx: int",
        columns=("question1", "question2", "label"),
        id_columns=("idx",),
        quirks="The questions become sentence1/sentence2; label -1 (test split) is reported "
        "as unlabeled.",
        mapper=_pair("question1", "question2"),
    ),
    Adapter(
        name="mrpc",
        title="Microsoft Research Paraphrase Corpus",
        hub="nyu-mll/glue mrpc",
        task=PARAPHRASE,
        schema="sentence1: string; sentence2: string; label: int (0 not_equivalent, "
        "1 equivalent, -1 unlabeled); idx: int",
        columns=("sentence1", "sentence2", "label"),
        id_columns=("idx",),
        quirks="Label -1 (test split) is reported as unlabeled.",
        mapper=_pair("sentence1", "sentence2"),
    ),
    Adapter(
        name="paws",
        title="PAWS",
        hub="google-research-datasets/paws labeled_final",
        task=PARAPHRASE,
        schema="id: int; sentence1: string; sentence2: string; label: int (0 different "
        "meaning, 1 paraphrase)",
        columns=("sentence1", "sentence2", "label"),
        id_columns=("id",),
        quirks="The pairs overlap almost word for word by design; nothing special to do.",
        mapper=_pair("sentence1", "sentence2"),
    ),
    Adapter(
        name="sst2",
        title="SST-2",
        hub="nyu-mll/glue sst2",
        task=SENTIMENT,
        schema="sentence: string; label: int (0 negative, 1 positive, -1 unlabeled); idx: int",
        columns=("sentence", "label"),
        id_columns=("idx",),
        quirks="Also reads stanfordnlp/sst2. Sentences are lower-cased, tokenised and end in a "
        "space, which is stripped. Label -1 (test split) is reported as unlabeled.",
        mapper=_text_label("sentence", (0, 1), "0 negative, 1 positive"),
    ),
    Adapter(
        name="imdb",
        title="IMDB reviews",
        hub="stanfordnlp/imdb",
        task=SENTIMENT,
        schema="text: string; label: int (0 neg, 1 pos, -1 in the unsupervised split)",
        columns=("text", "label"),
        id_columns=(),
        quirks="Reviews keep their `<br />` markup. The unsupervised split (label -1) is "
        "reported as unlabeled.",
        mapper=_text_label("text", (0, 1), "0 negative, 1 positive"),
    ),
    Adapter(
        name="yelp_polarity",
        title="Yelp polarity",
        hub="fancyzhx/yelp_polarity",
        task=SENTIMENT,
        schema="text: string; label: int (0 negative: 1 or 2 stars, 1 positive: 3 or 4 stars; "
        "the original classes '1'/'2' as ClassLabel ids 0/1)",
        columns=("text", "label"),
        id_columns=(),
        quirks="The original CSV's classes 1/2 are 0/1 on the hub, as the task expects. "
        "Reviews keep their escaped `\\n` sequences.",
        mapper=_text_label("text", (0, 1), "0 negative, 1 positive"),
    ),
    Adapter(
        name="ag_news",
        title="AG News",
        hub="fancyzhx/ag_news",
        task=NEWS_TOPIC,
        schema="text: string (title and description); label: int (0 World, 1 Sports, "
        "2 Business, 3 Sci/Tech)",
        columns=("text", "label"),
        id_columns=(),
        quirks="Texts (title and description joined) keep the feed's HTML entities (such as "
        "`#39;`).",
        mapper=_text_label("text", (0, 1, 2, 3), "0 World, 1 Sports, 2 Business, 3 Sci/Tech"),
    ),
    Adapter(
        name="dbpedia_14",
        title="DBpedia-14",
        hub="fancyzhx/dbpedia_14",
        task=ENTITY_CATEGORY,
        schema="label: int (0 Company ... 13 WrittenWork); title: string; content: string",
        columns=("title", "content", "label"),
        id_columns=(),
        quirks="Contents start with a space, which is stripped.",
        mapper=_dbpedia,
    ),
    Adapter(
        name="trec",
        title="TREC question classification",
        hub="CogComp/trec",
        task=QUESTION_TYPE,
        schema="text: string; coarse_label: int (0 ABBR, 1 ENTY, 2 DESC, 3 HUM, 4 LOC, "
        "5 NUM); fine_label: int (ignored). Older copies name the columns label-coarse and "
        "label-fine.",
        columns=("text", "coarse_label", "label-coarse"),
        id_columns=(),
        quirks="Uses the six coarse classes; the 50 fine classes have no task. Also reads "
        "older copies' label-coarse column.",
        mapper=_trec,
    ),
)
"""The classification adapters, in catalogue order."""
