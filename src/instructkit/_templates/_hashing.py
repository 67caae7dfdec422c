"""Stable, order-free randomness: every choice is a hash of what it is about.

A choice made for an example (which template, which option style, which exemplars, which of
several gold answers, whether a mixture keeps it) is a pure function of
``(seed, dataset, example id, purpose)``. Nothing depends on how many examples came before,
which process renders it, or how the stream was sharded, so any record can be re-rendered in
isolation and gives the same result.

How the number for one choice is made, in three steps:

1. **A key per call**: the first 16 bytes of BLAKE2b of the compact JSON array
   ``[seed, dataset]``, read as two little-endian 64-bit words ``k0, k1`` (once per
   ``(seed, dataset)``; :class:`Seeded`).
2. **One hash per example**: the example id's UTF-8 bytes, read as little-endian 64-bit
   words (the last one zero-padded), are absorbed one by one into
   ``h = k0 XOR (length * GOLDEN)`` with ``h = mix(h XOR word)``; the example's hash is
   ``mix(h XOR k1)``. ``mix`` is SplitMix64's finaliser, a bijection of 64-bit integers, so
   two ids of one length never collide.
3. **One draw per decision**: a decision with a purpose (``"template"``,
   ``"with-options:nli-3"``) draws from SplitMix64 seeded with the example's hash XOR the
   purpose's code (the first 8 bytes of BLAKE2b of the purpose's UTF-8, little-endian):
   draw ``j`` is ``mix(state + (j + 1) * GOLDEN)``. A yes/no with probability ``p`` is
   ``(draw >> 11) * 2**-53 < p``; an index in ``range(n)`` is ``draw % n``; a seeded order
   of ``n`` items is a Fisher-Yates shuffle of them sorted by their keys, draw ``j``
   choosing the item for position ``j``.

So a row costs one hash of its id, and each decision a few integer operations, instead of
one BLAKE2b per candidate. Everything here is plain 64-bit integer arithmetic, so the same
numbers are computed for a whole Arrow column at once (:meth:`Seeded.examples`,
:func:`draws`), which is what columnar conversion relies on to pick exactly what the per-row
path picks; and for a batch of rows in one Python integer (:class:`Lanes`), which is how the
per-row path makes them. BLAKE2b is used for the keys rather than :func:`hash` (salted per
process for strings); these are for sampling, not for security.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from array import array
from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Lanes",
    "Seeded",
    "draw",
    "draws",
    "purpose_code",
    "seeded",
    "shuffled",
    "stable_bits",
    "stable_index",
    "stable_ranked",
    "stable_unit",
    "unit",
    "units",
]

_T = TypeVar("_T")
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_UNIT = 2.0**-53
_blake2b = hashlib.blake2b
_U64 = pa.uint64()


def _mix(z: int) -> int:
    # SplitMix64's finaliser: every output bit depends on every input bit.
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def _u64(value: int) -> pa.Scalar:
    return pa.scalar(value, _U64)


def _mix_array(z: Any) -> Any:
    # _mix over a uint64 column: Arrow's unchecked multiply wraps modulo 2**64, as & _MASK.
    z = pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, _u64(30))), _u64(_M1))
    z = pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, _u64(27))), _u64(_M2))
    return pc.bit_wise_xor(z, pc.shift_right(z, _u64(31)))


@functools.lru_cache(maxsize=65536)
def purpose_code(purpose: str) -> int:
    """The 64-bit code of a purpose (the first 8 bytes of its BLAKE2b, little-endian)."""
    data = purpose.encode("utf-8", "surrogatepass")
    return int.from_bytes(_blake2b(data, digest_size=8).digest(), "little")


class Seeded:
    """The key of one ``(seed, dataset)``: hashes example ids into 64-bit numbers.

    Args:
        seed: The user's seed.
        dataset: The dataset (or mixture source) name.

    Example:
        >>> keyed = Seeded(0, "snli")
        >>> keyed.example("ex-1") == Seeded(0, "snli").example("ex-1") != keyed.example("ex-2")
        True
    """

    __slots__ = ("_k0", "_k1")

    def __init__(self, seed: int, dataset: str) -> None:
        digest = _blake2b(orjson.dumps([seed, dataset]), digest_size=16).digest()
        self._k0 = int.from_bytes(digest[:8], "little")
        self._k1 = int.from_bytes(digest[8:], "little")

    def example(self, example_id: str) -> int:
        """The example's 64-bit hash under this key (step 2 of the module's definition)."""
        data = example_id.encode("utf-8", "surrogatepass")
        size = len(data)
        h = self._k0 ^ ((size * _GOLDEN) & _MASK)
        # The words, low first, are the 64-bit slices of the whole id read as one integer
        # (the last one zero-padded); one conversion instead of a slice and one per word.
        rest = int.from_bytes(data, "little")
        # _mix, inlined: this runs once per row of every conversion.
        for _ in range((size + 7) >> 3):
            z = h ^ (rest & _MASK)
            rest >>= 64
            z = ((z ^ (z >> 30)) * _M1) & _MASK
            z = ((z ^ (z >> 27)) * _M2) & _MASK
            h = z ^ (z >> 31)
        z = h ^ self._k1
        z = ((z ^ (z >> 30)) * _M1) & _MASK
        z = ((z ^ (z >> 27)) * _M2) & _MASK
        return z ^ (z >> 31)

    def example_lanes(self, ids: Sequence[str]) -> Lanes:
        """:meth:`example` of each id, computed side by side (see :class:`Lanes`).

        Args:
            ids: The example ids (any text; at least one).
        """
        datas = [i.encode("utf-8", "surrogatepass") for i in ids]
        sizes = [len(d) for d in datas]
        count = len(datas)
        mask = _lane_mask(count)
        # One call for every id's start (k0 XOR its length times GOLDEN), one per word.
        h = (Lanes.of(sizes).packed * _GOLDEN & mask) ^ (self._k0 * (mask // _MASK))
        words = (max(sizes) + 7) >> 3
        if words:
            width = 8 * words
            table = array("Q", b"".join([d.ljust(width, b"\0") for d in datas]))
            if sys.byteorder == "big":
                table.byteswap()  # the words are read little-endian, as example() reads them
            for word in range(words):
                mixed = _mix_lanes(h ^ Lanes.of(table[word::words]).packed, mask)
                if min(sizes) > 8 * word:
                    h = mixed
                else:  # an id shorter than this word keeps its hash
                    keep = Lanes.of([_MASK if s > 8 * word else 0 for s in sizes]).packed
                    h ^= (mixed ^ h) & keep
        return Lanes(_mix_lanes(h ^ (self._k1 * (mask // _MASK)), mask), count)

    def examples(self, ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        """:meth:`example` of every id of a text column, as a ``uint64`` array.

        Args:
            ids: Text ids without nulls (``string``, ``large_string`` or a binary type).

        Returns:
            One hash per id, computed with Arrow kernels (no Python object per id).
        """
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks() if ids.num_chunks != 1 else ids.chunk(0)
        if pa.types.is_string(ids.type):
            ids = ids.cast(pa.binary())
        elif pa.types.is_large_string(ids.type):
            ids = ids.cast(pa.large_binary())
        count = len(ids)
        sizes = pc.cast(pc.binary_length(ids), pa.int64())
        h = pc.bit_wise_xor(pc.multiply(pc.cast(sizes, _U64), _u64(_GOLDEN)), _u64(self._k0))
        if not count:
            return pa.array([], _U64)
        bounds = pc.min_max(sizes).as_py()
        shortest, longest = bounds["min"], bounds["max"]
        # Each id zero-padded by whole words, so every word below is 8 bytes: its bytes from
        # word_start as fixed-size binary, whose data buffer is the little-endian words.
        words = -(-longest // 8)
        padding = pa.scalar(b"\0" * (8 * words), ids.type)
        padded = pc.binary_join_element_wise(ids, padding, pa.scalar(b"", ids.type))
        for word_start in range(0, longest, 8):
            octets = pc.binary_slice(padded, word_start, word_start + 8).cast(pa.binary(8))
            word = pa.Array.from_buffers(
                _U64, count, [None, octets.buffers()[1]], offset=octets.offset
            )
            mixed = _mix_array(pc.bit_wise_xor(h, word))
            h = (
                mixed
                if word_start < shortest
                else pc.if_else(pc.greater(sizes, word_start), mixed, h)
            )
        return _mix_array(pc.bit_wise_xor(h, _u64(self._k1)))


@functools.lru_cache(maxsize=1024)
def seeded(seed: int, dataset: str) -> Seeded:
    """The :class:`Seeded` key of ``(seed, dataset)``, made once and kept."""
    return Seeded(seed, dataset)


def draw(example: int, code: int, step: int = 0) -> int:
    """Draw ``step`` of the decision with purpose code ``code`` for an example's hash."""
    z = ((example ^ code) + (step + 1) * _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


# The lanes' 64-bit halves that hold the numbers: the low half of each 128-bit lane, which is
# the first of its two array items on a little-endian machine.
_VALUE = 0 if sys.byteorder == "little" else 1


@functools.lru_cache(maxsize=64)
def _lane_mask(count: int) -> int:
    """``count`` lanes each holding 2**64 - 1."""
    return Lanes.of([_MASK] * count).packed


def _mix_lanes(z: int, mask: int) -> int:
    # _mix in every lane: each shift brings the next lane's low bits into this lane's high
    # half, and each product of two 64-bit numbers fills its 128-bit lane; masking back to
    # the low halves before every multiplication keeps the lanes apart.
    z = ((z ^ (z >> 30)) & mask) * _M1 & mask
    z = ((z ^ (z >> 27)) & mask) * _M2 & mask
    return (z ^ (z >> 31)) & mask


class Lanes:
    """Many 64-bit numbers side by side in one Python int, one per 128-bit lane.

    One operation on the int is that operation on every number (as long as no lane
    overflows, which :func:`_mix_lanes` sees to), in C over the whole int instead of once
    per number in the interpreter: the per-row path hashes and draws for a batch of rows
    this way, giving exactly what :meth:`Seeded.example` and :func:`draw` give each row.

    Attributes:
        packed: Number ``i`` is bits ``128 * i`` to ``128 * i + 63``; the rest are zero.
        count: How many numbers.
    """

    __slots__ = ("count", "packed")

    def __init__(self, packed: int, count: int) -> None:
        self.packed = packed
        self.count = count

    @classmethod
    def of(cls, values: Sequence[int]) -> Lanes:
        """The lanes of ``values`` (each in ``range(2**64)``)."""
        lanes = array("Q", bytes(16 * len(values)))
        lanes[_VALUE::2] = values if isinstance(values, array) else array("Q", values)
        return cls(int.from_bytes(lanes, sys.byteorder), len(values))

    def values(self) -> list[int]:
        """The numbers, in order."""
        lanes = array("Q")
        lanes.frombytes(self.packed.to_bytes(16 * self.count, sys.byteorder))
        return lanes[_VALUE::2].tolist()

    def draws(self, codes: Lanes | int, step: int = 0) -> Lanes:
        """:func:`draw` ``step`` for each example hash, with one purpose code or one each."""
        mask = _lane_mask(self.count)
        spread = mask // _MASK
        code = codes.packed if isinstance(codes, Lanes) else codes * spread
        state = ((self.packed ^ code) + ((step + 1) * _GOLDEN & _MASK) * spread) & mask
        return Lanes(_mix_lanes(state, mask), self.count)


def draws(examples: pa.Array, code: int | pa.Array, step: int = 0) -> pa.Array:
    """:func:`draw` for a ``uint64`` column of example hashes.

    Args:
        examples: The example hashes.
        code: One purpose code for every row, or a ``uint64`` column of one per row (rows
            deciding about different templates draw in one pass).
        step: The draw's step.
    """
    codes = code if isinstance(code, pa.Array) else _u64(code)
    state = pc.add(pc.bit_wise_xor(examples, codes), _u64(((step + 1) * _GOLDEN) & _MASK))
    return _mix_array(state)


def unit(bits: int) -> float:
    """A number in ``[0, 1)`` from a draw: its top 53 bits, exactly."""
    return (bits >> 11) * _UNIT


def units(bits: pa.Array) -> pa.Array:
    """:func:`unit` for a ``uint64`` column of draws (the same floats, bit for bit)."""
    return pc.multiply(pc.cast(pc.shift_right(bits, _u64(11)), pa.float64()), _UNIT)


def shuffled(example: int, code: int, count: int, take: int | None = None) -> list[int]:
    """The first ``take`` (default all) positions of a seeded shuffle of ``range(count)``.

    A Fisher-Yates shuffle whose step ``j`` swaps position ``j`` with ``j + draw(j) % (count
    - j)``; stopping early gives the same prefix as shuffling everything.
    """
    positions = list(range(count))
    last = count if take is None else min(take, count)
    for step in range(last):
        other = step + draw(example, code, step) % (count - step)
        positions[step], positions[other] = positions[other], positions[step]
    return positions[:last]


def stable_bits(seed: int, dataset: str, example_id: str, purpose: str) -> int:
    """A 64-bit integer determined only by the four arguments (see the module docstring).

    Args:
        seed: The user's seed.
        dataset: The dataset (or mixture source) name.
        example_id: The example's id.
        purpose: What the number is for (``"template"``, ``"options-order:nli-3"`` ...), so
            that different choices about one example are independent.

    Returns:
        An integer in ``[0, 2**64)``: the first draw of that decision.
    """
    return draw(seeded(seed, dataset).example(example_id), purpose_code(purpose))


def stable_unit(seed: int, dataset: str, example_id: str, purpose: str) -> float:
    """A number in ``[0, 1)``, uniform over examples, determined only by the arguments.

    Example:
        >>> a = stable_unit(0, "snli", "ex-1", "with-options")
        >>> a == stable_unit(0, "snli", "ex-1", "with-options") and 0.0 <= a < 1.0
        True
    """
    return unit(stable_bits(seed, dataset, example_id, purpose))


def stable_index(seed: int, dataset: str, example_id: str, purpose: str, n: int) -> int:
    """An index in ``range(n)``, determined only by the arguments (``n`` must be positive)."""
    return stable_bits(seed, dataset, example_id, purpose) % n


def stable_ranked(
    items: Sequence[_T], keys: Sequence[str], seed: int, dataset: str, example_id: str, purpose: str
) -> list[_T]:
    """``items`` in a seeded order that does not depend on the order they were given in.

    The items are sorted by their keys (a template id, a label value as text), then
    shuffled by the decision ``purpose`` (see :func:`shuffled`).

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
    canonical = sorted(range(len(items)), key=keys.__getitem__)
    example = seeded(seed, dataset).example(example_id)
    return [items[canonical[i]] for i in shuffled(example, purpose_code(purpose), len(canonical))]
