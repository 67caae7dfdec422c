"""Registration of the record strategies with ``st.from_type``.

This module is what Hypothesis's plugin hook imports, possibly while another instructkit
strategy module is itself half-way through importing Hypothesis. So it imports nothing from
the other strategy modules at the top: each registered function imports them when
``st.from_type`` first asks for a record type, long after every import has finished.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from instructkit._records import Conversation, Instruction, Message, Preference, ToolCall
from instructkit._templates import Task, Template

__all__ = ["register_type_strategies"]

_STRATEGY_NAMES: dict[type[Any], str] = {
    ToolCall: "tool_calls",
    Message: "messages",
    Conversation: "conversations",
    Instruction: "instructions",
    Preference: "preferences",
    Task: "tasks",
    Template: "templates",
}


def register_type_strategies() -> None:
    """Make ``st.from_type`` (and ``st.builds`` inference) use instructkit's strategies.

    Registers :class:`~instructkit.ToolCall`, :class:`~instructkit.Message`,
    :class:`~instructkit.Conversation`, :class:`~instructkit.Instruction`,
    :class:`~instructkit.Preference`, :class:`~instructkit.Task` and
    :class:`~instructkit.Template` with the strategy of the same name called with its
    defaults (``conversations()`` and so on). Hypothesis calls this through its plugin entry
    point when it is imported, so there is normally no need to call it; calling it again is
    harmless. Set ``HYPOTHESIS_NO_PLUGINS=1`` to stop Hypothesis from loading any plugin.

    Example:
        >>> from hypothesis import strategies as st
        >>> from instructkit import Conversation
        >>> st.from_type(Conversation)
        conversations()
    """
    for record_type, name in _STRATEGY_NAMES.items():
        # A function of the type rather than a strategy: registering a strategy makes
        # Hypothesis check it is non-empty, which would build it while plugins load.
        st.register_type_strategy(record_type, _resolver(name))


def _resolver(name: str) -> Callable[[type[Any]], st.SearchStrategy[Any]]:
    def for_type(_: type[Any]) -> st.SearchStrategy[Any]:
        import instructkit.strategies

        factory: Callable[[], st.SearchStrategy[Any]] = getattr(instructkit.strategies, name)
        return factory()

    return for_type
