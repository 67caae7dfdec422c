"""Dialects: round-trip laws, loss reports, error locations, detection, column and role maps."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import instructkit as ik
from instructkit import strategies as iks
from instructkit._bookkeeping import COMPLETION_START_KEY, INPUT_OFFSET_KEY, LAYOUT_KEY
from instructkit._dialects import get_dialect
from instructkit._dialects._implicit_prompts import split_shared_prefix
from instructkit._records import content_text
from instructkit.strategies._rows import OPENAI_DPO_SHAPES

# -- helpers -----------------------------------------------------------------------------


def canonical_ids(record: Any) -> Any:
    """The record with tool-call ids renamed to what ShareGPT/TRL reading would invent."""
    if isinstance(record, ik.Preference):
        prompt, rename = _rename(record.prompt, {}, 0)
        count = len(rename)
        chosen, _ = _rename(record.chosen, dict(rename), count)
        rejected, _ = _rename(record.rejected, dict(rename), count)
        return record.model_copy(update={"prompt": prompt, "chosen": chosen, "rejected": rejected})
    messages, _ = _rename(record.messages, {}, 0)
    return record.model_copy(update={"messages": messages})


def _rename(
    messages: tuple[ik.Message, ...], rename: dict[str, str], count: int
) -> tuple[tuple[ik.Message, ...], dict[str, str]]:
    out = []
    for message in messages:
        calls = []
        for call in message.tool_calls:
            rename[call.id] = f"call_{count}"
            count += 1
            calls.append(call.model_copy(update={"id": rename[call.id]}))
        update: dict[str, Any] = {"tool_calls": tuple(calls)}
        if message.tool_call_id is not None:
            update["tool_call_id"] = rename[message.tool_call_id]
        out.append(message.model_copy(update=update))
    return tuple(out), rename


def check_laws(record: Any, dialect: str, layout: str | None = None, **maps: Any) -> dict[str, Any]:
    """The laws every dialect keeps for a record it can write.

    * the row is plain JSON data;
    * the loss report is empty exactly when reading the row back gives the record again
      (apart from the memory of the layout it was read from);
    * strict=True raises exactly when something is lost;
    * the written row is a fixed point: reading and writing it again gives the same row,
      with or without ``layout=``;
    * no instructkit bookkeeping reaches a third-party row.
    """
    report = ik.LossReport()
    row = ik.to_row(record, dialect=dialect, layout=layout, losses=report, **maps)
    assert orjson.loads(orjson.dumps(row)) == row
    if dialect != "instructkit":
        assert not [key for key in row if key.startswith("instructkit.")]
    back = ik.parse_row(row, dialect=dialect, **maps)
    same = forget_layout(back) == forget_layout(record)
    assert same == (not report), f"{report.summary()}\n{record!r}\n{back!r}"
    if report:
        with pytest.raises(ik.LossyConversionError):
            ik.to_row(record, dialect=dialect, layout=layout, strict=True, **maps)
    else:
        assert ik.to_row(record, dialect=dialect, layout=layout, strict=True, **maps) == row
    assert ik.to_row(back, dialect=dialect, layout=layout, **maps) == row
    assert ik.to_row(back, dialect=dialect, **maps) == row
    return row


def forget_layout(record: Any) -> Any:
    """The record without the memory of the layout it was read from."""
    meta = {key: value for key, value in record.meta.items() if key != LAYOUT_KEY}
    return record.model_copy(update={"meta": meta})


def plain_text() -> st.SearchStrategy[str]:
    return iks.texts(min_size=1, max_size=40)


def compact_arguments() -> st.SearchStrategy[str]:
    values = st.dictionaries(
        st.text(max_size=5),
        st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5) | st.booleans(),
        max_size=3,
    )
    return values.map(lambda value: orjson.dumps(value).decode())


# Records with only what a format can carry (names, weights, reasoning off; compact JSON).
plain_conversations = iks.conversations(
    names=st.none(), weights=st.none(), reasoning=st.none(), text=plain_text()
)
compact_conversations = iks.conversations(
    reasoning=st.none(), tool_calls=iks.tool_calls(arguments=compact_arguments())
)
compact_preferences = iks.preferences(tool_calls=iks.tool_calls(arguments=compact_arguments()))


@st.composite
def with_completion_start(draw: st.DrawFn, chats: st.SearchStrategy[ik.Conversation]) -> Any:
    chat = draw(chats)
    start = draw(st.integers(0, len(chat.messages) - 1))
    return chat.model_copy(update={"meta": {**chat.meta, COMPLETION_START_KEY: start}})


def _turn(role: str) -> st.SearchStrategy[ik.Message]:
    return st.builds(ik.Message, role=st.just(role), content=plain_text())


def _standard_chat(*roles: str) -> st.SearchStrategy[ik.Conversation]:
    return st.builds(
        ik.Conversation,
        messages=st.tuples(*(_turn(role) for role in roles)),
        id=st.none() | plain_text(),
    )


@st.composite
def standard_completions(draw: st.DrawFn) -> ik.Conversation:
    roles = draw(st.sampled_from([("user", "assistant"), ("assistant",)]))
    chat = draw(_standard_chat(*roles))
    return chat.model_copy(update={"meta": {COMPLETION_START_KEY: len(roles) - 1}})


standard_preferences = st.builds(
    ik.Preference,
    prompt=st.lists(_turn("user"), max_size=1),
    chosen=st.tuples(_turn("assistant")),
    rejected=st.tuples(_turn("assistant")),
    id=st.none() | plain_text(),
)


def single_answer_pairs(**options: Any) -> st.SearchStrategy[ik.Preference]:
    """Pairs with one plain answer turn per side (LLaMA-Factory's ranking rows)."""
    shapes = st.sampled_from(["independent", "identical", "text_prefix"])
    return iks.preferences(max_tool_calls=0, shapes=shapes, **options)


# Text without a literal "<image>", which a record holding images cannot have (LLaMA-Factory
# would read it as an image; writing refuses it).
vision_text = iks.texts().map(lambda text: text.replace("<image>", "<image >"))

LAW_CASES: list[tuple[str, str | None, st.SearchStrategy[Any]]] = [
    ("instructkit", None, iks.conversations() | iks.instructions() | iks.preferences()),
    ("instruction", None, iks.instructions()),
    ("alpaca", None, iks.instructions()),
    ("dolly", None, iks.instructions()),
    ("flan", None, iks.instructions()),
    ("alpaca", None, iks.conversations(min_exchanges=2, max_system_turns=0, max_tool_calls=0)),
    ("alpaca", "ranking", single_answer_pairs(max_system_turns=0)),
    ("sharegpt", None, iks.conversations()),
    ("sharegpt", "ranking", single_answer_pairs()),
    ("sharegpt", None, plain_conversations.map(canonical_ids)),
    ("sharegpt", "system_column", plain_conversations.map(canonical_ids)),
    ("openai", None, iks.conversations()),
    ("openai", None, compact_conversations),
    ("openai_dpo", None, iks.preferences(shapes=st.sampled_from(OPENAI_DPO_SHAPES))),
    (
        "openai_dpo",
        None,
        iks.preferences(reasoning=st.none(), shapes=st.sampled_from(OPENAI_DPO_SHAPES)),
    ),
    ("trl", None, iks.conversations()),
    ("trl", None, compact_conversations.map(canonical_ids)),
    ("trl", "conversational_prompt_only", compact_conversations),
    ("trl", "conversational_prompt_completion", iks.conversations()),
    ("trl", "conversational_prompt_completion", with_completion_start(compact_conversations)),
    ("trl", None, iks.preferences()),
    ("trl", None, compact_preferences.map(canonical_ids)),
    ("trl", "conversational_implicit_preference", compact_preferences),
    ("trl", "standard_language_modeling", _standard_chat("assistant")),
    ("trl", "standard_prompt_only", _standard_chat("user")),
    ("trl", "standard_prompt_completion", standard_completions()),
    ("trl", "standard_preference", standard_preferences),
    ("trl", "standard_implicit_preference", standard_preferences),
    # Content parts: kept where the layout has them, joined and reported where it has not.
    ("instructkit", None, iks.conversations(content_parts=True)),
    ("instructkit", None, iks.preferences(content_parts=True)),
    ("sharegpt", None, iks.conversations(content_parts=True, text=vision_text)),
    ("sharegpt", "ranking", single_answer_pairs(content_parts=True, text=vision_text)),
    (
        "alpaca",
        None,
        # One exchange reads back as an Instruction (see the test after the laws).
        iks.conversations(
            min_exchanges=2,
            max_system_turns=0,
            max_tool_calls=0,
            content_parts=True,
            text=vision_text,
        ),
    ),
    (
        "alpaca",
        "ranking",
        single_answer_pairs(max_system_turns=0, content_parts=True, text=vision_text),
    ),
    ("openai", None, iks.conversations(content_parts=True)),
    (
        "openai_dpo",
        None,
        iks.preferences(content_parts=True, shapes=st.sampled_from(OPENAI_DPO_SHAPES)),
    ),
    ("trl", None, iks.conversations(content_parts=True)),
    ("trl", "conversational_prompt_completion", iks.conversations(content_parts=True)),
    # TRL binds images to the prompt, so the sides of a pair hold none.
    ("trl", None, iks.preferences(content_parts=True, shapes=st.sampled_from(OPENAI_DPO_SHAPES))),
]


# -- round-trip laws ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "layout", "records"),
    LAW_CASES,
    ids=[f"{d}-{layout or 'default'}-{n}" for n, (d, layout, _) in enumerate(LAW_CASES)],
)
@given(data=st.data())
def test_round_trip_laws(
    dialect: str, layout: str | None, records: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    check_laws(data.draw(records), dialect, layout)


@given(iks.conversations(min_exchanges=1, max_exchanges=1, max_system_turns=0, max_tool_calls=0))
def test_alpaca_reads_one_plain_exchange_back_as_the_instruction_it_is(
    chat: ik.Conversation,
) -> None:
    # An Alpaca row cannot say whether it was written from a Conversation of one exchange or
    # from an Instruction; it reads as the Instruction, which turns into the same Conversation.
    report = ik.LossReport()
    row = ik.to_row(chat, dialect="alpaca", losses=report)
    back = ik.parse_row(row, dialect="alpaca")
    if not report:
        assert isinstance(back, ik.Instruction)
        assert forget_layout(back.to_conversation()) == forget_layout(chat)


HH_MARKER = re.compile("\n\n(Human|Assistant):")


@given(iks.preferences() | iks.preferences(content_parts=True))
def test_hh_round_trip_law_or_marker_error(pair: ik.Preference) -> None:
    # Only user and assistant text is written (other turns are dropped, reported); content
    # parts are joined (reported).
    texts = [
        content_text(m.content) or ""
        for m in (*pair.prompt, *pair.chosen, *pair.rejected)
        if m.role in ("user", "assistant")
    ]
    if any(HH_MARKER.search(text) for text in texts):
        with pytest.raises(ik.DialectError, match="speaker marker"):
            ik.to_row(pair, dialect="hh")
    else:
        check_laws(pair, "hh")


@given(iks.preferences(text=iks.texts(min_size=1, max_size=30, allow_role_markers=False)))
def test_hh_round_trip_law(pair: ik.Preference) -> None:
    check_laws(pair, "hh")


@given(iks.conversations(), st.sampled_from(["sharegpt", "openai", "trl"]))
def test_column_and_role_maps_round_trip(chat: ik.Conversation, dialect: str) -> None:
    maps: dict[str, Any] = {
        "sharegpt": {"column_map": {"conversations": "turns", "from": "speaker"}},
        "openai": {"column_map": {"messages": "chat", "content": "text"}},
        "trl": {"column_map": {"messages": "dialogue", "role": "speaker"}},
    }[dialect]
    row = check_laws(chat, dialect, **maps)
    assert set(maps["column_map"].values()) & set(row)


# -- example rows: wild spellings, and what reading them reports -------------------------


def test_sharegpt_row_round_trips_with_tools_and_calls() -> None:
    row = {
        "id": "r1",
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "Weather in Oslo?"},
            {"from": "gpt", "value": "Let me look."},
            {
                "from": "function_call",
                "value": '{"name": "weather", "arguments": {"city": "Oslo"}}',
            },
            {"from": "observation", "value": "rain"},
            {"from": "gpt", "value": "Rain."},
        ],
        "tools": '[{"name": "weather", "parameters": {}}]',
        "lang": "en",
    }
    report = ik.LossReport()
    chat = ik.parse_row(row, dialect="sharegpt", losses=report)
    assert isinstance(chat, ik.Conversation)
    assistant = chat.messages[2]
    assert assistant.content == "Let me look."
    assert assistant.tool_calls[0].id == "call_0"
    assert assistant.tool_calls[0].arguments == '{"city": "Oslo"}'
    assert chat.messages[3].tool_call_id == "call_0"
    assert chat.tools == ('{"name": "weather", "parameters": {}}',)
    assert chat.meta == {"lang": "en"}
    assert {loss.kind for loss in report} == {"invented"}
    assert ik.to_row(chat, dialect="sharegpt") == row
    with pytest.raises(ik.LossyConversionError, match="invented"):
        ik.parse_row(row, dialect="sharegpt", strict=True)


def test_sharegpt_parallel_calls_and_merging_rules() -> None:
    value = '[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": 1}}]'
    row = {
        "conversations": [
            {"from": "human", "value": "Go"},
            {"from": "function_call", "value": value},
            {"from": "function_call", "value": '{"name": "c", "arguments": []}'},
            {"from": "observation", "value": "A"},
            {"from": "observation", "value": "B"},
            {"from": "tool", "value": "C"},
            {"from": "gpt", "value": "Done"},
        ]
    }
    report = ik.LossReport()
    chat = ik.parse_row(row, dialect="sharegpt", losses=report)
    assert [len(m.tool_calls) for m in chat.messages[1:3]] == [2, 1]
    assert [m.tool_call_id for m in chat.messages[3:6]] == ["call_0", "call_1", "call_2"]
    back = ik.to_row(chat, dialect="sharegpt")
    assert back["conversations"][5] == {"from": "observation", "value": "C"}
    assert "changed $.conversations[*].from: speaker 'tool' is written back as 'observation'" in (
        report.summary()
    )


def test_sharegpt_text_then_calls_only_turn_is_reported() -> None:
    chat = ik.Conversation(
        messages=[
            {"role": "user", "content": "Go"},
            {"role": "assistant", "content": "One moment."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_0", "name": "f", "arguments": "{}"}],
            },
            {"role": "tool", "content": "ok", "tool_call_id": "call_0"},
            {"role": "assistant", "content": "Done"},
        ]
    )
    report = ik.LossReport()
    row = ik.to_row(chat, dialect="sharegpt", losses=report)
    assert [turn["from"] for turn in row["conversations"]][1:3] == ["gpt", "function_call"]
    assert [loss.field for loss in report] == ["$.messages[*]"]
    merged = ik.parse_row(row, dialect="sharegpt")
    assert merged.messages[1].content == "One moment."
    assert merged.messages[1].tool_calls


def test_sharegpt_wild_spellings_are_reported() -> None:
    row = {
        "conversations": [
            {"from": "human", "value": "Go", "markdown": "x"},
            {"from": "function_call", "value": '{"arguments": "{\\"a\\": 1}", "name": "f"}'},
            {"from": "observation", "value": ""},
            {"from": "assistant", "value": "ok"},
        ],
        "system": "",
        "tools": "[]",
    }
    report = ik.LossReport()
    chat = ik.parse_row(row, dialect="sharegpt", losses=report)
    assert chat.messages[1].tool_calls[0].arguments == '{"a": 1}'
    assert {(loss.kind, loss.field) for loss in report} >= {
        ("dropped", "$.conversations[*].markdown"),
        ("changed", "$.conversations[*].value"),
        ("changed", "$.conversations[*].from"),
        ("dropped", "$.system"),
        ("changed", "$.tools"),
    }


def test_openai_row_round_trips_exactly() -> None:
    row = {
        "messages": [
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "Weather?", "name": "ann"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_x",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{ "city" : "Paris" }'},
                    }
                ],
                "weight": 0,
            },
            {"role": "tool", "content": "sun", "tool_call_id": "call_x"},
            {"role": "assistant", "content": "Soleil.", "weight": 1},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}],
        "parallel_tool_calls": False,
        "split": "train",
    }
    report = ik.LossReport()
    chat = ik.parse_row(row, dialect="openai", losses=report)
    assert not report
    assert chat.meta == {"split": "train", "parallel_tool_calls": False}
    assert chat.messages[2].tool_calls[0].arguments == '{ "city" : "Paris" }'
    assert chat.messages[2].weight == 0.0
    assert chat.tools == ('{"type":"function","function":{"name":"weather","parameters":{}}}',)
    assert ik.to_row(chat, dialect="openai") == row
    assert orjson.dumps(ik.to_row(chat, dialect="openai")) == orjson.dumps(row)


def test_openai_reasoning_is_a_reported_drop() -> None:
    chat = ik.Conversation(
        messages=[
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4", "reasoning": "Add them."},
        ]
    )
    report = ik.LossReport()
    ik.to_row(chat, dialect="openai", losses=report)
    assert (
        str(next(iter(report)))
        == "dropped $.messages[*].reasoning: openai messages have no reasoning"
    )
    with pytest.raises(ik.LossyConversionError, match="reasoning") as caught:
        ik.to_row(chat, dialect="openai", strict=True)
    assert caught.value.loc == "$.messages.reasoning"


def test_openai_legacy_function_call_is_mapped() -> None:
    row = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Look: "}, {"type": "input_audio"}],
            },
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "f", "arguments": "{}"},
            },
            {"role": "function", "name": "f", "content": "42"},
            {"role": "assistant", "content": "It is 42.", "refusal": None},
        ]
    }
    report = ik.LossReport()
    chat = ik.parse_row(row, dialect="openai", losses=report)
    assert chat.messages[0].content == (ik.TextPart(text="Look: "),)
    assert chat.messages[1].tool_calls == (ik.ToolCall(id="call_0", name="f", arguments="{}"),)
    assert (chat.messages[2].role, chat.messages[2].tool_call_id) == ("tool", "call_0")
    kinds = {(loss.kind, loss.field) for loss in report}
    assert kinds == {
        ("dropped", "$.messages[*].content[*]"),
        ("changed", "$.messages[*].function_call"),
        ("invented", "$.messages[*].tool_calls[*].id"),
        ("changed", "$.messages[*].role"),
        ("invented", "$.messages[*].tool_call_id"),
    }
    with pytest.raises(ik.LossyConversionError):
        ik.parse_row(row, dialect="openai", strict=True)


def test_openai_dpo_row_round_trips() -> None:
    row = {
        "input": {
            "messages": [{"role": "user", "content": "Hi"}],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "parallel_tool_calls": True,
        },
        "preferred_output": [{"role": "assistant", "content": "Hello!"}],
        "non_preferred_output": [{"role": "assistant", "content": "What?"}],
    }
    pair = ik.parse_row(row, dialect="openai_dpo")
    assert isinstance(pair, ik.Preference)
    assert pair.meta == {"parallel_tool_calls": True}
    assert ik.to_row(pair, dialect="openai_dpo") == row


TRL_ROWS = [
    ("standard_language_modeling", {"text": "The sky is blue."}),
    (
        "conversational_language_modeling",
        {"messages": [{"role": "user", "content": "Hi"}], "chat_template_kwargs": {"x": 1}},
    ),
    ("standard_prompt_only", {"prompt": "The sky is"}),
    ("conversational_prompt_only", {"prompt": [{"role": "user", "content": "Color?"}]}),
    ("standard_prompt_completion", {"prompt": "The sky is", "completion": " blue."}),
    ("standard_prompt_completion", {"prompt": "", "completion": "Anything."}),
    (
        "conversational_prompt_completion",
        {
            "prompt": [{"role": "user", "content": "Color?"}],
            "completion": [{"role": "assistant", "content": "Blue."}],
        },
    ),
    ("standard_preference", {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}),
    (
        "conversational_preference",
        {
            "prompt": [{"role": "user", "content": "Color?"}],
            "chosen": [{"role": "assistant", "content": "Blue."}],
            "rejected": [{"role": "assistant", "content": "Green."}],
        },
    ),
    ("standard_implicit_preference", {"chosen": "The sky is blue.", "rejected": "The sky is."}),
    (
        "conversational_implicit_preference",
        {
            "chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
            "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "B"}],
        },
    ),
    (
        "conversational_language_modeling",
        {
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "thinking": "Call the tool.",
                    "tool_calls": [
                        {"type": "function", "function": {"name": "w", "arguments": {"c": "X"}}}
                    ],
                },
                {"role": "tool", "name": "w", "content": "sun"},
                {"role": "assistant", "content": "Sunny."},
            ],
            "tools": [{"type": "function", "function": {"name": "w"}}],
            "chat_template_kwargs": {"enable_thinking": True},
        },
    ),
]


@pytest.mark.parametrize(
    ("layout", "row"), TRL_ROWS, ids=[f"{n}-{r[0]}" for n, r in enumerate(TRL_ROWS)]
)
def test_trl_layouts_are_detected_and_round_trip(layout: str, row: dict[str, Any]) -> None:
    guess = ik.detect_dialect([row])
    assert (guess.dialect, guess.layout) == ("trl", layout)
    report = ik.LossReport()
    record = ik.parse_row(row, dialect="trl")
    assert ik.to_row(record, dialect="trl", layout=layout) == row
    # The record remembers its layout: no layout= is needed to get the row back.
    assert ik.to_row(record, dialect="trl", losses=report) == row
    assert not report


def test_trl_layout_memory_is_kept_only_when_needed() -> None:
    standard = ik.parse_row({"prompt": "The sky is", "completion": " blue."}, dialect="trl")
    assert standard.meta == {
        COMPLETION_START_KEY: 1,
        LAYOUT_KEY: "trl:standard_prompt_completion",
    }
    chat = ik.parse_row({"messages": [{"role": "user", "content": "Hi"}]}, dialect="trl")
    assert chat.meta == {}  # the default layout for a Conversation: nothing to remember
    # An explicit layout= wins over the memory.
    conversational = ik.to_row(standard, dialect="trl", layout="conversational_prompt_completion")
    assert conversational["completion"] == [{"role": "assistant", "content": " blue."}]


def test_trl_remembered_layout_that_no_longer_fits_says_so() -> None:
    standard = ik.parse_row({"text": "The sky is blue."}, dialect="trl")
    longer = standard.model_copy(
        update={"messages": (ik.Message(role="user", content="Hi"), *standard.messages)}
    )
    with pytest.raises(ik.DialectError, match="remembered in meta") as caught:
        ik.to_row(longer, dialect="trl")
    assert caught.value.loc == "$.messages"
    assert "messages" in ik.to_row(longer, dialect="trl", layout="conversational_language_modeling")


def test_trl_ultrafeedback_prompt_is_kept_in_meta_but_not_written() -> None:
    # A string prompt next to full conversations is an implicit pair (TRL ignores the
    # prompt); written back, a prompt column would make some readers take the standard form.
    row = {
        "prompt": "Q",
        "prompt_id": "abc",
        "chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
        "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "B"}],
        "score_chosen": 9.0,
    }
    guess = ik.detect_dialect([row])
    assert (guess.dialect, guess.layout) == ("trl", "conversational_implicit_preference")
    pair = ik.parse_row(row, dialect="trl")
    assert pair.meta["prompt"] == "Q"
    report = ik.LossReport()
    written = ik.to_row(pair, dialect="trl", losses=report)
    assert written == {key: value for key, value in row.items() if key != "prompt"}
    assert [loss.field for loss in report] == ["$.meta.prompt"]


def test_trl_prompt_completion_keeps_the_split() -> None:
    row = {
        "prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
        "completion": [{"role": "assistant", "content": "A"}],
    }
    chat = ik.parse_row(row, dialect="trl")
    assert chat.meta == {COMPLETION_START_KEY: 2}
    assert ik.to_row(chat, dialect="trl") == row
    report = ik.LossReport()
    lm = ik.to_row(chat, dialect="trl", layout="conversational_language_modeling", losses=report)
    assert lm == {"messages": [*row["prompt"], *row["completion"]]}
    assert [(loss.kind, loss.field) for loss in report] == [
        ("dropped", f"$.meta[{COMPLETION_START_KEY!r}]")
    ]


def test_trl_instruction_defaults_to_prompt_completion() -> None:
    record = ik.Instruction(instruction="Translate.", input="chat", response="cat")
    report = ik.LossReport()
    row = ik.to_row(record, dialect="trl", losses=report)
    assert row == {
        "prompt": [{"role": "user", "content": "Translate.\n\nchat"}],
        "completion": [{"role": "assistant", "content": "cat"}],
    }
    # TRL has no place for the join point: reading back gives one instruction text.
    assert [(loss.kind, loss.field) for loss in report] == [("changed", "$.input")]
    chat = ik.parse_row(row, dialect="trl")
    assert chat.to_instruction() == ik.Instruction(instruction="Translate.\n\nchat", response="cat")
    plain = ik.Instruction(instruction="Translate.", response="cat")
    report = ik.LossReport()
    back = ik.parse_row(ik.to_row(plain, dialect="trl", losses=report), dialect="trl")
    assert not report
    assert back.to_instruction() == plain


def test_trl_tools_as_json_text_are_read_and_reported() -> None:
    row = {"messages": [{"role": "user", "content": "Hi"}], "tools": '[{"name": "f"}, {"b": 1}]'}
    report = ik.LossReport()
    chat = ik.parse_row(row, dialect="trl", losses=report)
    assert chat.tools == ('{"name": "f"}', '{"b": 1}')
    assert [loss.field for loss in report] == ["$.tools"]
    # An unwrapped function object is written in the wrapped shape chat templates expect.
    assert ik.to_row(chat, dialect="trl")["tools"] == [
        {"type": "function", "function": {"name": "f"}},
        {"b": 1},
    ]


def test_trl_ids_are_written_only_when_reading_could_not_invent_them() -> None:
    call = {"type": "function", "function": {"name": "f", "arguments": {}}}
    bare = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "content": "r"},
        ]
    }
    chat = ik.parse_row(bare, dialect="trl")
    assert chat.messages[1].tool_calls[0].id == chat.messages[2].tool_call_id == "call_0"
    assert ik.to_row(chat, dialect="trl") == bare
    spelled = {
        "messages": [
            bare["messages"][0],
            {"role": "assistant", "tool_calls": [{"id": "call_0", **call}]},
            {"role": "tool", "content": "r", "tool_call_id": "call_0"},
        ]
    }
    report = ik.LossReport()
    assert ik.parse_row(spelled, dialect="trl", losses=report) == chat
    assert [loss.kind for loss in report] == ["changed"]  # the ids will be left out
    own = {
        "messages": [
            bare["messages"][0],
            *(
                {**m, "tool_calls": [{"id": "mine", **call}]}
                if m["role"] == "assistant"
                else {**m, "tool_call_id": "mine"}
                for m in bare["messages"][1:]
            ),
        ]
    }
    assert ik.to_row(ik.parse_row(own, dialect="trl"), dialect="trl") == own


def test_trl_standard_layout_rejects_other_shapes() -> None:
    chat = ik.Conversation(messages=[{"role": "user", "content": "Q"}])
    with pytest.raises(ik.DialectError, match=r"expected turns \['assistant'\]") as caught:
        ik.to_row(chat, dialect="trl", layout="standard_language_modeling")
    assert caught.value.loc == "$.messages"
    with pytest.raises(ik.ConfigurationError, match="expected a Preference"):
        ik.to_row(chat, dialect="trl", layout="conversational_preference")
    with pytest.raises(ik.ConfigurationError, match="expected a layout"):
        ik.to_row(chat, dialect="trl", layout="chatml")


@pytest.mark.parametrize(
    ("chosen", "rejected", "expected"),
    [
        ("The sky is blue.", "The sky is green.", ("The sky is ", "blue.", "green.")),
        ("Yes", "Yes, sure", ("Ye", "s", "s, sure")),
        ("Same", "Same", ("Sam", "e", "e")),
        ("Apple", "Banana", ("", "Apple", "Banana")),
        ("x", "x", ("", "x", "x")),
    ],
)
def test_split_shared_prefix_edges(chosen: str, rejected: str, expected: tuple[str, ...]) -> None:
    assert split_shared_prefix(chosen, rejected) == expected


@given(iks.texts(min_size=1, max_size=30), iks.texts(min_size=1, max_size=30))
def test_trl_standard_implicit_rows_round_trip(chosen: str, rejected: str) -> None:
    row = {"chosen": chosen, "rejected": rejected}
    pair = ik.parse_row(row, dialect="trl")
    prompt = pair.prompt[0].content if pair.prompt else ""
    assert prompt + pair.chosen[0].content == chosen
    assert prompt + pair.rejected[0].content == rejected
    assert ik.to_row(pair, dialect="trl", layout="standard_implicit_preference") == row


def test_flan_row_keeps_task_metadata() -> None:
    row = {
        "inputs": "Premise: A. Hypothesis: B. Options: yes, no",
        "targets": "yes",
        "task_name": "anli_r1",
        "task_source": "Flan2021",
        "template_type": "zs_opt",
        "template_idx": 4,
    }
    record = ik.parse_row(row, dialect="flan")
    assert isinstance(record, ik.Instruction)
    assert record.meta["template_idx"] == 4
    assert ik.to_row(record, dialect="flan") == row
    mirror = {"source": "Q?", "target": "A", "task": "t"}
    cmap = {"inputs": "source", "targets": "target"}
    assert (
        ik.to_row(
            ik.parse_row(mirror, dialect="flan", column_map=cmap), dialect="flan", column_map=cmap
        )
        == mirror
    )


def test_flan_joins_an_input_and_reports_it() -> None:
    record = ik.Instruction(instruction="Summarize.", input="Long text", response="Short")
    report = ik.LossReport()
    row = ik.to_row(record, dialect="flan", losses=report)
    assert row == {"inputs": "Summarize.\n\nLong text", "targets": "Short"}
    assert [(loss.kind, loss.field) for loss in report] == [("changed", "$.input")]
    assert ik.parse_row(row, dialect="flan") == ik.Instruction(
        instruction="Summarize.\n\nLong text", response="Short"
    )
    # Rows earlier versions wrote with the join point are still split there.
    old = {**row, INPUT_OFFSET_KEY: 12}
    assert ik.parse_row(old, dialect="flan") == record


HH_ROWS = [
    "\n\nHuman: Hi\n\nAssistant: Hello",
    "\n\nHuman:  two spaces\n\nAssistant: trailing space \n\nHuman: again\n\nAssistant: ok",
    "\n\nHuman: line\nbreak\n\n\n\nAssistant: \nleading newline\n",
    "\n\nHuman: Human: not a marker\n\nAssistant: Assistant:",
]


@pytest.mark.parametrize("text", HH_ROWS)
def test_hh_transcripts_round_trip_byte_exact(text: str) -> None:
    row = {"chosen": text, "rejected": text + " (worse)"}
    pair = ik.parse_row(row, dialect="hh")
    assert ik.to_row(pair, dialect="hh") == row


def test_hh_prompt_is_the_shared_prefix() -> None:
    row = {
        "chosen": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Joke?\n\nAssistant: Knock knock.",
        "rejected": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Joke?\n\nAssistant: No.",
    }
    pair = ik.parse_row(row, dialect="hh")
    assert [m.content for m in pair.prompt] == ["Hi", "Hello", "Joke?"]
    assert [m.content for m in pair.chosen] == ["Knock knock."]


@given(
    st.lists(
        st.sampled_from(["\n\nHuman: ", "\n\nAssistant: ", "\n\nHuman:", "\n\n", "\n", " ", ":"])
        | iks.texts(max_size=6),
        max_size=8,
    ).map("".join),
    st.sampled_from(["\n\nHuman: ", "\n\nAssistant: ", "\n\nHuman:", "Human: ", ""]),
)
def test_hh_every_accepted_transcript_round_trips_byte_exact(body: str, start: str) -> None:
    row = {"chosen": start + body, "rejected": start + body + "!"}
    try:
        pair = ik.parse_row(row, dialect="hh")
    except ik.DataError as err:
        failure: ik.DataError | None = err
    else:
        failure = None
        assert ik.to_row(pair, dialect="hh") == row
    # Rejected rows are rejected with a located error, never altered.
    assert failure is None or failure.loc in ("$.chosen", "$.rejected")


def test_hh_role_map_adds_speakers() -> None:
    row = {
        "chosen": "\n\nSystem: Be kind.\n\nHuman: Hi\n\nAssistant: Hey",
        "rejected": "\n\nSystem: Be kind.\n\nHuman: Hi\n\nAssistant: Go",
    }
    pair = ik.parse_row(row, dialect="hh", role_map={"System": "system"})
    assert pair.prompt[0].role == "system"
    assert ik.to_row(pair, dialect="hh", role_map={"System": "system"}) == row
    report = ik.LossReport()
    plain = ik.to_row(pair, dialect="hh", losses=report)
    assert plain["chosen"].startswith("\n\nHuman: Hi")
    assert [loss.field for loss in report] == ["$.prompt[*]"]


def test_hh_marker_inside_text_cannot_be_written() -> None:
    pair = ik.Preference(
        prompt=[{"role": "user", "content": "Say '\n\nAssistant: hi'"}],
        chosen=[{"role": "assistant", "content": "ok"}],
        rejected=[{"role": "assistant", "content": "no"}],
    )
    with pytest.raises(ik.DialectError, match="speaker marker") as caught:
        ik.to_row(pair, dialect="hh")
    assert caught.value.loc == "$.prompt[0].content"


# -- malformed rows: error class and location --------------------------------------------

LONE = "\ud800"
MALFORMED: list[tuple[str, Any, type[Exception], str]] = [
    ("sharegpt", ["not", "a", "row"], ik.DialectError, "a JSON object, got an array - at $"),
    ("sharegpt", {"turns": []}, ik.DialectError, "expected a 'conversations' key"),
    ("sharegpt", {"conversations": "hi"}, ik.DialectError, "- at $.conversations"),
    ("sharegpt", {"conversations": [1]}, ik.DialectError, "- at $.conversations[0]"),
    ("sharegpt", {"conversations": [{"from": "human"}]}, ik.DialectError, "'value' key"),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "a"}, {"from": "bot", "value": "b"}]},
        ik.DialectError,
        "got 'bot' - at $.conversations[1].from",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "a"}, {"from": "observation", "value": "b"}]},
        ik.DialectError,
        "got no unanswered call - at $.conversations[1].from",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "function_call", "value": '{"name": "f"}'}]},
        ik.DialectError,
        "keys 'name' and 'arguments', got keys ['name'] - at $.conversations[0].value",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "function_call", "value": "{oops"}]},
        ik.DialectError,
        "- at $.conversations[0].value",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "a" + LONE}]},
        ik.RecordValidationError,
        "lone surrogate '\\ud800' at index 1 - at $.conversations[0].value",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "a"}, {"from": "system", "value": "s"}]},
        ik.RecordValidationError,
        "- at $.conversations[1].from",
    ),
    ("sharegpt", {"conversations": []}, ik.RecordValidationError, "- at $.conversations"),
    ("sharegpt", {"conversations": [], "tools": "{}"}, ik.DialectError, "- at $.tools"),
    (
        "openai",
        {"messages": {}},
        ik.DialectError,
        "expected an array, got an object - at $.messages",
    ),
    ("openai", {"messages": [{"content": "x"}]}, ik.DialectError, "'role' key"),
    (
        "openai",
        {"messages": [{"role": "robot", "content": "x"}]},
        ik.DialectError,
        "got 'robot' - at $.messages[0].role",
    ),
    (
        "openai",
        {"messages": [{"role": "user", "content": 5}]},
        ik.DialectError,
        "- at $.messages[0].content",
    ),
    (
        "openai",
        {"messages": [{"role": "user", "content": "x", "weight": True}]},
        ik.DialectError,
        "got a boolean - at $.messages[0].weight",
    ),
    (
        "openai",
        {"messages": [{"role": "assistant", "content": "x", "weight": 2}]},
        ik.RecordValidationError,
        "- at $.messages[0].weight",
    ),
    (
        "openai",
        {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}]},
        ik.DialectError,
        "got neither - at $.messages[1].role",
    ),
    (
        "openai",
        {
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "tool", "content": "r", "tool_call_id": "nope"},
            ]
        },
        ik.RecordValidationError,
        "got 'nope' - at $.messages[1].tool_call_id",
    ),
    (
        "openai",
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{x"},
                        }
                    ],
                }
            ]
        },
        ik.RecordValidationError,
        "- at $.messages[0].tool_calls[0].function.arguments",
    ),
    (
        "openai",
        {
            "messages": [
                {"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "function": {}}]}
            ]
        },
        ik.DialectError,
        "expected type 'function', got 'custom' - at $.messages[0].tool_calls[0].type",
    ),
    (
        "openai",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]},
        ik.DialectError,
        "- at $.messages[0].content[0].text",
    ),
    ("openai", {"messages": [], "tools": "[]"}, ik.DialectError, "- at $.tools"),
    (
        "openai",
        {"messages": [], "parallel_tool_calls": "yes"},
        ik.DialectError,
        "- at $.parallel_tool_calls",
    ),
    (
        "openai_dpo",
        {"input": {"messages": []}, "preferred_output": [], "non_preferred_output": []},
        ik.RecordValidationError,
        "expected at least 1 item, got 0 (and 1 more problem) - at $.preferred_output",
    ),
    (
        "openai_dpo",
        {"input": [], "preferred_output": [], "non_preferred_output": []},
        ik.DialectError,
        "- at $.input",
    ),
    (
        "openai_dpo",
        {
            "input": {"messages": [{"role": "user", "content": "q"}]},
            "preferred_output": [{"role": "assistant", "content": "a"}],
            "non_preferred_output": [{"role": "tool", "content": "x"}],
        },
        ik.DialectError,
        "- at $.non_preferred_output[0].role",
    ),
    ("trl", {"question": "q"}, ik.DialectError, "expected the columns of a TRL layout"),
    ("trl", {"text": ""}, ik.RecordValidationError, "- at $.text"),
    ("trl", {"prompt": [], "completion": "x"}, ik.DialectError, "- at $.completion"),
    (
        "trl",
        {"prompt": [{"role": "user", "content": "q"}], "completion": []},
        ik.DialectError,
        "- at $.completion",
    ),
    ("trl", {"prompt": "q", "chosen": "a", "rejected": 3}, ik.DialectError, "- at $.rejected"),
    (
        "trl",
        {
            "chosen": [{"role": "user", "content": "q" + LONE}],
            "rejected": [{"role": "user", "content": "q"}],
        },
        ik.RecordValidationError,
        "- at $.chosen[0].content",
    ),
    (
        "trl",
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"function": {"name": "f", "arguments": "{x"}}],
                }
            ]
        },
        ik.DialectError,
        "- at $.messages[0].tool_calls[0].function.arguments",
    ),
    (
        "trl",
        {"messages": [{"role": "user", "content": "q"}], "tools": "{x"},
        ik.DialectError,
        "- at $.tools",
    ),
    (
        "trl",
        {"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "r"}]},
        ik.DialectError,
        "got neither - at $.messages[1].role",
    ),
    (
        "trl",
        {
            "prompt": [{"role": "user", "content": "q"}],
            "completion": [{"role": "bot", "content": "a"}],
        },
        ik.DialectError,
        "got 'bot' - at $.completion[0].role",
    ),
    ("trl", ["text"], ik.DialectError, "expected a row that is a JSON object, got an array"),
    ("openai", "row", ik.DialectError, "expected a row that is a JSON object, got a string"),
    ("hh", None, ik.DialectError, "expected a row that is a JSON object, got null"),
    ("flan", {"inputs": "q"}, ik.DialectError, "expected a 'targets' key"),
    ("flan", {"inputs": "q", "targets": ""}, ik.RecordValidationError, "- at $.targets"),
    (
        "flan",
        {"inputs": "q", "targets": "a", "instructkit.input_offset": 1},
        ik.DialectError,
        "- at $['instructkit.input_offset']",
    ),
    ("flan", {"inputs": LONE, "targets": "a"}, ik.RecordValidationError, "- at $.inputs"),
    ("hh", {"chosen": "\n\nHuman: hi"}, ik.DialectError, "expected a 'rejected' key"),
    (
        "hh",
        {"chosen": "Human: hi", "rejected": "\n\nHuman: x"},
        ik.DialectError,
        "to start with a marker such as",
    ),
    (
        "hh",
        {"chosen": "\n\nHuman: hi", "rejected": "\n\nHuman:x"},
        ik.DialectError,
        "expected one space after 'Human:' in turn 0",
    ),
    (
        "hh",
        {"chosen": "\n\nHuman: hi\n\nAssistant:", "rejected": "\n\nHuman: x"},
        ik.DialectError,
        "in turn 1",
    ),
    (
        "hh",
        {"chosen": "\n\nHuman: hi\n\nAssistant: ", "rejected": "\n\nHuman: x"},
        ik.RecordValidationError,
        "turn 1 (Assistant)",
    ),
    (
        "hh",
        {"chosen": "\n\nHuman: " + LONE, "rejected": "\n\nHuman: x"},
        ik.RecordValidationError,
        "- at $.chosen",
    ),
    (
        "hh",
        {"chosen": 1, "rejected": "\n\nHuman: x"},
        ik.DialectError,
        "got a number - at $.chosen",
    ),
    ("alpaca", {"instruction": "i", "input": ""}, ik.DialectError, "expected an 'output' key"),
    (
        "alpaca",
        {"instruction": "i", "output": "o", "history": [["a"]]},
        ik.DialectError,
        "pair of texts, got 1 items - at $.history[0]",
    ),
    (
        "alpaca",
        {"instruction": "i", "output": "o", "history": [["", "b"]]},
        ik.RecordValidationError,
        "- at $.history[0][0]",
    ),
    (
        "alpaca",
        {"instruction": "i", "chosen": "c", "rejected": ""},
        ik.RecordValidationError,
        "- at $.rejected",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "q"}], "chosen": {"from": "gpt"}},
        ik.DialectError,
        "expected a 'value' key, got keys 'from' - at $.chosen",
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "q"}], "rejected": {"from": "gpt"}},
        ik.DialectError,
        "expected a 'chosen' key",
    ),
    (
        "sharegpt",
        {
            "conversations": [{"from": "human", "value": "q"}],
            "chosen": {"from": "human", "value": "c"},
            "rejected": {"from": "gpt", "value": "r"},
        },
        ik.DialectError,
        "expected the chosen turn to be an assistant answer, got a user turn - at $.chosen.from",
    ),
    (
        "dolly",
        {"instruction": "i", "context": "", "response": 1},
        ik.DialectError,
        "- at $.response",
    ),
    (
        "instruction",
        {"instruction": "", "response": "r"},
        ik.RecordValidationError,
        "- at $.instruction",
    ),
]


@pytest.mark.parametrize(
    ("dialect", "row", "error", "message"),
    MALFORMED,
    ids=[f"{n}-{case[0]}" for n, case in enumerate(MALFORMED)],
)
def test_malformed_rows_raise_located_errors(
    dialect: str, row: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        ik.parse_row(row, dialect=dialect)
    assert message in str(caught.value)
    assert isinstance(caught.value, ik.DataError)


def test_errors_use_the_users_column_names() -> None:
    row = {"turns": [{"speaker": "human", "text": "a"}, {"speaker": "bot", "text": "b"}]}
    cmap = {"conversations": "turns", "from": "speaker", "value": "text"}
    with pytest.raises(ik.DialectError, match=r"- at \$\.turns\[1\]\.speaker"):
        ik.parse_row(row, dialect="sharegpt", column_map=cmap)
    chat = ik.parse_row(row, dialect="sharegpt", column_map=cmap, role_map={"bot": "assistant"})
    assert chat.messages[1].role == "assistant"
    with pytest.raises(ik.RecordValidationError, match=r"- at \$\.turns\[0\]\.text"):
        ik.parse_row(
            {"turns": [{"speaker": "human", "text": ""}]}, dialect="sharegpt", column_map=cmap
        )


def test_nested_tool_call_keys_are_not_renamed_by_column_map() -> None:
    # "name" is renamed for the message's speaker name only, never inside a tool call.
    row = {
        "messages": [
            {"role": "user", "content": "Go", "speaker": "ann"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "content": "ok", "tool_call_id": "c"},
        ]
    }
    chat = ik.parse_row(row, dialect="openai", column_map={"name": "speaker", "id": "uid"})
    assert chat.messages[0].name == "ann"
    assert chat.messages[1].tool_calls[0].name == "f"
    assert ik.to_row(chat, dialect="openai", column_map={"name": "speaker", "id": "uid"}) == row


def test_meta_keys_that_would_read_back_as_fields_are_dropped() -> None:
    chat = ik.Conversation(
        messages=[{"role": "user", "content": "Hi"}], meta={"system": "x", "tools": 1, "lang": "en"}
    )
    report = ik.LossReport()
    row = ik.to_row(chat, dialect="sharegpt", losses=report)
    assert row["lang"] == "en"
    assert "system" not in row
    assert "tools" not in row
    assert {loss.field for loss in report} == {"$.meta.system", "$.meta.tools"}


def test_unknown_dialect_and_bad_maps_are_configuration_errors() -> None:
    with pytest.raises(ik.ConfigurationError):
        ik.parse_row({"conversations": []}, dialect="vicuna")
    with pytest.raises(ik.ConfigurationError, match="column_map"):
        ik.parse_row({"conversations": []}, dialect="sharegpt", column_map={"messages": "x"})
    with pytest.raises(ik.ConfigurationError, match="role_map"):
        ik.parse_row({"conversations": []}, dialect="sharegpt", role_map={"bot": "robot"})
    with pytest.raises(ik.ConfigurationError, match="writes Preference"):
        ik.to_row(ik.Conversation(messages=[{"role": "user", "content": "x"}]), dialect="hh")


# -- detection ---------------------------------------------------------------------------

SHAREGPT_ROW = {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}
OPENAI_ROW = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
ALPACA_ROW = {"instruction": "i", "input": "", "output": "o"}
HH_ROW = {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"}
DETECTED = [
    (SHAREGPT_ROW, "sharegpt", "conversations"),
    ({**SHAREGPT_ROW, "system": "s"}, "sharegpt", "system_column"),
    (OPENAI_ROW, "openai", None),
    (ALPACA_ROW, "alpaca", "supervised"),
    ({"instruction": "i", "context": "", "response": "r", "category": "qa"}, "dolly", None),
    ({"instruction": "i", "response": "r"}, "instruction", None),
    ({"inputs": "q", "targets": "a", "task_name": "t"}, "flan", None),
    (HH_ROW, "hh", None),
    ({"chosen": "a b", "rejected": "a c"}, "trl", "standard_implicit_preference"),
    (
        {"input": {"messages": []}, "preferred_output": [], "non_preferred_output": []},
        None,
        None,
    ),
]


@pytest.mark.parametrize(("row", "dialect", "layout"), DETECTED)
def test_single_rows_are_detected(
    row: dict[str, Any], dialect: str | None, layout: str | None
) -> None:
    if dialect is None:
        # Fits openai_dpo's keys but its empty outputs break a record rule: no dialect.
        with pytest.raises(ik.DialectDetectionError, match="looks like openai_dpo"):
            ik.detect_dialect([row])
        return
    guess = ik.detect_dialect([row])
    assert (guess.dialect, guess.layout, guess.confidence) == (dialect, layout, 1.0)
    assert ik.parse_row(row) == ik.parse_row(row, dialect=dialect)


def test_mixed_sample_reports_conflicts() -> None:
    rows = [SHAREGPT_ROW, SHAREGPT_ROW, ALPACA_ROW, SHAREGPT_ROW, {"foo": 1}, "text"]
    guess = ik.detect_dialect(rows)
    assert guess.dialect == "sharegpt"
    assert guess.confidence == pytest.approx(3 / 6)
    assert guess.votes == {"sharegpt": 3, "alpaca": 1}
    assert [(c.index, c.dialect) for c in guess.conflicts] == [(2, "alpaca"), (4, None), (5, None)]
    assert guess.conflicts[0].reason == "fits alpaca better than sharegpt"
    assert "no dialect has keys ['foo']" in guess.conflicts[1].reason
    assert "a JSON object, got a string - at $" in guess.conflicts[2].reason


def test_sample_is_spread_over_a_sequence() -> None:
    rows = [OPENAI_ROW] * 990 + [SHAREGPT_ROW] * 10
    guess = ik.detect_dialect(rows, sample_size=20)
    assert guess.sampled == 20
    assert guess.dialect == "openai"
    assert [c.index for c in guess.conflicts] == [999]
    head = ik.detect_dialect(iter(rows), sample_size=20)
    assert head.conflicts == ()


def test_openai_and_trl_messages_are_told_apart() -> None:
    trl_row = {
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {}}}],
            },
            {"role": "tool", "content": "r"},
        ]
    }
    assert ik.detect_dialect([trl_row]).dialect == "trl"
    assert ik.detect_dialect([OPENAI_ROW, trl_row]).votes == {"openai": 1, "trl": 1}
    assert ik.detect_dialect([OPENAI_ROW, trl_row]).dialect == "openai"


def test_detection_layout_is_the_majority_layout() -> None:
    rows = [{"prompt": "a", "completion": "b"}] * 3 + [{"prompt": "a"}]
    guess = ik.detect_dialect(rows)
    assert (guess.dialect, guess.layout, guess.conflicts) == (
        "trl",
        "standard_prompt_completion",
        (),
    )


def test_detection_with_column_map() -> None:
    rows = [{"source": "q", "target": "a"}]
    guess = ik.detect_dialect(rows, column_map={"inputs": "source", "targets": "target"})
    assert guess.dialect == "flan"


def test_every_dialect_is_registered_once_in_priority_order() -> None:
    names = ik.dialects.dialect_names()
    assert sorted(names) == sorted(
        [
            "instructkit",
            "instruction",
            "alpaca",
            "dolly",
            "sharegpt",
            "openai",
            "openai_dpo",
            "trl",
            "flan",
            "hh",
        ]
    )
    assert names.index("openai") < names.index("trl")
    assert names.index("hh") < names.index("trl")


# -- rows from the public row strategies -------------------------------------------------
# (Valid rows coming back whole: tests/dialects/test_bookkeeping.py.)


@pytest.mark.parametrize("dialect", ik.dialects.dialect_names())
@given(data=st.data())
def test_invalid_rows_raise_data_errors_where_the_damage_is(
    dialect: str, data: st.DataObject
) -> None:
    bad = data.draw(iks.invalid_rows(dialect=dialect))
    with pytest.raises(ik.DataError) as caught:
        ik.parse_row(bad.row, dialect=dialect)
    if bad.kind in ("empty_object", "not_an_object"):
        return
    damaged = bad.reason.rsplit(" at ", 1)[1].split(", ")
    loc = caught.value.loc or "$"
    assert any(path.startswith(loc) or loc.startswith(path) for path in damaged), (
        f"{bad.reason}: {caught.value}"
    )


@pytest.mark.parametrize("dialect", ["trl", "sharegpt"])
@given(data=st.data())
def test_wrong_types_never_turn_a_row_into_another_valid_layout(
    dialect: str, data: st.DataObject
) -> None:
    # In TRL a null column counts as absent: a prompt-completion row whose completion is
    # nulled is a valid prompt-only row, so null is not a wrong type for a top-level text.
    bad = data.draw(iks.invalid_rows(dialect=dialect, kinds=st.just("wrong_type")))
    with pytest.raises(ik.DataError):
        ik.parse_row(bad.row, dialect=dialect)


# -- wild rows: whatever reads without a reported loss writes back unchanged ---------------

_WILD_TEXT = st.sampled_from(["", "x", " y ", "{}", '"s"', "\n\nHuman: a"])
_SHAREGPT_TURN = st.fixed_dictionaries(
    {
        "from": st.sampled_from(
            ["human", "gpt", "user", "assistant", "system", "observation", "tool", "developer"]
        ),
        "value": _WILD_TEXT,
    }
) | st.fixed_dictionaries(
    {
        "from": st.just("function_call"),
        "value": st.sampled_from(
            [
                '{"name": "f", "arguments": {}}',
                '{"arguments": "{\\"a\\":1}", "name": "g"}',
                '[{"name": "f", "arguments": 1}, {"name": "h", "arguments": "zz"}]',
                '{"name":"f","arguments":[ ]}',
            ]
        ),
    }
)
_WILD_SHAREGPT = st.fixed_dictionaries(
    {"conversations": st.lists(_SHAREGPT_TURN, max_size=6)},
    optional={
        "system": st.sampled_from(["", "S", None]),
        "tools": st.sampled_from(["[]", '[{"a":1}, 2]', "", None, "[ {} ]"]),
        "id": st.sampled_from([1, "a", None]),
    },
)
_WILD_CALL = st.fixed_dictionaries(
    {
        "function": st.fixed_dictionaries(
            {"name": st.just("f"), "arguments": st.sampled_from(["{}", '{"a": 1}', {"a": 1}, "zz"])}
        )
    },
    optional={
        "id": st.sampled_from(["c1", "call_0", "call_1", None]),
        "type": st.sampled_from(["function", None]),
    },
)
_WILD_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "tool", "system", "function"])},
    optional={
        "content": _WILD_TEXT
        | st.none()
        | st.lists(st.sampled_from([{"type": "text", "text": "a"}, {"type": "image_url"}])),
        "tool_calls": st.lists(_WILD_CALL, max_size=2),
        "tool_call_id": st.sampled_from(["c1", "c2", "call_0"]),
        "weight": st.sampled_from([0, 1, 0.5, 1.0]),
        "thinking": _WILD_TEXT,
    },
)
_WILD_CHAT = st.fixed_dictionaries(
    {"messages": st.lists(_WILD_MESSAGE, min_size=1, max_size=4)},
    optional={"tools": st.sampled_from([[], [{"a": 1}]])},
)


def _without_absent(value: Any) -> Any:
    # The documented normalisation: null, and empty tools / tool_calls arrays, are absent.
    if isinstance(value, dict):
        return {
            key: _without_absent(item)
            for key, item in value.items()
            if item is not None and not (key in ("tools", "tool_calls") and item == [])
        }
    if isinstance(value, list):
        return [_without_absent(item) for item in value]
    return value


@given(
    st.one_of(
        st.tuples(st.just("sharegpt"), _WILD_SHAREGPT),
        st.tuples(st.sampled_from(["openai", "trl"]), _WILD_CHAT),
    )
)
def test_rows_read_without_loss_write_back_unchanged(case: tuple[str, dict[str, Any]]) -> None:
    dialect, row = case
    report = ik.LossReport()
    try:
        record = ik.parse_row(row, dialect=dialect, losses=report)
    except ik.DataError as err:
        failure: ik.DataError | None = err
    else:
        failure = None
        written = ik.LossReport()
        layout = get_dialect(dialect).match(row).layout
        back = ik.to_row(record, dialect=dialect, layout=layout, losses=written)
        if not report:
            assert back == _without_absent(row)
        again = ik.parse_row(back, dialect=dialect)
        assert (forget_layout(again) == forget_layout(record)) == (not written)
    # Bad rows fail with the dialect's own located error, never the framework's safety net.
    assert failure is None or "unexpected row shape" not in str(failure)


def test_role_map_reads_and_writes_the_same_vocabulary() -> None:
    row = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "bot", "value": "Yo"}]}
    role_map = {"bot": "assistant", "robot": "assistant"}
    record = ik.parse_row(row, dialect="sharegpt", role_map=role_map)
    assert [m.role for m in record.messages] == ["user", "assistant"]
    # The first word mapped to a role is the one written; roles it does not mention keep
    # the dialect's own word.
    assert ik.to_row(record, dialect="sharegpt", role_map=role_map) == row
    plain = ik.to_row(record, dialect="sharegpt")
    assert [turn["from"] for turn in plain["conversations"]] == ["human", "gpt"]


def test_role_map_supplies_a_word_for_a_role_the_dialect_has_none_for() -> None:
    # HH has no word for system turns; a role_map entry gives it one, both ways.
    row = {
        "chosen": "\n\nSystem: Be kind.\n\nHuman: Hi\n\nAssistant: Hello",
        "rejected": "\n\nSystem: Be kind.\n\nHuman: Hi\n\nAssistant: Go away",
    }
    record = ik.parse_row(row, dialect="hh", role_map={"System": "system"})
    assert record.prompt[0].role == "system"
    assert ik.to_row(record, dialect="hh", role_map={"System": "system"}) == row


@pytest.mark.parametrize("dialect", ["instruction", "alpaca", "dolly"])
def test_meta_keys_never_turn_into_fields(dialect: str) -> None:
    record = ik.Instruction(instruction="Do", response="Done", meta={"system": "sneaky"})
    report = ik.LossReport()
    row = ik.to_row(record, dialect=dialect, losses=report)
    assert "system" not in row
    assert [loss.field for loss in report] == ["$.meta.system"]
    assert ik.parse_row(row, dialect=dialect).system is None


# -- content parts -------------------------------------------------------------------------

VISION_ROW = {
    "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                {"type": "text", "text": "And this one?"},
                {"type": "image_url", "image_url": {"url": "images/2.jpg", "detail": "high"}},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Two cats."}], "weight": 1},
    ]
}


def test_openai_image_parts_round_trip_exactly() -> None:
    report = ik.LossReport()
    chat = ik.parse_row(VISION_ROW, dialect="openai", losses=report)
    assert not report
    assert chat.messages[1].content == (
        ik.ImagePart(url="data:image/png;base64,iVBORw0K"),
        ik.TextPart(text="And this one?"),
        ik.ImagePart(url="images/2.jpg", detail="high"),
    )
    assert ik.to_row(chat, dialect="openai") == VISION_ROW
    pair = ik.Preference(
        prompt=chat.messages[:2],
        chosen=[chat.messages[2].model_copy(update={"weight": None})],  # DPO lines: no weights
        rejected=[{"role": "assistant", "content": "Cats."}],
    )
    row = ik.to_row(pair, dialect="openai_dpo")
    assert row["input"]["messages"] == VISION_ROW["messages"][:2]
    assert ik.parse_row(row, dialect="openai_dpo") == pair


def test_openai_other_parts_are_dropped_and_string_urls_changed() -> None:
    row = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": "...", "format": "wav"}},
                    {"type": "image_url", "image_url": "cat.png"},
                    {"type": "text", "text": "Hi", "cache": True},
                ],
            },
            {"role": "assistant", "content": "Hello"},
        ]
    }
    report = ik.LossReport()
    chat = ik.parse_row(row, dialect="openai", losses=report)
    assert chat.messages[0].content == (ik.ImagePart(url="cat.png"), ik.TextPart(text="Hi"))
    assert sorted((loss.kind, loss.field) for loss in report) == [
        ("changed", "$.messages[*].content[*].image_url"),
        ("dropped", "$.messages[*].content[*]"),
        ("dropped", "$.messages[*].content[*].cache"),
    ]


def test_openai_image_on_an_assistant_turn_is_refused_located() -> None:
    row = {
        "messages": [
            {"role": "user", "content": "Draw a cat."},
            {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "a"}}]},
        ]
    }
    with pytest.raises(ik.RecordValidationError) as caught:
        ik.parse_row(row, dialect="openai")
    assert caught.value.loc == "$.messages[1].content[0]"


@pytest.mark.parametrize("dialect", ["hh"])
def test_text_only_layouts_join_parts_and_drop_images_reported(dialect: str) -> None:
    chat = ik.parse_row(VISION_ROW, dialect="openai")
    record: Any = chat
    if dialect == "hh":
        record = ik.Preference(
            prompt=chat.messages[1:2],
            chosen=[chat.messages[2]],
            rejected=[{"role": "assistant", "content": "Cats."}],
        )
    report = ik.LossReport()
    row = ik.to_row(record, dialect=dialect, losses=report)
    kinds = {(loss.kind, loss.field.rsplit(".", 1)[-1]) for loss in report}
    assert {("changed", "content"), ("dropped", "content[*]")} <= kinds
    assert "And this one?" in orjson.dumps(row).decode()


# -- OpenAI's fine-tuning rules: what a line has no place for is reported or refused ------


def _losses(record: Any, dialect: str) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    report = ik.LossReport()
    row = ik.to_row(record, dialect=dialect, losses=report)
    return row, {(loss.kind, loss.field) for loss in report}


def test_openai_writes_weights_0_or_1_on_assistant_turns_only() -> None:
    chat = ik.Conversation(
        messages=[
            ik.Message(role="user", content="Hi", weight=1.0),
            ik.Message(role="assistant", content="Hello", weight=0.5),
            ik.Message(role="user", content="Bye"),
            ik.Message(role="assistant", content="Bye", weight=0.0),
        ]
    )
    row, losses = _losses(chat, "openai")
    assert [m.get("weight") for m in row["messages"]] == [None, None, None, 0]
    assert losses == {("dropped", "$.messages[*].weight")}


def test_openai_tool_messages_carry_no_name() -> None:
    call = ik.ToolCall(id="c1", name="weather", arguments='{"city":"Oslo"}')
    chat = ik.Conversation(
        messages=[
            ik.Message(role="user", content="Weather?"),
            ik.Message(role="assistant", content=None, tool_calls=[call]),
            ik.Message(role="tool", content="Cloudy.", tool_call_id="c1", name="weather"),
            ik.Message(role="assistant", content="Cloudy."),
        ]
    )
    row, losses = _losses(chat, "openai")
    assert not [m for m in row["messages"] if m["role"] == "tool" and "name" in m]
    assert losses == {("dropped", "$.messages[*].name")}
    # TRL's tool messages do have a name.
    assert ik.parse_row(ik.to_row(chat, dialect="trl"), dialect="trl") == chat


def test_openai_dpo_lines_carry_no_weights() -> None:
    pair = ik.Preference(
        prompt=[ik.Message(role="user", content="Hi", weight=1.0)],
        chosen=[ik.Message(role="assistant", content="Hello", weight=1.0)],
        rejected=[ik.Message(role="assistant", content="Go", weight=0.0)],
    )
    row, losses = _losses(pair, "openai_dpo")
    messages = [*row["input"]["messages"], *row["preferred_output"], *row["non_preferred_output"]]
    assert not [m for m in messages if "weight" in m]
    assert losses == {
        ("dropped", f"$.{field}[*].weight") for field in ("prompt", "chosen", "rejected")
    }


@pytest.mark.parametrize(
    ("pair", "loc"),
    [
        (
            ik.Preference(
                prompt=[],
                chosen=[
                    ik.Message(role="user", content="Hi"),
                    ik.Message(role="assistant", content="A"),
                ],
                rejected=[
                    ik.Message(role="user", content="Hi"),
                    ik.Message(role="assistant", content="B"),
                ],
            ),
            "$.prompt",
        ),
        (
            ik.Preference(
                prompt=[ik.Message(role="user", content="Hi")],
                chosen=[ik.Message(role="assistant", content="A")],
                rejected=[
                    ik.Message(role="assistant", content="B"),
                    ik.Message(role="user", content="More?"),
                    ik.Message(role="assistant", content="C"),
                ],
            ),
            "$.rejected[1].role",
        ),
    ],
)
def test_openai_dpo_refuses_pairs_no_line_holds(pair: ik.Preference, loc: str) -> None:
    with pytest.raises(ik.DialectError, match=re.escape(f"- at {loc}")):
        ik.to_row(pair, dialect="openai_dpo")


@given(iks.preferences())
def test_openai_dpo_writes_a_line_or_refuses_by_shape(pair: ik.Preference) -> None:
    fits = bool(pair.prompt) and all(
        side[0].role == "assistant" and {m.role for m in side} <= {"assistant", "tool"}
        for side in (pair.chosen, pair.rejected)
    )
    if fits:
        ik.to_row(pair, dialect="openai_dpo")
    else:
        with pytest.raises(ik.DialectError, match="OpenAI DPO"):
            ik.to_row(pair, dialect="openai_dpo")


@pytest.mark.parametrize(
    ("dialect", "layout"),
    [("alpaca", "ranking"), ("sharegpt", "ranking"), ("trl", "conversational_preference")],
)
def test_a_layout_refuses_records_it_does_not_hold_in_one_wording(
    dialect: str, layout: str
) -> None:
    chat = ik.Conversation(
        messages=[
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": "A"},
            {"role": "user", "content": "Q2"},
            {"role": "assistant", "content": "A2"},
        ]
    )
    message = f"expected a Preference for {dialect} layout {layout!r}, got a Conversation"
    with pytest.raises(ik.ConfigurationError, match=re.escape(message)):
        ik.to_row(chat, dialect=dialect, layout=layout)


@pytest.mark.parametrize(
    ("dialect", "layout"), [("hh", None), ("trl", "conversational_implicit_preference")]
)
def test_transcript_layouts_report_a_prompt_reading_would_split_elsewhere(
    dialect: str, layout: str | None
) -> None:
    # Whole-transcript rows have no prompt column: reading takes the shared start of turns,
    # here one turn longer than the record's empty prompt.
    pair = ik.Preference(
        prompt=[],
        chosen=[ik.Message(role="user", content="Hi"), ik.Message(role="assistant", content="A")],
        rejected=[
            ik.Message(role="user", content="Hi"),
            ik.Message(role="assistant", content="B"),
        ],
    )
    losses = ik.LossReport()
    row = ik.to_row(pair, dialect=dialect, layout=layout, losses=losses)
    assert (
        ik.Loss(
            "changed",
            "$.prompt",
            "reading splits the transcripts at their longest shared prefix of turns, which gives "
            "a prompt of 1 turn(s), not 0",
        )
        in losses
    )
    back = ik.parse_row(row, dialect=dialect)
    assert isinstance(back, ik.Preference)
    assert len(back.prompt) == 1
    with pytest.raises(ik.LossyConversionError, match=re.escape("- at $.prompt")):
        ik.to_row(pair, dialect=dialect, layout=layout, strict=True)
