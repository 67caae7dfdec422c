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

__all__ = ["Ranking", "stable_bits", "stable_index", "stable_ranked", "stable_unit"]

_T = TypeVar("_T")
_SCALE = float(1 << 64)
_blake2b = hashlib.blake2b
_dumps = orjson.dumps


def stable_bits(seed: int, dataset: str, example_id: str, purpose: str) -> int:
    """A 64-bit integer determined only by the four arguments.

    It is the first 8 bytes (big-endian) of the BLAKE2b hash of the compact JSON array
    ``[seed, dataset, example_id, purpose]``.

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
    key = _dumps([seed, dataset, example_id, purpose])
    return int.from_bytes(_blake2b(key, digest_size=8).digest(), "big")


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


def _head(seed: int, dataset: str, example_id: str) -> bytes:
    # The JSON array of stable_bits up to its last item: compact JSON of [a, b, c, d] is the
    # bytes of [a, b, c] without the "]", a ",", then d and "]". Ranking many keys for one
    # example then serialises the shared part once.
    return _dumps([seed, dataset, example_id])[:-1] + b","


def _tail(purpose: str) -> bytes:
    return _dumps(purpose) + b"]"


def stable_ranked(
    items: Sequence[_T], keys: Sequence[str], seed: int, dataset: str, example_id: str, purpose: str
) -> list[_T]:
    """``items`` in a seeded order that does not depend on the order they were given in.

    Each item is ranked by :func:`stable_bits` of ``f"{purpose}:{key}"`` for its own key (a
    template id, a label value as text), so adding an item moves others only relative to it,
    and reordering the input changes nothing.

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
    head = _head(seed, dataset, example_id)
    ranks = [
        int.from_bytes(_blake2b(head + _tail(f"{purpose}:{key}"), digest_size=8).digest(), "big")
        for key in keys
    ]
    # The key breaks (astronomically unlikely) hash ties so the order stays input-independent.
    order = sorted(range(len(items)), key=lambda i: (ranks[i], keys[i]))
    return [items[i] for i in order]


class Ranking:
    """:func:`stable_ranked` for a fixed list of keys and one purpose, prepared once.

    Converting a dataset ranks the same template ids (or option style names) for every
    example; this keeps their serialised form so each example only hashes.

    Args:
        keys: The distinct keys (at least one), in the order positions refer to.
        purpose: What the order is for.

    Example:
        >>> ranking = Ranking(["b", "a", "c"], "template")
        >>> order = ranking.order(0, "snli", "ex-1")
        >>> [["b", "a", "c"][i] for i in order] == stable_ranked(
        ...     ["b", "a", "c"], ["b", "a", "c"], 0, "snli", "ex-1", "template")
        True
    """

    __slots__ = ("_keys", "_tails")

    def __init__(self, keys: Sequence[str], purpose: str) -> None:
        self._keys = tuple(keys)
        self._tails = tuple(_tail(f"{purpose}:{key}") for key in self._keys)

    def order(self, seed: int, dataset: str, example_id: str) -> list[int]:
        """The positions of the keys, best ranked first (as :func:`stable_ranked` orders them)."""
        head = _head(seed, dataset, example_id)
        # Big-endian digests of one length sort as the integers stable_bits makes of them.
        ranked = sorted(
            zip(
                [_blake2b(head + tail, digest_size=8).digest() for tail in self._tails],
                self._keys,
                range(len(self._keys)),
                strict=True,
            )
        )
        # Keys are distinct, so a (rank, key) pair never ties and the position never decides.
        return [position for _, _, position in ranked]

    def first(self, seed: int, dataset: str, example_id: str) -> int:
        """The position of the best ranked key (``order(...)[0]``, without sorting)."""
        head = _head(seed, dataset, example_id)
        best = min(
            zip(
                [_blake2b(head + tail, digest_size=8).digest() for tail in self._tails],
                self._keys,
                range(len(self._keys)),
                strict=True,
            )
        )
        return best[2]
