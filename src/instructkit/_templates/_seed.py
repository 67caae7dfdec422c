"""Stable, order-free randomness: every choice is a hash of what it is about.

A choice made for an example (which template, which option style, which exemplars, which of
several gold answers, whether a mixture keeps it) is a pure function of
``(seed, dataset, example id, purpose)``. Nothing depends on how many examples came before,
which process renders it, or how the stream was sharded, so any record can be re-rendered in
isolation and gives the same result.

BLAKE2b is used rather than :func:`hash` (salted per process for strings) or
:class:`random.Random` (whose derived methods may change between Python versions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

import orjson

__all__ = ["stable_bits", "stable_index", "stable_ranked", "stable_unit"]

_T = TypeVar("_T")
_SCALE = float(1 << 64)


def stable_bits(seed: int, dataset: str, example_id: str, purpose: str) -> int:
    """A 64-bit integer determined only by the four arguments.

    Args:
        seed: The user's seed.
        dataset: The dataset (or mixture source) name.
        example_id: The example's id.
        purpose: What the number is for (``"template"``, ``"options-order:nli-3"`` ...), so
            that different choices about one example are independent.

    Returns:
        An integer in ``[0, 2**64)``.
    """
    # JSON framing keeps ("a|b", "c") and ("a", "b|c") apart, unlike joining with a separator.
    key = orjson.dumps([seed, dataset, example_id, purpose])
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def stable_unit(seed: int, dataset: str, example_id: str, purpose: str) -> float:
    """A number in ``[0, 1)``, uniform over examples, determined only by the arguments.

    Example:
        >>> a = stable_unit(0, "snli", "ex-1", "with-options")
        >>> a == stable_unit(0, "snli", "ex-1", "with-options") and 0.0 <= a < 1.0
        True
    """
    return stable_bits(seed, dataset, example_id, purpose) / _SCALE


def stable_index(seed: int, dataset: str, example_id: str, purpose: str, n: int) -> int:
    """An index in ``range(n)``, determined only by the arguments (``n`` must be positive)."""
    return stable_bits(seed, dataset, example_id, purpose) % n


def stable_ranked(
    items: Sequence[_T], keys: Sequence[str], seed: int, dataset: str, example_id: str, purpose: str
) -> list[_T]:
    """``items`` in a seeded order that does not depend on the order they were given in.

    Each item is ranked by the hash of its own key (a template id, a label value as text), so
    adding an item moves others only relative to it, and reordering the input changes nothing.

    Args:
        items: What to order.
        keys: One distinct key per item.
        seed: The user's seed.
        dataset: The dataset name.
        example_id: The example's id.
        purpose: What the order is for.

    Returns:
        A new list.
    """
    ranks = [stable_bits(seed, dataset, example_id, f"{purpose}:{key}") for key in keys]
    # The key breaks (astronomically unlikely) hash ties so the order stays input-independent.
    order = sorted(range(len(items)), key=lambda i: (ranks[i], keys[i]))
    return [items[i] for i in order]
