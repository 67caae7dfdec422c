"""Hypothesis's entry-point hook: ``st.from_type(instructkit.Conversation)`` uses our strategies.

Hypothesis imports every ``hypothesis`` entry point when it is itself imported. The hook
imports :mod:`instructkit.strategies` only when called, so ``import instructkit`` alone never
imports hypothesis, and there is no import cycle with hypothesis's own start-up.
"""

from __future__ import annotations


def _hypothesis_setup_hook() -> None:
    # Imported here, not at module level: Hypothesis is still initialising when it calls
    # this hook, and importing hypothesis.strategies at module import time of a plugin
    # causes circular imports (HypothesisWorks/hypothesis#2710).
    from instructkit._strategies._register import register_type_strategies

    register_type_strategies()
