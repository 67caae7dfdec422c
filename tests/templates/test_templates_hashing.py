"""The seeded choices: one hash per example, the same numbers per row and per Arrow column."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from instructkit._templates._hashing import (
    Lanes,
    Seeded,
    draw,
    draws,
    purpose_code,
    seeded,
    shuffled,
    unit,
    units,
)

# Ids of every length around the 8-byte words, with multi-byte characters (no surrogates:
# Arrow holds UTF-8 only).
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
_SEEDS = st.integers(min_value=-(2**63), max_value=2**64 - 1)


@given(seed=_SEEDS, dataset=_TEXT, ids=st.lists(_TEXT, max_size=20), start=st.integers(0, 3))
def test_column_hashes_equal_row_hashes(
    seed: int, dataset: str, ids: list[str], start: int
) -> None:
    keyed = Seeded(seed, dataset)
    expected = [keyed.example(i) for i in ids[start:]]
    for kind in (pa.string(), pa.large_string()):
        # A slice: the offsets do not start at zero.
        column = pa.array(ids, kind).slice(start)
        hashes = keyed.examples(column)
        assert hashes.type == pa.uint64()
        assert hashes.to_pylist() == expected
        chunked = pa.chunked_array([pa.array(ids[:start], kind), pa.array(ids[start:], kind)])
        assert keyed.examples(chunked).to_pylist()[start:] == expected


@given(
    examples=st.lists(st.integers(0, 2**64 - 1), max_size=20),
    purpose=st.text(max_size=10),
    step=st.integers(0, 5),
)
def test_column_draws_equal_row_draws(examples: list[int], purpose: str, step: int) -> None:
    code = purpose_code(purpose)
    column = draws(pa.array(examples, pa.uint64()), code, step)
    assert column.to_pylist() == [draw(e, code, step) for e in examples]
    assert units(column).to_pylist() == [unit(draw(e, code, step)) for e in examples]
    assert all(0.0 <= u < 1.0 for u in units(column).to_pylist())


@given(
    pairs=st.lists(st.tuples(st.integers(0, 2**64 - 1), st.text(max_size=10)), max_size=20),
    step=st.integers(0, 5),
)
def test_column_draws_with_a_code_per_row_equal_row_draws(
    pairs: list[tuple[int, str]], step: int
) -> None:
    examples = pa.array([e for e, _ in pairs], pa.uint64())
    codes = [purpose_code(p) for _, p in pairs]
    column = draws(examples, pa.array(codes, pa.uint64()), step)
    assert column.to_pylist() == [draw(e, c, step) for (e, _), c in zip(pairs, codes, strict=True)]


@given(example=st.integers(0, 2**64 - 1), count=st.integers(1, 12), take=st.integers(0, 12))
def test_shuffles_are_permutations_and_stopping_early_keeps_the_prefix(
    example: int, count: int, take: int
) -> None:
    whole = shuffled(example, purpose_code("order"), count)
    assert sorted(whole) == list(range(count))
    assert shuffled(example, purpose_code("order"), count, take) == whole[:take]


def test_keys_differ_by_seed_and_dataset_and_decisions_are_apart() -> None:
    ids = [f"ex{i}" for i in range(2000)]
    a = [seeded(0, "d").example(i) for i in ids]
    assert len(set(a)) == len(ids)
    assert a != [seeded(1, "d").example(i) for i in ids]
    assert a != [seeded(0, "e").example(i) for i in ids]
    # Two decisions about the same examples agree about as often as chance says.
    first = [draw(x, purpose_code("one")) % 2 for x in a]
    second = [draw(x, purpose_code("two")) % 2 for x in a]
    same = sum(x == y for x, y in zip(first, second, strict=True))
    assert 850 < same < 1150
    assert 850 < sum(first) < 1150


# Ids around the 8-byte words with NULs (a trailing zero byte is still a word), multi-byte
# characters and lone surrogates (hashed as surrogatepass UTF-8, like example()).
_ANY_IDS = st.lists(
    st.text(st.sampled_from(["a", "\x00", "é", "漢", "🙂", "\ud800"]), max_size=26)
    | st.text(max_size=12),
    min_size=1,
    max_size=40,
)


@given(seed=_SEEDS, dataset=_TEXT, ids=_ANY_IDS, step=st.integers(0, 4), data=st.data())
def test_lanes_give_each_example_its_own_hash_and_draws(
    seed: int, dataset: str, ids: list[str], step: int, data: st.DataObject
) -> None:
    keyed = Seeded(seed, dataset)
    lanes = keyed.example_lanes(ids)
    examples = [keyed.example(i) for i in ids]
    assert lanes.values() == examples
    codes = data.draw(st.lists(st.integers(0, 2**64 - 1), min_size=len(ids), max_size=len(ids)))
    assert lanes.draws(Lanes.of(codes), step).values() == [
        draw(e, c, step) for e, c in zip(examples, codes, strict=True)
    ]
    assert lanes.draws(codes[0], step).values() == [draw(e, codes[0], step) for e in examples]
    assert Lanes.of(examples).values() == examples
