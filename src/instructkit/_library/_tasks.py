"""The built-in tasks: the typed fields every built-in template and dataset adapter agree on.

Tasks are grouped into *families* (the Flan "task clusters"); a task's ``cluster`` is its
family's name. Where datasets of one family disagree on the label space (AG News, DBpedia and
TREC are all topic classification), the family has one task per label space.

Label values follow the ids the best-known public releases use (GLUE, SuperGLUE, the Hugging
Face hub copies), so an adapter maps a row's label id straight onto the task's label and only
has to rename columns. Answer texts are chosen to read well as the answer to every template of
the task; templates are worded around them (an NLI template asks whether the hypothesis is
*true*, so "no" honestly means "contradicted").

Each task constant below is followed by a note listing its fields and label space.
"""

from __future__ import annotations

from dataclasses import dataclass

from instructkit._templates import Task

__all__ = [
    "BUILTIN_TASKS",
    "CAUSE_EFFECT",
    "CLOSED_BOOK_QA",
    "CONCEPTS_TO_TEXT",
    "DATA_TO_TEXT",
    "ENTAILMENT",
    "ENTITY_CATEGORY",
    "EXTRACTIVE_QA",
    "EXTRACTIVE_QA_UNANSWERABLE",
    "FAMILIES",
    "FILL_BLANK",
    "MULTIPLE_CHOICE_QA",
    "NEWS_TOPIC",
    "NLI",
    "PARAPHRASE",
    "QUESTION_TYPE",
    "SENTENCE_COMPLETION",
    "SENTIMENT",
    "SUMMARIZATION",
    "TRANSLATION",
    "UNANSWERABLE",
    "YES_NO_QA",
    "Family",
]

UNANSWERABLE = "unanswerable"
"""The answer text of an unanswerable question in :data:`EXTRACTIVE_QA_UNANSWERABLE`.

Every template of that task tells the model to reply with exactly this text when the passage
does not hold the answer, so an adapter puts it in the row's ``answer`` field for such rows
(SQuAD v2 rows with no gold answers)."""

# --- natural language inference ---------------------------------------------------------------

NLI = Task(
    name="nli",
    cluster="nli",
    fields={"premise": "text", "hypothesis": "text", "label": "label"},
    target="label",
    labels={0: "yes", 1: "it is not possible to tell", 2: "no"},
)
"""Three-way natural language inference: is the hypothesis true, given the premise?

Fields: ``premise`` (text), ``hypothesis`` (text), ``label`` (label, the target).
Labels: ``0`` entailment -> "yes", ``1`` neutral -> "it is not possible to tell",
``2`` contradiction -> "no" (the SNLI / MultiNLI / ANLI ids; ``-1`` marks an unlabeled row and
is outside the label space). Datasets: SNLI, MultiNLI, ANLI."""

ENTAILMENT = Task(
    name="entailment",
    cluster="nli",
    fields={"premise": "text", "hypothesis": "text", "label": "label"},
    target="label",
    labels={0: "yes", 1: "no"},
)
"""Two-way recognising textual entailment: does the premise imply the hypothesis?

Fields: ``premise`` (text), ``hypothesis`` (text), ``label`` (label, the target).
Labels: ``0`` entailment -> "yes", ``1`` not entailment -> "no" (the GLUE / SuperGLUE RTE ids;
a 3-way dataset maps neutral and contradiction both to ``1``). Datasets: RTE, two-way ANLI."""

# --- paraphrase identification ----------------------------------------------------------------

PARAPHRASE = Task(
    name="paraphrase",
    cluster="paraphrase",
    fields={"sentence1": "text", "sentence2": "text", "label": "label"},
    target="label",
    labels={1: "yes", 0: "no"},
)
"""Paraphrase identification: do two texts say the same thing?

Fields: ``sentence1`` (text), ``sentence2`` (text), ``label`` (label, the target).
Labels: ``1`` paraphrase / duplicate -> "yes", ``0`` not -> "no" (shown in that order).
Datasets: QQP (``question1``/``question2``/``label``), MRPC, PAWS."""

# --- sentiment --------------------------------------------------------------------------------

SENTIMENT = Task(
    name="sentiment",
    cluster="sentiment",
    fields={"text": "text", "label": "label"},
    target="label",
    labels={0: "negative", 1: "positive"},
)
"""Binary sentiment of a text (a review, a sentence from one).

Fields: ``text`` (text), ``label`` (label, the target).
Labels: ``0`` -> "negative", ``1`` -> "positive". Datasets: SST-2 (``sentence``), IMDB, Yelp
polarity (whose Hugging Face copy already uses 0/1)."""

# --- topic classification ---------------------------------------------------------------------

NEWS_TOPIC = Task(
    name="news_topic",
    cluster="topic_classification",
    fields={"text": "text", "label": "label"},
    target="label",
    labels={0: "world", 1: "sports", 2: "business", 3: "science and technology"},
)
"""The topic of a news article.

Fields: ``text`` (text: headline and lead), ``label`` (label, the target).
Labels: ``0`` -> "world", ``1`` -> "sports", ``2`` -> "business",
``3`` -> "science and technology". Dataset: AG News."""

ENTITY_CATEGORY = Task(
    name="entity_category",
    cluster="topic_classification",
    fields={"title": "text", "content": "text", "label": "label"},
    target="label",
    labels={
        0: "company",
        1: "educational institution",
        2: "artist",
        3: "athlete",
        4: "office holder",
        5: "means of transportation",
        6: "building",
        7: "natural place",
        8: "village",
        9: "animal",
        10: "plant",
        11: "album",
        12: "film",
        13: "written work",
    },
)
"""The kind of thing an encyclopedia entry is about.

Fields: ``title`` (text: the entry's title), ``content`` (text: its opening), ``label``
(label, the target).
Labels: ``0`` company, ``1`` educational institution, ``2`` artist, ``3`` athlete, ``4`` office
holder, ``5`` means of transportation, ``6`` building, ``7`` natural place, ``8`` village,
``9`` animal, ``10`` plant, ``11`` album, ``12`` film, ``13`` written work (the answer texts
are these names in lower case). Dataset: DBpedia-14."""

QUESTION_TYPE = Task(
    name="question_type",
    cluster="topic_classification",
    fields={"question": "text", "label": "label"},
    target="label",
    labels={
        0: "abbreviation",
        1: "entity",
        2: "description",
        3: "person",
        4: "location",
        5: "number",
    },
)
"""What kind of answer a question asks for.

Fields: ``question`` (text), ``label`` (label, the target).
Labels: the six TREC coarse classes in their published order: ``0`` ABBR -> "abbreviation",
``1`` ENTY -> "entity", ``2`` DESC -> "description", ``3`` HUM -> "person", ``4`` LOC ->
"location", ``5`` NUM -> "number". Dataset: TREC (``text``, ``coarse_label``)."""

# --- reading comprehension --------------------------------------------------------------------

EXTRACTIVE_QA = Task(
    name="extractive_qa",
    cluster="reading_comprehension",
    fields={"context": "text", "question": "text", "answer": "alternatives"},
    target="answer",
)
"""Extractive question answering: answer a question with a span of a passage.

Fields: ``context`` (text: the passage), ``question`` (text), ``answer`` (alternatives, the
target: one gold answer or a list of them; one is picked per example by a seeded hash).
No label space. Dataset: SQuAD v1 (and the answerable questions of SQuAD v2). The answer is
always in the passage, so templates never mention unanswerable questions."""

EXTRACTIVE_QA_UNANSWERABLE = Task(
    name="extractive_qa_unanswerable",
    cluster="reading_comprehension",
    fields={"context": "text", "question": "text", "answer": "alternatives"},
    target="answer",
)
"""Extractive question answering where the passage may not hold the answer.

Fields: ``context`` (text), ``question`` (text), ``answer`` (alternatives, the target: the gold
answers, or :data:`UNANSWERABLE` when there is none). No label space. Every template tells the
model to reply with exactly :data:`UNANSWERABLE` when the passage does not answer the
question. Dataset: SQuAD v2. There are no inverted templates: "write a question whose answer
is 'unanswerable'" would teach nothing."""

# --- closed-book question answering -----------------------------------------------------------

CLOSED_BOOK_QA = Task(
    name="closed_book_qa",
    cluster="closed_book_qa",
    fields={"question": "text", "answer": "alternatives"},
    target="answer",
)
"""Closed-book question answering: answer from knowledge, without a passage.

Fields: ``question`` (text), ``answer`` (alternatives, the target). No label space.
Datasets: trivia and open-domain QA sets (Natural Questions, TriviaQA, Web Questions), or any
multiple-choice set with its choices dropped."""

# --- yes/no question answering ----------------------------------------------------------------

YES_NO_QA = Task(
    name="yes_no_qa",
    cluster="yes_no_qa",
    fields={"passage": "text", "question": "text", "label": "label"},
    target="label",
    labels={1: "yes", 0: "no"},
)
"""Yes/no questions about a passage.

Fields: ``passage`` (text), ``question`` (text; BoolQ's are lower case without a question
mark, which the templates allow for), ``label`` (label, the target).
Labels: ``1`` true -> "yes", ``0`` false -> "no" (the SuperGLUE BoolQ ids; an adapter turns
BoolQ's boolean ``answer`` into 1/0). Dataset: BoolQ."""

# --- commonsense reasoning (multiple choice) --------------------------------------------------

MULTIPLE_CHOICE_QA = Task(
    name="multiple_choice_qa",
    cluster="commonsense",
    fields={"question": "text", "choices": "choices", "answer": "label"},
    target="answer",
    choices="choices",
)
"""Multiple-choice questions with per-example answer choices.

Fields: ``question`` (text: a question, or a goal to reach), ``choices`` (choices: two or more
distinct answer texts), ``answer`` (label, the target: an index into ``choices`` or one of
their texts). Datasets: ARC (map the answer key "A"/"1" to an index), OpenBookQA, PIQA (the
goal as ``question``, ``[sol1, sol2]`` as ``choices``)."""

SENTENCE_COMPLETION = Task(
    name="sentence_completion",
    cluster="commonsense",
    fields={"context": "text", "choices": "choices", "answer": "label"},
    target="answer",
    choices="choices",
)
"""Pick the most plausible continuation of a text.

Fields: ``context`` (text: the start of a scene or sentence), ``choices`` (choices: candidate
endings), ``answer`` (label, the target: an index or one of the endings).
Dataset: HellaSwag (``ctx``, ``endings``, ``label`` as a string index)."""

CAUSE_EFFECT = Task(
    name="cause_effect",
    cluster="commonsense",
    fields={"premise": "text", "relation": "text", "choices": "choices", "answer": "label"},
    target="answer",
    choices="choices",
)
"""Choose the more plausible cause or effect of a premise.

Fields: ``premise`` (text), ``relation`` (text: exactly ``"cause"`` or ``"effect"``, COPA's
``question`` values; the templates use it as a noun, "the more likely cause"), ``choices``
(choices: the alternatives), ``answer`` (label, the target). Dataset: COPA (``choice1``,
``choice2``, ``label`` 0/1)."""

# --- coreference / Winograd -------------------------------------------------------------------

FILL_BLANK = Task(
    name="fill_blank",
    cluster="coreference",
    fields={"sentence": "text", "choices": "choices", "answer": "label"},
    target="answer",
    choices="choices",
)
"""Winograd-style coreference: which candidate does a blank in a sentence stand for?

Fields: ``sentence`` (text containing one ``_`` for the blank), ``choices`` (choices: the
candidates), ``answer`` (label, the target). Dataset: WinoGrande (``option1``/``option2`` as
``choices``, the answer "1"/"2" as index 0/1)."""

# --- summarization ----------------------------------------------------------------------------

SUMMARIZATION = Task(
    name="summarization",
    cluster="summarization",
    fields={"document": "text", "summary": "alternatives"},
    target="summary",
)
"""Summarise a document.

Fields: ``document`` (text), ``summary`` (alternatives, the target: one reference summary or
several). No label space. Datasets: CNN/DailyMail (``article``, ``highlights``), XSum
(``document``, ``summary``)."""

# --- translation ------------------------------------------------------------------------------

TRANSLATION = Task(
    name="translation",
    cluster="translation",
    fields={
        "source": "text",
        "target": "alternatives",
        "source_language": "text",
        "target_language": "text",
    },
    target="target",
)
"""Translate a text from one language to another.

Fields: ``source`` (text), ``target`` (alternatives, the target: one or more reference
translations), ``source_language`` and ``target_language`` (text: language names in English,
"German", "English", as they read inside a sentence). No label space. Datasets: WMT pairs,
in either direction (an adapter swaps the fields for the reverse direction)."""

# --- structured data to text ------------------------------------------------------------------

DATA_TO_TEXT = Task(
    name="data_to_text",
    cluster="data_to_text",
    fields={"data": "text", "text": "alternatives"},
    target="text",
)
"""Describe a record of structured data in fluent text.

Fields: ``data`` (text: the record, such as E2E's ``name[The Eagle], food[French]``),
``text`` (alternatives, the target: one or more references). No label space.
Dataset: E2E NLG (``meaning_representation``, ``human_reference``)."""

CONCEPTS_TO_TEXT = Task(
    name="concepts_to_text",
    cluster="data_to_text",
    fields={"concepts": "list", "sentence": "alternatives"},
    target="sentence",
)
"""Write a sentence that uses every concept of a list.

Fields: ``concepts`` (list of strings, rendered joined with ", "), ``sentence``
(alternatives, the target). No label space. Dataset: CommonGen (``concepts``, ``target``)."""


@dataclass(frozen=True)
class Family:
    """A task family: tasks of one kind, sharing a cluster name and a template file.

    Attributes:
        name: The family's name, equal to its tasks' ``cluster`` and its template file's stem.
        title: A heading for the catalogue.
        description: One sentence on what the family's tasks ask for.
        tasks: The names of its tasks, in catalogue order.
    """

    name: str
    title: str
    description: str
    tasks: tuple[str, ...]


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "nli",
            "Natural language inference",
            "Decide whether a hypothesis follows from a premise.",
            ("nli", "entailment"),
        ),
        Family(
            "paraphrase",
            "Paraphrase identification",
            "Decide whether two texts mean the same thing.",
            ("paraphrase",),
        ),
        Family(
            "sentiment",
            "Sentiment",
            "Tell whether a text is positive or negative.",
            ("sentiment",),
        ),
        Family(
            "topic_classification",
            "Topic classification",
            "Put a text into one of a fixed set of categories.",
            ("news_topic", "entity_category", "question_type"),
        ),
        Family(
            "reading_comprehension",
            "Extractive question answering / reading comprehension",
            "Answer a question with a span of a passage.",
            ("extractive_qa", "extractive_qa_unanswerable"),
        ),
        Family(
            "closed_book_qa",
            "Closed-book question answering",
            "Answer a question without a passage.",
            ("closed_book_qa",),
        ),
        Family(
            "yes_no_qa",
            "Yes/no question answering",
            "Answer a yes/no question about a passage.",
            ("yes_no_qa",),
        ),
        Family(
            "commonsense",
            "Multiple-choice commonsense reasoning",
            "Pick the most sensible answer, continuation, cause or effect.",
            ("multiple_choice_qa", "sentence_completion", "cause_effect"),
        ),
        Family(
            "coreference",
            "Coreference / Winograd-style",
            "Work out what a blank in a sentence refers to.",
            ("fill_blank",),
        ),
        Family(
            "summarization",
            "Summarization",
            "Condense a document into a short summary.",
            ("summarization",),
        ),
        Family(
            "translation",
            "Translation",
            "Translate a text between two named languages.",
            ("translation",),
        ),
        Family(
            "data_to_text",
            "Structured data to text",
            "Turn a data record or a list of concepts into fluent text.",
            ("data_to_text", "concepts_to_text"),
        ),
    )
}
"""The built-in families by name, in catalogue order."""

BUILTIN_TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        NLI,
        ENTAILMENT,
        PARAPHRASE,
        SENTIMENT,
        NEWS_TOPIC,
        ENTITY_CATEGORY,
        QUESTION_TYPE,
        EXTRACTIVE_QA,
        EXTRACTIVE_QA_UNANSWERABLE,
        CLOSED_BOOK_QA,
        YES_NO_QA,
        MULTIPLE_CHOICE_QA,
        SENTENCE_COMPLETION,
        CAUSE_EFFECT,
        FILL_BLANK,
        SUMMARIZATION,
        TRANSLATION,
        DATA_TO_TEXT,
        CONCEPTS_TO_TEXT,
    )
}
"""Every built-in task by name, in catalogue order (family by family)."""
