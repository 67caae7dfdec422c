"""The record and text strategies: validity, arguments, repr, and type registration."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import instructkit.strategies as iks
from instructkit import Conversation, Instruction, Message, Preference, ToolCall
from instructkit._records import check_turns
from instructkit.strategies import (
    conversations,
    instructions,
    invalid_texts,
    messages,
    preferences,
    texts,
    tool_calls,
)
from instructkit.strategies._text import LONG_TEXT_CAP

RECORD_STRATEGIES = {
    "tool_calls": tool_calls(),
    "messages": messages(),
    "conversations": conversations(),
    "instructions": instructions(),
    "preferences": preferences(),
}


def use(strategy: st.SearchStrategy[Any], examples: int = 1) -> list[Any]:
    """Draw from ``strategy`` inside a real @given run (``.example()`` warns in tests)."""
    seen: list[Any] = []

    @settings(max_examples=examples, database=None, phases=[Phase.generate])
    @given(strategy)
    def run(value: Any) -> None:
        seen.append(value)

    run()
    return seen


# --- validity -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", RECORD_STRATEGIES)
@given(data=st.data())
def test_every_record_passes_validation_again(name: str, data: st.DataObject) -> None:
    record = data.draw(RECORD_STRATEGIES[name])
    model = type(record)
    assert model.model_validate(record.to_dict()) == record
    assert model.model_validate_json(record.model_dump_json()) == record


@given(conversations())
def test_conversation_turns_fit_together(chat: Conversation) -> None:
    roles = [m.role for m in chat.messages]
    first_user = roles.index("user")
    assert set(roles[:first_user]) <= {"system", "developer"}
    assert roles[-1] == "assistant"
    check_turns(chat.messages)
    answered = [m.tool_call_id for m in chat.messages if m.role == "tool"]
    issued = [c.id for m in chat.messages for c in m.tool_calls]
    assert sorted(answered) == sorted(issued)  # every call is answered, once


@given(preferences())
def test_preference_transcripts_are_valid_conversations(pair: Preference) -> None:
    chosen, rejected = pair.to_transcripts()
    assert Conversation.model_validate(chosen.to_dict()) == chosen
    assert Conversation.model_validate(rejected.to_dict()) == rejected


@given(instructions())
def test_instructions_survive_the_conversation_round_trip(record: Instruction) -> None:
    assert record.to_conversation().to_instruction() == record


@given(texts())
def test_texts_encode_as_utf8(text: str) -> None:
    text.encode("utf-8")


@given(invalid_texts())
def test_invalid_texts_cannot_be_encoded_or_used(text: str) -> None:
    with pytest.raises(UnicodeEncodeError):
        text.encode("utf-8")
    with pytest.raises(ValueError, match="surrogate"):
        Message(role="user", content=text)


@given(st.integers(0, 40), st.integers(0, 40), st.data())
def test_texts_respect_size_bounds(a: int, b: int, data: st.DataObject) -> None:
    low, high = min(a, b), max(a, b)
    text = data.draw(texts(min_size=low, max_size=high))
    assert low <= len(text) <= high


@given(st.integers(0, 3000), st.data())
def test_texts_without_max_size_stay_under_the_long_cap(low: int, data: st.DataObject) -> None:
    text = data.draw(texts(min_size=low))
    assert low <= len(text) <= max(low + 32, LONG_TEXT_CAP)


OPT_OUTS = {
    "allow_x00": "\x00",
    "allow_carriage_returns": "\r",
    "allow_line_separators": "\u2028\u2029\u0085\x0b\x0c\x1c\x1d\x1e",
    "allow_bom": "\ufeff",
}


@pytest.mark.parametrize("flag", OPT_OUTS)
@given(data=st.data())
def test_character_opt_outs_hold_for_the_whole_string(flag: str, data: st.DataObject) -> None:
    text = data.draw(texts(**{flag: False}))
    assert not set(text) & set(OPT_OUTS[flag])


@given(
    texts(
        allow_combining_marks=False,
        allow_emoji=False,
        allow_bidi=False,
        allow_placeholders=False,
        allow_role_markers=False,
        allow_whitespace_only=False,
        allow_long=False,
        alphabet=st.characters(codec="ascii", categories=["L", "N"]),
    )
)
def test_every_fragment_group_can_be_turned_off(text: str) -> None:
    # Left: letters and digits from the alphabet, plus the character groups still allowed.
    allowed = set("".join(OPT_OUTS.values())) | {"\n"}
    assert all(c.isalnum() or c in allowed for c in text)
    assert len(text) <= 2048


@given(conversations(max_tool_calls=0, max_system_turns=0, min_exchanges=2, max_exchanges=2))
def test_conversation_bounds_and_opt_outs(chat: Conversation) -> None:
    assert [m.role for m in chat.messages] == ["user", "assistant"] * 2


@given(
    conversations(
        text=st.just("hi"),
        reasoning=st.none(),
        weights=st.none(),
        names=st.none(),
        tools=st.just(()),
        ids=st.none(),
        meta=st.just({}),
    )
)
def test_conversation_parts_come_from_the_given_strategies(chat: Conversation) -> None:
    assert chat.id is None
    assert chat.meta == {}
    assert chat.tools == ()
    for message in chat.messages:
        assert message.content in ("hi", None, "")
        assert message.reasoning is None
        assert message.weight is None
        assert message.name is None


@given(messages(roles=st.just("tool")))
def test_messages_follow_the_roles_strategy(message: Message) -> None:
    assert message.role == "tool"
    assert message.tool_call_id


@given(preferences(shapes=st.just("identical")))
def test_identical_shape_gives_equal_sides(pair: Preference) -> None:
    assert pair.chosen == pair.rejected


@given(preferences(shapes=st.just("no_prompt")))
def test_no_prompt_shape_gives_an_empty_prompt(pair: Preference) -> None:
    assert pair.prompt == ()


@given(tool_calls(ids=st.just("c"), names=st.just("f"), arguments=st.just('{"x": [1, 2]}')))
def test_tool_calls_use_the_given_strategies(call: ToolCall) -> None:
    assert call == ToolCall(id="c", name="f", arguments='{"x": [1, 2]}')


# --- arguments and repr -------------------------------------------------------------------


def test_repr_shows_how_the_strategy_was_built() -> None:
    assert repr(texts()) == "texts()"
    assert repr(texts(min_size=1, allow_x00=False)) == "texts(min_size=1, allow_x00=False)"
    assert repr(conversations(text=st.just("hi"))) == "conversations(text=just('hi'))"
    assert repr(preferences(shapes=st.just("identical"))) == "preferences(shapes=just('identical'))"


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (texts, {"min_size": -1}),
        (texts, {"min_size": 3, "max_size": 2}),
        (texts, {"min_size": 1.5}),
        (texts, {"allow_x00": "yes"}),
        (texts, {"alphabet": "abc"}),
        (invalid_texts, {"base": "abc"}),
        (conversations, {"min_exchanges": 0}),
        (conversations, {"min_exchanges": 3, "max_exchanges": 2}),
        (conversations, {"text": "hello"}),
        (conversations, {"max_system_turns": -1}),
        (conversations, {"meta": {}}),
        (messages, {"max_tool_calls": -1}),
        (messages, {"roles": st.just("robot")}),
        (preferences, {"shapes": st.just("sideways")}),
        (preferences, {"min_prompt_exchanges": 2, "max_prompt_exchanges": 1}),
        (instructions, {"inputs": ""}),
        (tool_calls, {"ids": "call_1"}),
        (messages, {"content_parts": "yes"}),
        (conversations, {"content_parts": 1}),
        (preferences, {"content_parts": None}),
    ],
)
def test_bad_arguments_raise_invalid_argument_on_first_use(
    factory: Any, kwargs: dict[str, Any]
) -> None:
    strategy = factory(**kwargs)  # building never raises: errors wait for first use
    with pytest.raises(InvalidArgument):
        use(strategy)


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        texts(1)  # type: ignore[misc]


def test_every_strategy_docstring_says_what_it_shrinks_towards() -> None:
    for name in iks.__all__:
        value = getattr(iks, name)
        if isinstance(value, type) or not callable(value) or name == "register_type_strategies":
            continue
        assert "Shrinks towards" in (value.__doc__ or ""), name


# --- health checks and registration -------------------------------------------------------


@pytest.mark.parametrize("name", [*RECORD_STRATEGIES, "texts"])
def test_default_settings_raise_no_health_check(name: str) -> None:
    strategy = RECORD_STRATEGIES.get(name, texts())

    # Hypothesis's own defaults (100 examples, every health check on), not the ci profile.
    @settings(settings.get_profile("default"), database=None, deadline=None)
    @given(strategy)
    def run(_: object) -> None:
        pass

    assert HealthCheck.too_slow not in settings.get_profile("default").suppress_health_check
    run()


def test_from_type_uses_the_strategies() -> None:
    assert repr(st.from_type(Conversation)) == "conversations()"
    assert repr(st.from_type(Instruction)) == "instructions()"
    assert repr(st.from_type(Preference)) == "preferences()"
    assert repr(st.from_type(Message)) == "messages()"
    assert repr(st.from_type(ToolCall)) == "tool_calls()"


def _takes_records(chat: Conversation, record: Instruction) -> tuple[Conversation, Instruction]:
    return chat, record


@settings(max_examples=10)
@given(st.builds(_takes_records))
def test_builds_infers_record_arguments(value: tuple[Conversation, Instruction]) -> None:
    assert isinstance(value[0], Conversation)
    assert isinstance(value[1], Instruction)
