"""Records and record strategies that the I/O and Arrow tests share, each defined once here.

Imported by test modules in any folder (``from record_fixtures import record_lists``):
pytest puts this folder on ``sys.path`` when it loads the ``conftest.py`` beside it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from instructkit import Conversation, Instruction, Preference
from instructkit.strategies import conversations, instructions, preferences

RECORD_STRATEGIES: dict[type[Any], st.SearchStrategy[Any]] = {
    Instruction: instructions(),
    Conversation: conversations(),
    Preference: preferences(),
}
"""A strategy for each record type (message content as text)."""

RECORDS_BY_NAME: dict[str, st.SearchStrategy[Any]] = {
    kind.__name__.lower(): strategy for kind, strategy in RECORD_STRATEGIES.items()
}
"""The same strategies, by the record type's name as ``record=`` takes it."""


@st.composite
def record_lists(
    draw: st.DrawFn, *, max_size: int = 4, content_parts: bool = False
) -> tuple[type[Any], list[Any]]:
    """A record type and a list of records of it.

    Args:
        draw: Hypothesis's draw.
        max_size: The most records.
        content_parts: Let messages hold content as a list of parts too.
    """
    kind = draw(st.sampled_from(list(RECORD_STRATEGIES)))
    strategy = RECORD_STRATEGIES[kind]
    if content_parts and kind is Conversation:
        strategy = strategy | conversations(content_parts=True)
    elif content_parts and kind is Preference:
        strategy = strategy | preferences(content_parts=True)
    return kind, draw(st.lists(strategy, max_size=max_size))


def numbered_instructions(n: int, *, start: int = 0) -> list[Instruction]:
    """``n`` small instructions, ``question {i}`` answered by ``answer {i}``, from ``start``."""
    return [
        Instruction(instruction=f"question {i}", response=f"answer {i}")
        for i in range(start, start + n)
    ]
