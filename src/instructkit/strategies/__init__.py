"""Hypothesis strategies for instruction data: records, texts, rows, documents, templates.

Every strategy here follows Hypothesis's own API style: keyword-only arguments, bounds named
``min_*``/``max_*``, arguments that take strategies (wrap a constant in ``st.just``), bad
arguments reported as :class:`hypothesis.errors.InvalidArgument` when the strategy is first
used, a repr that shows the call, small default sizes, and values that are valid by
construction (nothing is filtered out after the fact). Each docstring says what is generated,
which edge cases are mixed in, how to opt out, and what a failing example shrinks towards.

Importing this module imports Hypothesis; importing :mod:`instructkit` alone does not.
After installing instructkit, ``st.from_type(instructkit.Conversation)`` (and every other
record type) already uses these strategies, through Hypothesis's plugin entry point.

Example:
    >>> from hypothesis import given
    >>> from instructkit import Conversation
    >>> from instructkit.strategies import conversations
    >>> @given(conversations())
    ... def test_round_trip(chat):
    ...     assert Conversation.model_validate(chat.to_dict()) == chat
    >>> test_round_trip()
"""

from __future__ import annotations

# Hypothesis first: importing it loads its plugins, and instructkit's plugin imports
# instructkit._from_type, which must not be half-way through its own import at that moment.
import hypothesis  # noqa: F401

from instructkit._from_type import register_type_strategies
from instructkit._public import expose as _expose
from instructkit.strategies._documents import (
    JSONL_DEFECTS,
    JSONL_NOISE,
    CorruptDocument,
    JsonlDocument,
    corrupt_jsonl_documents,
    jsonl_documents,
)
from instructkit.strategies._records import (
    PREFERENCE_SHAPES,
    conversations,
    instructions,
    messages,
    preferences,
    tool_calls,
)
from instructkit.strategies._rows import (
    INVALID_ROW_KINDS,
    InvalidRow,
    dialect_rows,
    invalid_rows,
)
from instructkit.strategies._templates import (
    TASK_SHAPES,
    TemplatedRow,
    task_rows,
    tasks,
    templates,
)
from instructkit.strategies._text import EDGE_FRAGMENTS, invalid_texts, texts

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
    "register_type_strategies",
    "task_rows",
    "tasks",
    "templates",
    "texts",
    "tool_calls",
]

_expose(
    __name__,
    *(value for name, value in list(globals().items()) if name in __all__ and callable(value)),
)
