"""The record models: validation rules, error locations, immutability and conversions."""

from __future__ import annotations

import dataclasses
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

import instructkit as ik
from instructkit import strategies as iks
from instructkit._records import INPUT_OFFSET_KEY


def user(text: str = "Hi") -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str | None = "Hello", **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": text, **extra}


def call(call_id: str = "c1", name: str = "f", arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "name": name, "arguments": arguments}


# -- field order and shape --------------------------------------------------------------


def test_field_order_is_stable() -> None:
    # Field order is part of the contract: JSON output, Arrow schemas and docs depend on it.
    assert list(ik.Message.model_fields) == [
        "role",
        "content",
        "name",
        "tool_calls",
        "tool_call_id",
        "reasoning",
        "weight",
    ]
    assert list(ik.Conversation.model_fields) == ["messages", "tools", "id", "meta"]
    assert list(ik.Instruction.model_fields) == [
        "instruction",
        "input",
        "response",
        "system",
        "id",
        "meta",
    ]
    assert list(ik.Preference.model_fields) == [
        "prompt",
        "chosen",
        "rejected",
        "tools",
        "id",
        "meta",
    ]
    assert list(ik.ToolCall.model_fields) == ["id", "name", "arguments"]


def test_records_are_immutable() -> None:
    record = ik.Instruction(instruction="Do it", response="Done")
    with pytest.raises(pydantic.ValidationError):
        record.instruction = "Other"  # type: ignore[misc]
    chat = ik.Conversation(messages=[user(), assistant()])
    assert isinstance(chat.messages, tuple)


def test_none_and_empty_content_are_kept_apart() -> None:
    with_none = ik.Message(role="assistant", content=None, tool_calls=[call()])
    with_empty = ik.Message(role="assistant", content="", tool_calls=[call()])
    assert with_none.content is None
    assert with_empty.content == ""
    assert with_none != with_empty
    assert ik.Message.model_validate_json(with_none.model_dump_json()).content is None
    assert ik.Message.model_validate_json(with_empty.model_dump_json()).content == ""


def test_tool_call_keeps_exact_json_text_and_parses_it() -> None:
    text = '{ "city" : "Oslo",  "days": [1, 2.50] }'
    tool_call = ik.ToolCall(id="c1", name="weather", arguments=text)
    assert tool_call.arguments == text
    assert tool_call.parsed_arguments == {"city": "Oslo", "days": [1, 2.5]}


def test_tool_call_arguments_from_python_become_compact_json() -> None:
    tool_call = ik.ToolCall(id="c1", name="weather", arguments={"city": "Zürich"})
    assert tool_call.arguments == '{"city":"Zürich"}'


def test_conversation_tools_keep_exact_json_text() -> None:
    schema = '{"type": "function", "function": {"name": "f"}}'
    chat = ik.Conversation(messages=[user()], tools=[schema])
    assert chat.tools == (schema,)
    assert chat.parsed_tools == [{"type": "function", "function": {"name": "f"}}]


# -- validation: each rule, its error class and location ---------------------------------

BAD_CONVERSATIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"messages": [{"role": "bot", "content": "x"}]}, "$.messages[0].role", "got 'bot'"),
    ({"messages": []}, "$.messages", "expected at least 1 item, got 0"),
    ({"messages": [user(""), assistant()]}, "$.messages[0].content", "non-empty"),
    ({"messages": [user("\ud800")]}, "$.messages[0].content", "lone surrogate"),
    ({"messages": [user(), assistant(None)]}, "$.messages[1].content", "got None"),
    ({"messages": [user(), assistant("")]}, "$.messages[1].content", "non-empty"),
    ({"messages": [{"role": "user"}]}, "$.messages[0].content", "required"),
    ({"messages": [{"role": "user", "content": 3}]}, "$.messages[0].content", "got 3"),
    ({"messages": [{**user(), "extra": 1}]}, "$.messages[0].extra", "no such field"),
    (
        {"messages": [user(), {"role": "system", "content": "late"}]},
        "$.messages[1].role",
        "only before the first user turn",
    ),
    (
        {"messages": [user(), {"role": "developer", "content": "late"}]},
        "$.messages[1].role",
        "only before the first user turn",
    ),
    (
        {"messages": [user(), {"role": "tool", "content": "r", "tool_call_id": "nope"}]},
        "$.messages[1].tool_call_id",
        "issued by an earlier assistant turn",
    ),
    (
        {
            "messages": [
                user(),
                assistant(None, tool_calls=[call("a")]),
                {"role": "tool", "content": "1", "tool_call_id": "a"},
                {"role": "tool", "content": "2", "tool_call_id": "a"},
            ]
        },
        "$.messages[3].tool_call_id",
        "answered once",
    ),
    (
        {
            "messages": [
                user(),
                assistant(None, tool_calls=[call("a"), call("a")]),
            ]
        },
        "$.messages[1].tool_calls[1].id",
        "unique tool-call ids",
    ),
    (
        {"messages": [user(), assistant(None, tool_calls=[call(arguments="{bad")])]},
        "$.messages[1].tool_calls[0].arguments",
        "valid JSON",
    ),
    (
        {"messages": [{"role": "tool", "content": "r"}]},
        "$.messages[0].tool_call_id",
        "expected a tool_call_id",
    ),
    (
        {"messages": [{**user(), "tool_calls": [call()]}]},
        "$.messages[0].tool_calls",
        "only on assistant turns",
    ),
    (
        {"messages": [{**user(), "reasoning": "hmm"}]},
        "$.messages[0].reasoning",
        "only on assistant turns",
    ),
    (
        {"messages": [{**user(), "tool_call_id": "x"}]},
        "$.messages[0].tool_call_id",
        "only on tool turns",
    ),
    ({"messages": [{**user(), "weight": 1.5}]}, "$.messages[0].weight", "1.5"),
    ({"messages": [{**user(), "weight": float("nan")}]}, "$.messages[0].weight", "nan"),
    ({"messages": [user()], "tools": ["not json"]}, "$.tools[0]", "valid JSON"),
    ({"messages": [user()], "id": ""}, "$.id", "non-empty"),
    ({"messages": [user()], "meta": {"x": object()}}, "$.meta.x", "got"),
    ({"messages": [user()], "meta": {"x": [float("nan")]}}, "$.meta.x[0]", "finite"),
    ({"messages": [user()], "meta": {"x": {"y": 2**64}}}, "$.meta.x.y", "64 bits"),
    ({"messages": [user()], "meta": {"x": {"y": "\udc00"}}}, "$.meta.x.y", "surrogate"),
]


@pytest.mark.parametrize(("data", "loc", "fragment"), BAD_CONVERSATIONS)
def test_bad_conversations_raise_located_errors(
    data: dict[str, Any], loc: str, fragment: str
) -> None:
    for build in (lambda: ik.Conversation(**data), lambda: ik.Conversation.model_validate(data)):
        with pytest.raises(ik.RecordValidationError) as caught:
            build()
        error = caught.value
        assert isinstance(error, ValueError)
        assert isinstance(error, ik.InstructkitError)
        assert error.loc is not None
        assert error.loc.startswith(loc), (error.loc, loc)
        assert f"- at {error.loc}" in str(error)
        assert fragment in str(error)
        # The pydantic error is chained for debugging, never raised itself.
        assert not isinstance(error, pydantic.ValidationError)


def test_model_validate_json_translates_errors() -> None:
    with pytest.raises(ik.RecordValidationError) as caught:
        ik.Instruction.model_validate_json(b'{"instruction": "", "response": "x"}')
    assert caught.value.loc == "$.instruction"


def test_several_problems_are_all_listed() -> None:
    with pytest.raises(ik.RecordValidationError) as caught:
        ik.Instruction(instruction="", response="")
    assert [loc for loc, _ in caught.value.errors] == ["$.instruction", "$.response"]
    assert "and 1 more problem" in str(caught.value)


def test_valid_tool_round() -> None:
    chat = ik.Conversation(
        messages=[
            {"role": "system", "content": "Be brief."},
            user("Weather in Oslo?"),
            assistant(None, tool_calls=[call("a", "weather", '{"city":"Oslo"}')]),
            {"role": "tool", "content": "", "tool_call_id": "a", "name": "weather"},
            assistant("Sunny.", reasoning="The tool said so.", weight=1),
        ]
    )
    assert chat.messages[2].tool_calls[0].parsed_arguments == {"city": "Oslo"}
    assert chat.messages[4].weight == 1.0


def test_preference_errors_point_at_the_side() -> None:
    with pytest.raises(ik.RecordValidationError) as caught:
        ik.Preference(
            prompt=[user()],
            chosen=[assistant()],
            rejected=[assistant(), {"role": "tool", "content": "x", "tool_call_id": "q"}],
        )
    assert caught.value.loc == "$.rejected[1].tool_call_id"


def test_error_tree() -> None:
    for error_type in (
        ik.DataError,
        ik.RecordValidationError,
        ik.DialectError,
        ik.DialectDetectionError,
        ik.LossyConversionError,
        ik.MalformedJSONError,
        ik.TemplateError,
        ik.ConfigurationError,
    ):
        assert issubclass(error_type, ik.InstructkitError)
        assert issubclass(error_type, ValueError)
    assert not issubclass(ik.ConfigurationError, ik.DataError)


def test_located_adds_file_line_and_prefix() -> None:
    error = ik.RecordValidationError("expected x, got y", loc="$.role")
    moved = error.located(file="a.jsonl", line=12, prefix=("messages", 2))
    assert moved.loc == "$.messages[2].role"
    assert str(moved) == "expected x, got y - at $.messages[2].role (a.jsonl, line 12)"
    assert type(moved) is ik.RecordValidationError
    assert error.line is None  # the original is untouched


def test_malformed_json_error_message() -> None:
    error = ik.MalformedJSONError(
        "expected ',' got 'x'", file="d.jsonl", line=3, column=7, offset=120
    )
    # Bytes that do not parse have no field: the error is about the line as a whole.
    assert error.loc == "$"
    assert str(error) == "expected ',' got 'x' - at $ (d.jsonl, line 3) (column 7, byte 120)"
    repeated = ik.MalformedJSONError("expected each key once", loc="$.a", line=1)
    assert str(repeated) == "expected each key once - at $.a (line 1)"


# -- conversions ----------------------------------------------------------------------


def test_instruction_to_conversation_join_and_undo() -> None:
    record = ik.Instruction(
        instruction="Summarise.\n\nBriefly.", input="Long text.", response="Short.", system="S"
    )
    chat = record.to_conversation()
    assert [m.role for m in chat.messages] == ["system", "user", "assistant"]
    assert chat.messages[1].content == "Summarise.\n\nBriefly.\n\nLong text."
    assert chat.meta[INPUT_OFFSET_KEY] == len("Summarise.\n\nBriefly.\n\n")
    # The separator inside the instruction does not confuse the split.
    assert chat.to_instruction() == record


def test_conversation_without_offset_is_never_split_by_guessing() -> None:
    chat = ik.Conversation(messages=[user("Translate.\n\nBonjour"), assistant("Hello")])
    record = chat.to_instruction()
    assert record.instruction == "Translate.\n\nBonjour"
    assert record.input == ""
    assert record.to_conversation() == chat


def test_conversation_to_instruction_reports_and_strict_raises() -> None:
    chat = ik.Conversation(messages=[{**user(), "name": "ann"}, assistant(weight=0.5)])
    report = ik.LossReport()
    record = chat.to_instruction(losses=report)
    assert record.instruction == "Hi"
    assert {loss.field for loss in report} == {"$.messages[0].name", "$.messages[1].weight"}
    with pytest.raises(ik.LossyConversionError) as caught:
        chat.to_instruction(strict=True)
    assert len(caught.value.losses) == 2


def test_conversation_of_other_shape_is_rejected() -> None:
    chat = ik.Conversation(messages=[user(), assistant(), user("again"), assistant("more")])
    with pytest.raises(ik.RecordValidationError, match=r"\[system\?, user, assistant\]"):
        chat.to_instruction()


def transcripts(chosen: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> ik.Preference:
    return ik.Preference.from_transcripts(
        ik.Conversation(messages=chosen), ik.Conversation(messages=rejected)
    )


def test_preference_shared_prefix_is_the_prompt() -> None:
    pref = transcripts([user(), assistant("A")], [user(), assistant("B")])
    assert [m.content for m in pref.prompt] == ["Hi"]
    assert pref.chosen[0].content == "A"
    assert pref.rejected[0].content == "B"


def test_preference_when_one_side_is_a_prefix_of_the_other() -> None:
    short = [user(), assistant("A")]
    long = [user(), assistant("A"), user("More?"), assistant("B")]
    pref = transcripts(short, long)
    assert [m.content for m in pref.prompt] == ["Hi"]
    assert [m.content for m in pref.chosen] == ["A"]
    assert [m.content for m in pref.rejected] == ["A", "More?", "B"]
    assert pref.to_transcripts()[0].messages == ik.Conversation(messages=short).messages


def test_preference_with_identical_sides() -> None:
    same = [user(), assistant("A")]
    pref = transcripts(same, same)
    assert pref.chosen == pref.rejected
    assert len(pref.prompt) == 1


def test_preference_differing_at_the_first_message_has_empty_prompt() -> None:
    pref = transcripts(
        [{"role": "system", "content": "S1"}, user(), assistant()],
        [{"role": "system", "content": "S2"}, user(), assistant()],
    )
    assert pref.prompt == ()
    assert len(pref.chosen) == 3


def test_preference_transcripts_need_the_same_tools() -> None:
    with pytest.raises(ik.RecordValidationError, match="same tools"):
        ik.Preference.from_transcripts(
            ik.Conversation(messages=[user(), assistant()], tools=["{}"]),
            ik.Conversation(messages=[user(), assistant()]),
        )


def test_loss_report_counts_and_summary() -> None:
    report = ik.LossReport()
    assert not report
    assert report.summary() == "nothing lost"
    loss = ik.Loss("dropped", "$.x", "gone")
    report.add(loss)
    report.add(loss)
    assert report.counts == {loss: 2}
    assert report.summary() == "dropped $.x: gone (2 rows)"
    other = ik.LossReport()
    other.merge(report)
    assert other.counts == {loss: 2}
    assert dataclasses.is_dataclass(loss)


# -- laws, under Hypothesis ----------------------------------------------------------------

any_record = st.one_of(iks.instructions(), iks.conversations(), iks.preferences())


@given(any_record)
def test_dict_and_json_round_trips(
    record: ik.Instruction | ik.Conversation | ik.Preference,
) -> None:
    model = type(record)
    assert model.model_validate(record.to_dict()) == record
    assert model.model_validate_json(record.model_dump_json()) == record


@given(iks.instructions())
def test_instruction_conversation_instruction_is_identity(record: ik.Instruction) -> None:
    report = ik.LossReport()
    assert record.to_conversation().to_instruction(strict=True, losses=report) == record
    assert not report


@given(iks.instructions())
def test_joined_user_text_contains_instruction_then_input(record: ik.Instruction) -> None:
    user_turn = record.to_conversation().messages[-2]
    assert user_turn.role == "user"
    assert user_turn.content == (
        record.instruction + ("\n\n" + record.input if record.input else "")
    )


@given(iks.preferences())
def test_transcripts_survive_a_split(pair: ik.Preference) -> None:
    chosen, rejected = pair.to_transcripts()
    again = ik.Preference.from_transcripts(chosen, rejected)
    assert again.to_transcripts() == (chosen, rejected)
    # The prompt is a shared prefix and never swallows a whole side.
    assert again.chosen
    assert again.rejected
    assert chosen.messages[: len(again.prompt)] == again.prompt
    if pair.chosen[0] != pair.rejected[0] or min(len(pair.chosen), len(pair.rejected)) == 1:
        assert again == pair


# -- content parts ------------------------------------------------------------------------


def image(url: str = "cat.png", **extra: Any) -> dict[str, Any]:
    return {"type": "image", "url": url, **extra}


def text(value: str = "Describe it.") -> dict[str, Any]:
    return {"type": "text", "text": value}


def test_content_parts_are_kept_as_typed_parts_and_round_trip() -> None:
    message = ik.Message(role="user", content=[text(), image(detail="low")])
    assert message.content == (
        ik.TextPart(text="Describe it."),
        ik.ImagePart(url="cat.png", detail="low"),
    )
    assert message.to_dict()["content"] == [
        {"type": "text", "text": "Describe it."},
        {"type": "image", "url": "cat.png", "detail": "low"},
    ]
    assert ik.Message.model_validate_json(message.model_dump_json()) == message
    # A plain string stays a plain string.
    assert ik.Message(role="user", content="Hi").content == "Hi"


@pytest.mark.parametrize(
    ("message", "loc", "fragment"),
    [
        (
            {"role": "user", "content": [text(), {"type": "video", "url": "a.mp4"}]},
            "$.content[1].type",
            "of type 'text' or 'image', got type 'video'",
        ),
        ({"role": "user", "content": [image(url="")]}, "$.content[0].url", "non-empty"),
        ({"role": "user", "content": [{"type": "image"}]}, "$.content[0].url", "required"),
        ({"role": "user", "content": [image(text="x")]}, "$.content[0].text", "no such field"),
        ({"role": "user", "content": ["Hi"]}, "$.content[0]", "a content part object"),
        ({"role": "user", "content": 5}, "$.content", "a list of content parts"),
        ({"role": "user", "content": []}, "$.content", "got no parts"),
        ({"role": "user", "content": [text(""), text("")]}, "$.content", "all empty"),
        ({"role": "assistant", "content": [image()]}, "$.content[0]", "only on user turns"),
        ({"role": "system", "content": [text(), image()]}, "$.content[1]", "role 'system'"),
    ],
)
def test_bad_content_parts_raise_located_errors(
    message: dict[str, Any], loc: str, fragment: str
) -> None:
    with pytest.raises(ik.RecordValidationError) as caught:
        ik.Message.model_validate(message)
    assert caught.value.loc == loc
    assert fragment in caught.value.reason


def test_content_parts_follow_the_text_rules_of_each_role() -> None:
    # An image alone is content; empty parts are allowed where empty text is.
    assert ik.Message(role="user", content=[image()]).content == (ik.ImagePart(url="cat.png"),)
    assert ik.Message(role="tool", content=[], tool_call_id="c1").content == ()
    calling = ik.Message(role="assistant", content=[text("")], tool_calls=[call()])
    assert calling.content == (ik.TextPart(text=""),)
    assert ik.Message(role="assistant", content=[text("A"), text("")]).content is not None
    with pytest.raises(ik.RecordValidationError) as caught:
        ik.Conversation(messages=[{"role": "user", "content": [text(), image(url="")]}])
    assert caught.value.loc == "$.messages[0].content[1].url"


def test_to_instruction_joins_text_parts_and_refuses_images() -> None:
    chat = ik.Conversation(
        messages=[
            {"role": "user", "content": [text("Name a "), text("colour.")]},
            assistant("Red"),
        ]
    )
    report = ik.LossReport()
    record = chat.to_instruction(losses=report)
    assert (record.instruction, record.response) == ("Name a colour.", "Red")
    assert [(loss.kind, loss.field) for loss in report] == [("changed", "$.messages[0].content")]
    with pytest.raises(ik.LossyConversionError):
        chat.to_instruction(strict=True)
    pictured = ik.Conversation(messages=[{"role": "user", "content": [image()]}, assistant()])
    with pytest.raises(ik.RecordValidationError) as caught:
        pictured.to_instruction()
    assert caught.value.loc == "$.messages[0].content"
