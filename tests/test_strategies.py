"""The record strategies: every example is valid, and the arguments behave as documented."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from instructkit import Conversation, Instruction, Message, Preference, ToolCall
from instructkit.strategies import (
    conversations,
    instructions,
    messages,
    preferences,
    texts,
    tool_calls,
)

RECORD_STRATEGIES = {
    "tool_calls": tool_calls(),
    "messages": messages(),
    "conversations": conversations(),
    "instructions": instructions(),
    "preferences": preferences(),
}


@pytest.mark.parametrize("name", RECORD_STRATEGIES)
@given(data=st.data())
def test_every_record_validates_again(name: str, data: st.DataObject) -> None:
    record = data.draw(RECORD_STRATEGIES[name])
    model = type(record)
    assert model.model_validate(record.to_dict()) == record
    assert model.model_validate_json(record.model_dump_json()) == record


@given(texts())
def test_texts_encode_as_utf8(text: str) -> None:
    text.encode("utf-8")


@given(st.integers(0, 20), st.integers(0, 20), st.data())
def test_texts_respect_bounds(a: int, b: int, data: st.DataObject) -> None:
    low, high = min(a, b), max(a, b)
    text = data.draw(texts(min_size=low, max_size=high))
    assert low <= len(text) <= high


def test_repr_shows_how_the_strategy_was_built() -> None:
    assert repr(texts()) == "texts()"
    assert repr(texts(min_size=1, allow_x00=False)) == "texts(min_size=1, allow_x00=False)"
    assert repr(conversations(text=st.just("hi"))) == "conversations(text=just('hi'))"


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (texts, {"min_size": -1}),
        (texts, {"min_size": 3, "max_size": 2}),
        (texts, {"allow_x00": "yes"}),
        (texts, {"alphabet": "abc"}),
        (conversations, {"min_exchanges": 0}),
        (conversations, {"min_exchanges": 3, "max_exchanges": 2}),
        (conversations, {"text": "hello"}),
        (messages, {"max_tool_calls": -1}),
        (messages, {"roles": st.just("robot")}),
        (preferences, {"shapes": st.just("sideways")}),
        (instructions, {"inputs": ""}),
        (tool_calls, {"ids": "call_1"}),
    ],
)
def test_bad_arguments_raise_invalid_argument_on_first_use(
    factory: Any, kwargs: dict[str, Any]
) -> None:
    strategy = factory(**kwargs)  # building never raises: errors are deferred

    @settings(max_examples=1, database=None)
    @given(strategy)
    def use(_: object) -> None:
        pass

    with pytest.raises(InvalidArgument):
        use()


def test_registered_for_from_type() -> None:
    assert repr(st.from_type(Conversation)) == "conversations()"
    assert repr(st.from_type(Instruction)) == "instructions()"
    assert repr(st.from_type(Preference)) == "preferences()"
    assert repr(st.from_type(Message)) == "messages()"
    assert repr(st.from_type(ToolCall)) == "tool_calls()"
