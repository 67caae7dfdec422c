"""Raw dialect rows: valid ones parse in their dialect, invalid ones are rejected as labelled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from instructkit import DataError, Instruction, parse_row, to_row
from instructkit._dialects import get_dialect
from instructkit.dialects import dialect_names
from instructkit.strategies import (
    INVALID_ROW_KINDS,
    InvalidRow,
    dialect_rows,
    instructions,
    invalid_rows,
)

T = TypeVar("T")
DIALECTS = dialect_names()


def find_any(
    strategy: st.SearchStrategy[T], condition: Callable[[T], bool], max_examples: int = 1000
) -> T:
    return find(
        strategy,
        condition,
        settings=settings(
            max_examples=max_examples, phases=[Phase.generate], database=None, deadline=None
        ),
    )


def test_every_known_dialect_is_covered() -> None:
    # The strategies build on dialect_names(), so a new dialect is covered once registered.
    assert {"instructkit", "alpaca", "sharegpt", "openai", "openai_dpo", "trl", "hh"} <= set(
        DIALECTS
    )


def with_dialect(
    make: Callable[..., st.SearchStrategy[T]],
) -> st.SearchStrategy[tuple[str, T]]:
    return st.sampled_from(DIALECTS).flatmap(lambda d: st.tuples(st.just(d), make(dialect=d)))


@given(with_dialect(dialect_rows))
def test_dialect_rows_parse_in_their_dialect(case: tuple[str, dict[str, Any]]) -> None:
    dialect, row = case
    record = parse_row(row, dialect=dialect)
    # And the record writes back to a row that parses to the same record.
    again = to_row(record, dialect=dialect, layout=_layout(row, dialect))
    assert parse_row(again, dialect=dialect) == record


def _layout(row: dict[str, Any], dialect: str) -> str | None:
    if not get_dialect(dialect).layouts:
        return None
    from instructkit import detect_dialect

    return detect_dialect([row]).layout


@given(with_dialect(invalid_rows))
def test_invalid_rows_are_rejected(case: tuple[str, InvalidRow]) -> None:
    dialect, example = case
    assert isinstance(example, InvalidRow)
    assert example.kind in INVALID_ROW_KINDS
    assert example.reason
    with pytest.raises(DataError):
        parse_row(example.row, dialect=dialect)


def _applicable(dialect: str) -> list[str]:
    kinds = [k for k in INVALID_ROW_KINDS if k != "unknown_role"]
    if dialect == "hh":  # every text sits inside a transcript string
        kinds = ["empty_object", "not_an_object", "lone_surrogate"]
    if get_dialect(dialect).roles or dialect in ("instructkit", "openai", "openai_dpo", "trl"):
        kinds.append("unknown_role")
    return kinds


@pytest.mark.parametrize(
    ("dialect", "kind"), [(d, k) for d in DIALECTS for k in _applicable(d) if d != "hh"]
)
def test_every_invalid_kind_is_reached(dialect: str, kind: str) -> None:
    found = find_any(invalid_rows(dialect=dialect), lambda e: e.kind == kind)
    with pytest.raises(DataError):
        parse_row(found.row, dialect=dialect)


@given(invalid_rows(dialect="alpaca", kinds=st.just("missing_key")))
def test_kinds_strategy_chooses_the_damage(example: InvalidRow) -> None:
    assert example.kind == "missing_key"
    assert "output" not in example.row


@given(invalid_rows(dialect="hh", kinds=st.just("wrong_type")))
def test_inapplicable_kinds_fall_back_to_one_that_applies(example: InvalidRow) -> None:
    assert example.kind in ("lone_surrogate", "empty_object")
    with pytest.raises(DataError):
        parse_row(example.row, dialect="hh")


@given(dialect_rows(dialect="alpaca", records=instructions(inputs=st.just(""))))
def test_records_strategy_is_used(row: dict[str, Any]) -> None:
    assert row["input"] == ""
    assert isinstance(parse_row(row, dialect="alpaca"), Instruction)


def test_raw_variations_are_reached() -> None:
    # Keys in another order than to_row writes them, and an empty optional column spelled out.
    find_any(dialect_rows(dialect="alpaca"), lambda r: next(iter(r)) != "instruction")
    find_any(dialect_rows(dialect="instruction"), lambda r: r.get("input") == "")
    find_any(dialect_rows(dialect="trl"), lambda r: isinstance(r.get("text"), str))


def test_invalid_rows_shrink_to_an_empty_object() -> None:
    found = find(invalid_rows(dialect="alpaca"), lambda _: True, settings=settings(database=None))
    assert found.row == {}
    assert found.kind == "empty_object"


def test_dialect_rows_shrink_to_the_simplest_row() -> None:
    found = find(dialect_rows(dialect="alpaca"), lambda _: True, settings=settings(database=None))
    assert found == {"instruction": "0", "input": "", "output": "0"}


@pytest.mark.parametrize(
    "strategy",
    [
        dialect_rows(dialect="no-such-dialect"),
        invalid_rows(dialect="alpaca", kinds=st.just("gibberish")),
        invalid_rows(dialect=3),  # type: ignore[arg-type]
        dialect_rows(dialect="alpaca", records=[Instruction(instruction="a", response="b")]),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_raise_invalid_argument(strategy: st.SearchStrategy[Any]) -> None:
    @settings(max_examples=1, database=None, phases=[Phase.generate])
    @given(strategy)
    def run(_: object) -> None:
        pass

    with pytest.raises(InvalidArgument):
        run()


def test_repr() -> None:
    assert repr(dialect_rows(dialect="hh")) == "dialect_rows(dialect='hh')"
    assert repr(invalid_rows(dialect="openai")) == "invalid_rows(dialect='openai')"
