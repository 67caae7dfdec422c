"""Hypothesis strategies for instruction data (work in progress)."""

from __future__ import annotations

__all__ = ["register_type_strategies"]


def register_type_strategies() -> None:
    """Register instructkit's strategies for its record types with ``st.from_type``."""
