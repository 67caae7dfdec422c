"""Every generated record survives write-then-read through JSON, JSONL and Parquet."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from instructkit import Conversation, Instruction, Preference, read, write
from instructkit.strategies import conversations, instructions, preferences

CASES: dict[str, tuple[type[Any], st.SearchStrategy[Any]]] = {
    "instructions": (Instruction, instructions()),
    "conversations": (Conversation, conversations()),
    "preferences": (Preference, preferences()),
}


@pytest.mark.parametrize("name", CASES)
@given(data=st.data())
def test_records_survive_every_format(name: str, data: st.DataObject) -> None:
    record_type, strategy = CASES[name]
    records = data.draw(st.lists(strategy, max_size=3))
    with tempfile.TemporaryDirectory() as folder:
        for suffix in ("jsonl", "json", "parquet"):
            path = Path(folder) / f"records.{suffix}"
            write(records, path, record=record_type)
            with read(path, dialect=None) as reader:
                back = list(reader)
            assert back == records, suffix
