"""Adapters for text generation: summarization, translation and data-to-text datasets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from instructkit._adapters._base import Adapter, Mapped, Mapper, Row
from instructkit._errors import ConfigurationError
from instructkit._library import (
    CONCEPTS_TO_TEXT,
    DATA_TO_TEXT,
    SUMMARIZATION,
    TRANSLATION,
)

__all__ = ["ADAPTERS", "LANGUAGE_NAMES"]

LANGUAGE_NAMES: dict[str, str] = {
    "cs": "Czech",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "fi": "Finnish",
    "fr": "French",
    "gu": "Gujarati",
    "hi": "Hindi",
    "it": "Italian",
    "ja": "Japanese",
    "kk": "Kazakh",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "pl": "Polish",
    "ps": "Pashto",
    "ro": "Romanian",
    "ru": "Russian",
    "ta": "Tamil",
    "tr": "Turkish",
    "zh": "Chinese",
}
"""English names of the language codes used by the WMT releases (as they read in a sentence)."""

_DIRECTION = re.compile(r"([a-z]{2})-([a-z]{2})\Z")


def _summary(document: str, summary: str) -> Mapper:
    def mapper(row: Row, options: Mapping[str, Any]) -> Mapped:
        return {"document": row.text(document), "summary": [row.text(summary)]}

    return mapper


def _check_wmt(options: dict[str, Any]) -> None:
    direction = options["direction"]
    if direction == "both":
        return
    match = _DIRECTION.match(direction) if isinstance(direction, str) else None
    if match is None or match[1] == match[2]:
        raise ConfigurationError(
            f"adapter 'wmt': expected direction 'both' or 'source-target' such as 'de-en', "
            f"got {direction!r}"
        )
    unknown = [code for code in (match[1], match[2]) if code not in LANGUAGE_NAMES]
    if unknown:
        raise ConfigurationError(
            f"adapter 'wmt': expected language codes among {sorted(LANGUAGE_NAMES)}, got {unknown}"
        )


def _wmt(row: Row, options: Mapping[str, Any]) -> Mapped:
    pair = row.mapping("translation")
    codes = [str(code) for code in pair]
    if len(codes) != 2:
        raise row.error(
            "translation", f"expected two languages in column 'translation', got {codes}"
        )
    for code in codes:
        if code not in LANGUAGE_NAMES:
            raise row.error(
                f"translation.{code}",
                f"expected a language code among {sorted(LANGUAGE_NAMES)}, got {code!r}",
            )
    direction: str = options["direction"]
    if direction == "both":
        wanted = [(codes[0], codes[1]), (codes[1], codes[0])]
    else:
        source, target = direction.split("-")
        if source not in codes or target not in codes:
            raise row.error(
                "translation",
                f"expected the languages of direction {direction!r} in column 'translation', "
                f"got {codes}",
            )
        wanted = [(source, target)]
    texts = {}
    for code in codes:
        value = pair[code]
        if not isinstance(value, str) or not value.strip():
            raise row.error(
                f"translation.{code}",
                f"expected non-blank text in translation.{code}, got {value!r}",
            )
        texts[code] = row.encodable(value.strip(), f"translation.{code}")
    return [
        (
            f".{source}-{target}",
            {
                "source": texts[source],
                "target": [texts[target]],
                "source_language": LANGUAGE_NAMES[source],
                "target_language": LANGUAGE_NAMES[target],
            },
        )
        for source, target in wanted
    ]


def _common_gen(row: Row, options: Mapping[str, Any]) -> Mapped:
    target = row.raw("target")
    if isinstance(target, str) and not target.strip():
        raise row.unlabeled("target", target)
    return {"concepts": row.texts("concepts"), "sentence": [row.text("target")]}


def _e2e(row: Row, options: Mapping[str, Any]) -> Mapped:
    return {"data": row.text("meaning_representation"), "text": [row.text("human_reference")]}


ADAPTERS: tuple[Adapter, ...] = (
    Adapter(
        name="cnn_dailymail",
        title="CNN/DailyMail",
        hub="abisee/cnn_dailymail 3.0.0",
        task=SUMMARIZATION,
        schema="article: string; highlights: string (one highlight per line); id: string",
        columns=("article", "highlights"),
        id_columns=("id",),
        quirks="The highlights, one sentence per line, are the reference summary as published "
        "(line breaks kept).",
        mapper=_summary("article", "highlights"),
    ),
    Adapter(
        name="xsum",
        title="XSum",
        hub="EdinburghNLP/xsum",
        task=SUMMARIZATION,
        schema="document: string; summary: string (one sentence); id: string",
        columns=("document", "summary"),
        id_columns=("id",),
        quirks="One-sentence reference summaries; ids from id (the BBC article number).",
        mapper=_summary("document", "summary"),
    ),
    Adapter(
        name="wmt",
        title="WMT news translation",
        hub="wmt/wmt16 de-en",
        task=TRANSLATION,
        schema="translation: {<code>: string, <code>: string}, for example "
        "{de: string, en: string}",
        columns=("translation",),
        id_columns=(),
        quirks="direction='both' (default) turns each pair into two task rows, one per "
        "direction, with ids ending in '.de-en' and '.en-de'; direction='de-en' keeps one. "
        "Language codes become English names; any pair among the "
        "WMT news languages (cs, de, en, fi, fr, ro, ru, tr, zh and more) works.",
        mapper=_wmt,
        options={"direction": "both"},
        check_options=_check_wmt,
    ),
    Adapter(
        name="common_gen",
        title="CommonGen",
        hub="allenai/common_gen",
        task=CONCEPTS_TO_TEXT,
        schema="concept_set_idx: int; concepts: list[string]; target: string ('' in the test "
        "split)",
        columns=("concept_set_idx", "concepts", "target"),
        id_columns=(),
        quirks="Each concept set has several rows, one per reference sentence; each row is "
        "an example (concept_set_idx repeats, so it is not the id). An empty target "
        "(test split) is reported as unlabeled.",
        mapper=_common_gen,
    ),
    Adapter(
        name="e2e_nlg",
        title="E2E NLG",
        hub="tuetschek/e2e_nlg",
        task=DATA_TO_TEXT,
        schema="meaning_representation: string (such as 'name[The Eagle], food[French]'); "
        "human_reference: string",
        columns=("meaning_representation", "human_reference"),
        id_columns=(),
        quirks="Each meaning representation has several rows, one per human reference; each "
        "row is an example.",
        mapper=_e2e,
    ),
)
"""The generation adapters, in catalogue order."""
