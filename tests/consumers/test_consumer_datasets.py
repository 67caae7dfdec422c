"""Every dialect's JSONL and Parquet files, loaded by `datasets.load_dataset`.

The reader must see exactly the rows instructkit meant to write (``to_row`` of each record):
no tool schema or tool-call argument gaining other rows' keys, no bookkeeping column.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import datasets
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import instructkit as ik
from consumers.shared import (
    CONSUMER_SETTINGS,
    FORMATS,
    PLAIN_TOOL_PAIRS,
    TOOL_CHATS,
    TOOL_PREFERENCES,
    TRL_FILES,
    TRL_LAYOUTS,
    WEIGHTED_PAIRS,
    WITH_INPUT,
    as_loaded,
    difference,
    write_and_load,
)
from instructkit.strategies import dialect_rows

datasets.disable_progress_bars()

# Reporting a failing example of long texts is not itself a failure.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)

THIRD_PARTY = [name for name in ik.dialects.dialect_names() if name not in ("instructkit", "trl")]
# Dialects and TRL layouts with a place for tool schemas and tool calls, and those that take
# an instruction with an input (as a user turn).
TOOL_DIALECTS = ("openai", "openai_dpo", "sharegpt")
INSTRUCTION_DIALECTS = ("alpaca", "dolly", "instruction", "flan", "openai", "sharegpt")
INSTRUCTION_LAYOUTS = (
    "conversational_language_modeling",
    "conversational_prompt_completion",
    "standard_prompt_completion",
)


def _examples(dialect: str, layout: str | None) -> list[list[Any]]:
    """Records known to break a writer or reader somewhere, always tried first."""
    found: list[list[Any]] = []
    if dialect in TOOL_DIALECTS or (layout or "").startswith("conversational"):
        preference = dialect == "openai_dpo" or "preference" in (layout or "")
        found.append(TOOL_PREFERENCES if preference else TOOL_CHATS)
    if layout in ("standard_preference", "standard_implicit_preference"):
        found.append(PLAIN_TOOL_PAIRS)
    if dialect == "openai_dpo":
        found.append(WEIGHTED_PAIRS)
    if dialect == "sharegpt":
        # Written in the ranking layout, whose chosen and rejected are message objects.
        found.append(PLAIN_TOOL_PAIRS)
    if dialect in INSTRUCTION_DIALECTS or layout in INSTRUCTION_LAYOUTS:
        found.append(WITH_INPUT)
    return found


def _without_user_meta(record: Any) -> Any:
    # Meta entries become free-form columns whose types across rows are the user's business;
    # instructkit's own bookkeeping entries stay, since those must never become columns.
    kept = {key: value for key, value in record.meta.items() if key.startswith("instructkit.")}
    return record.model_copy(update={"meta": kept})


def _records_for(dialect: str, fmt: str) -> st.SearchStrategy[list[Any]]:
    # Rows a dialect holds, parsed: records whose every part that dialect can write.
    parsed = dialect_rows(dialect=dialect).map(lambda row: ik.parse_row(row, dialect=dialect))
    files = st.lists(parsed.map(_without_user_meta), min_size=1, max_size=3)
    if fmt == "parquet":
        # A dialect Parquet file holds one record type (named in its footer), so a file of
        # alpaca rows is supervised (Instruction) or ranking (Preference) as a whole, as
        # LLaMA-Factory reads it; rows of another type are refused (see docs/dialects.md).
        files = files.map(lambda records: [r for r in records if type(r) is type(records[0])])
    return files


def check_loaded(records: list[Any], fmt: str, dialect: str, layout: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        loaded = write_and_load(records, Path(folder), fmt, dialect=dialect, layout=layout)
        written = [
            as_loaded(ik.to_row(record, dialect=dialect, layout=layout), loaded, fmt)
            for record in records
        ]
        assert not [c for c in loaded.column_names if c.startswith("instructkit.")]
        assert len(loaded) == len(written)
        for index, (row, expected) in enumerate(zip(loaded, written, strict=True)):
            assert not difference(row, expected), f"row {index}: {difference(row, expected)}"


def _run(
    strategy: st.SearchStrategy[list[Any]], fmt: str, dialect: str, layout: str | None
) -> None:
    @CONSUMER_SETTINGS
    @given(records=strategy)
    def run(records: list[Any]) -> None:
        check_loaded(records, fmt, dialect, layout)

    for records in _examples(dialect, layout):
        run = example(records=records)(run)
    run()


@pytest.mark.parametrize(
    ("fmt", "dialect"),
    [
        pytest.param(fmt, dialect, id=f"{dialect}-{fmt}")
        for dialect in THIRD_PARTY
        for fmt in FORMATS
    ],
)
def test_dialect_files_load_as_written(fmt: str, dialect: str) -> None:
    _run(_records_for(dialect, fmt), fmt, dialect, None)


@pytest.mark.parametrize(
    ("fmt", "layout"),
    [pytest.param(fmt, layout, id=f"{layout}-{fmt}") for layout in TRL_LAYOUTS for fmt in FORMATS],
)
def test_trl_files_load_as_written(fmt: str, layout: str) -> None:
    _run(TRL_FILES[layout], fmt, "trl", layout)
