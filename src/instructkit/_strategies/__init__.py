"""The strategies' implementation; :mod:`instructkit.strategies` is their public face."""

from __future__ import annotations

from instructkit._strategies._documents import (
    JSONL_DEFECTS,
    JSONL_NOISE,
    CorruptDocument,
    JsonlDocument,
    corrupt_jsonl_documents,
    jsonl_documents,
)
from instructkit._strategies._records import (
    PREFERENCE_SHAPES,
    conversations,
    instructions,
    messages,
    preferences,
    tool_calls,
)
from instructkit._strategies._rows import (
    INVALID_ROW_KINDS,
    InvalidRow,
    dialect_rows,
    invalid_rows,
)
from instructkit._strategies._templates import (
    TASK_SHAPES,
    TemplatedRow,
    task_rows,
    tasks,
    templates,
)
from instructkit._strategies._text import EDGE_FRAGMENTS, invalid_texts, texts

__all__ = [
    "EDGE_FRAGMENTS",
    "INVALID_ROW_KINDS",
    "JSONL_DEFECTS",
    "JSONL_NOISE",
    "PREFERENCE_SHAPES",
    "TASK_SHAPES",
    "CorruptDocument",
    "InvalidRow",
    "JsonlDocument",
    "TemplatedRow",
    "conversations",
    "corrupt_jsonl_documents",
    "dialect_rows",
    "instructions",
    "invalid_rows",
    "invalid_texts",
    "jsonl_documents",
    "messages",
    "preferences",
    "task_rows",
    "tasks",
    "templates",
    "texts",
    "tool_calls",
]
