"""LLaMA-Factory layouts, tool schema shapes, refused layouts and truthful detection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import instructkit as ik
from instructkit import strategies as iks

ALPACA_RANKING = {
    "instruction": "What is AI?",
    "input": "",
    "chosen": "Artificial intelligence.",
    "rejected": "No idea.",
}
SHAREGPT_RANKING = {
    "conversations": [
        {"from": "human", "value": "Hi"},
        {"from": "gpt", "value": "Hello!"},
        {"from": "human", "value": "A joke?"},
    ],
    "chosen": {"from": "gpt", "value": "Sure: ..."},
    "rejected": {"from": "gpt", "value": "No."},
}
ALPACA_HISTORY = {
    "instruction": "And ML?",
    "input": "Briefly.",
    "output": "Machine learning.",
    "system": "Be brief.",
    "history": [["Hi", "Hello"], ["What is AI?", "AI."]],
}
UNWRAPPED = {"name": "weather", "description": "Weather.", "parameters": {"type": "object"}}
WRAPPED = {"type": "function", "function": UNWRAPPED}


# -- preference layouts ------------------------------------------------------------------


def test_alpaca_ranking_rows_are_preferences_with_their_prompt() -> None:
    guess = ik.detect_dialect([ALPACA_RANKING])
    assert (guess.dialect, guess.layout, guess.confidence) == ("alpaca", "ranking", 1.0)
    report = ik.LossReport()
    pair = ik.parse_row(ALPACA_RANKING, losses=report)
    assert isinstance(pair, ik.Preference)
    assert [(m.role, m.content) for m in pair.prompt] == [("user", "What is AI?")]
    assert not report
    dpo = ik.to_row(pair, dialect="openai_dpo")
    assert dpo["input"]["messages"] == [{"role": "user", "content": "What is AI?"}]
    assert ik.to_row(pair, dialect="alpaca") == ALPACA_RANKING


def test_alpaca_ranking_keeps_history_system_and_input() -> None:
    row = {**ALPACA_HISTORY, "chosen": "ML.", "rejected": "?"}
    del row["output"]
    pair = ik.parse_row(row, dialect="alpaca")
    assert isinstance(pair, ik.Preference)
    assert [m.role for m in pair.prompt] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert pair.prompt[-1].content == "And ML?\n\nBriefly."
    assert ik.to_row(pair, dialect="alpaca") == row


def test_sharegpt_ranking_rows_keep_their_answers() -> None:
    guess = ik.detect_dialect([SHAREGPT_RANKING])
    assert (guess.dialect, guess.layout, guess.confidence) == ("sharegpt", "ranking", 1.0)
    pair = ik.parse_row(SHAREGPT_RANKING)
    assert isinstance(pair, ik.Preference)
    assert [m.role for m in pair.prompt] == ["user", "assistant", "user"]
    dpo = ik.to_row(pair, dialect="openai_dpo")
    assert dpo["preferred_output"] == [{"role": "assistant", "content": "Sure: ..."}]
    assert dpo["non_preferred_output"] == [{"role": "assistant", "content": "No."}]
    assert ik.to_row(pair, dialect="sharegpt") == SHAREGPT_RANKING


def test_sharegpt_ranking_answer_may_be_a_function_call() -> None:
    row = {
        "conversations": [{"from": "human", "value": "Weather?"}],
        "chosen": {"from": "function_call", "value": '{"name": "weather", "arguments": {}}'},
        "rejected": {"from": "gpt", "value": "Sunny, surely."},
        "system": "Use tools.",
        "tools": json.dumps([UNWRAPPED]),
    }
    pair = ik.parse_row(row, dialect="sharegpt")
    assert isinstance(pair, ik.Preference)
    assert pair.prompt[0].role == "system"
    assert pair.chosen[0].tool_calls[0].name == "weather"
    assert ik.to_row(pair, dialect="sharegpt") == row


def test_ranking_layouts_refuse_what_one_answer_turn_cannot_hold() -> None:
    pair = ik.Preference(
        prompt=[{"role": "user", "content": "Q"}],
        chosen=[{"role": "assistant", "content": "A"}, {"role": "user", "content": "More"}],
        rejected=[{"role": "assistant", "content": "B"}],
    )
    with pytest.raises(ik.DialectError, match=r"one assistant turn as chosen.*- at \$\.chosen"):
        ik.to_row(pair, dialect="sharegpt")
    with pytest.raises(ik.DialectError, match=r"one assistant answer as chosen.*- at \$\.chosen"):
        ik.to_row(pair, dialect="alpaca")
    chat = ik.Conversation(messages=[{"role": "user", "content": "Q"}])
    with pytest.raises(ik.ConfigurationError, match="expected a Preference"):
        ik.to_row(chat, dialect="sharegpt", layout="ranking")


# -- alpaca history, input, system, tools ------------------------------------------------


def test_alpaca_history_is_earlier_turns() -> None:
    report = ik.LossReport()
    chat = ik.parse_row(ALPACA_HISTORY, losses=report)
    assert isinstance(chat, ik.Conversation)
    assert [(m.role, m.content) for m in chat.messages] == [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello"),
        ("user", "What is AI?"),
        ("assistant", "AI."),
        ("user", "And ML?\n\nBriefly."),
        ("assistant", "Machine learning."),
    ]
    assert "history" not in chat.meta
    assert not report
    assert ik.to_row(chat, dialect="alpaca") == ALPACA_HISTORY


def test_alpaca_rows_without_input_and_with_empty_history() -> None:
    record = ik.parse_row({"instruction": "Name a fruit.", "output": "Pear", "history": []})
    assert record == ik.Instruction(instruction="Name a fruit.", response="Pear")


def test_alpaca_tools_column_makes_a_conversation() -> None:
    row = {
        "instruction": "Weather?",
        "input": "",
        "output": "Rain.",
        "tools": json.dumps([UNWRAPPED]),
    }
    chat = ik.parse_row(row, dialect="alpaca")
    assert isinstance(chat, ik.Conversation)
    assert chat.parsed_tools == [UNWRAPPED]
    assert ik.to_row(chat, dialect="alpaca") == row


def test_alpaca_writes_only_plain_exchanges() -> None:
    chat = ik.Conversation(
        messages=[
            {"role": "user", "content": "Q"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c", "name": "f", "arguments": "{}"}],
            },
            {"role": "tool", "content": "r", "tool_call_id": "c"},
            {"role": "assistant", "content": "A"},
        ]
    )
    with pytest.raises(ik.DialectError, match="dialect 'alpaca': expected turns"):
        ik.to_row(chat, dialect="alpaca")


# -- tool schema shapes ------------------------------------------------------------------


def test_llama_factory_tools_are_wrapped_for_openai_and_trl() -> None:
    row = {
        "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}],
        "tools": json.dumps([UNWRAPPED]),
    }
    chat = ik.parse_row(row, dialect="sharegpt")
    assert chat.parsed_tools == [UNWRAPPED]  # the record keeps the schema as given
    for dialect in ("openai", "trl"):
        report = ik.LossReport()
        written = ik.to_row(chat, dialect=dialect, losses=report)
        assert written["tools"] == [WRAPPED]
        assert [(loss.kind, loss.field) for loss in report] == [("changed", "$.tools[*]")]
    pair = ik.Preference(
        prompt=[{"role": "user", "content": "Q"}],
        chosen=[{"role": "assistant", "content": "A"}],
        rejected=[{"role": "assistant", "content": "B"}],
        tools=[json.dumps(UNWRAPPED)],
    )
    assert ik.to_row(pair, dialect="openai_dpo")["input"]["tools"] == [WRAPPED]


def test_openai_tools_are_unwrapped_for_llama_factory() -> None:
    row = {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}],
        "tools": [WRAPPED],
    }
    chat = ik.parse_row(row, dialect="openai")
    for dialect in ("sharegpt", "alpaca"):
        report = ik.LossReport()
        written = ik.to_row(chat, dialect=dialect, losses=report)
        assert orjson.loads(written["tools"]) == [UNWRAPPED]
        assert [(loss.kind, loss.field) for loss in report] == [("changed", "$.tools[*]")]
    assert ik.to_row(chat, dialect="openai") == row


def test_other_tool_shapes_are_written_as_given() -> None:
    odd = {"type": "function", "function": {"name": "f"}, "strict": True}
    chat = ik.Conversation(
        messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}],
        tools=[orjson.dumps(odd).decode()],
    )
    report = ik.LossReport()
    assert orjson.loads(ik.to_row(chat, dialect="sharegpt", losses=report)["tools"]) == [odd]
    assert not report


def _unwrapped_tools() -> st.SearchStrategy[list[str]]:
    names = st.text(alphabet="abcxyz_", min_size=1, max_size=6)
    schema = st.builds(lambda name: orjson.dumps({"name": name, "parameters": {}}).decode(), names)
    return st.lists(schema, max_size=2)


@given(
    iks.conversations(tools=_unwrapped_tools() | st.just([])),
    st.sampled_from(["openai", "trl", "sharegpt"]),
)
def test_tool_reshaping_is_reported_exactly_when_the_record_changes(
    chat: ik.Conversation, dialect: str
) -> None:
    report = ik.LossReport()
    row = ik.to_row(chat, dialect=dialect, losses=report)
    back = ik.parse_row(row, dialect=dialect)
    reshaped = any(loss.field == "$.tools[*]" for loss in report)
    assert reshaped == (back.tools != chat.tools)


# -- refused layouts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "row", "layout"),
    [
        ("trl", {"prompt": "The sky is", "completion": " blue.", "label": True}, "unpaired"),
        ("trl", {"prompt": "2+2?", "completions": ["4"], "labels": [True]}, "stepwise"),
        ("alpaca", {"instruction": "Q", "input": "", "output": "A", "kto_tag": True}, "KTO"),
        (
            "sharegpt",
            {
                "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}],
                "kto_tag": False,
            },
            "KTO",
        ),
    ],
)
def test_layouts_without_a_record_type_are_refused(
    dialect: str, row: dict[str, Any], layout: str
) -> None:
    with pytest.raises(ik.DialectError, match=layout):
        ik.parse_row(row, dialect=dialect)
    with pytest.raises(ik.DialectDetectionError, match=layout):
        ik.detect_dialect([row])


def test_meta_never_turns_a_written_row_into_a_refused_layout() -> None:
    chat = ik.parse_row({"prompt": "The sky is", "completion": " blue."}, dialect="trl")
    labelled = chat.model_copy(update={"meta": {**chat.meta, "label": True}})
    report = ik.LossReport()
    row = ik.to_row(labelled, dialect="trl", layout="standard_prompt_completion", losses=report)
    assert "label" not in row
    assert [loss.field for loss in report] == ["$.meta.label"]
    pair = ik.parse_row(ALPACA_RANKING, dialect="alpaca")
    tagged = pair.model_copy(update={"meta": {"kto_tag": True}})
    assert "kto_tag" not in ik.to_row(tagged, dialect="alpaca")


# -- detection tells the truth -----------------------------------------------------------


def test_an_unread_column_lowers_confidence_and_is_a_conflict() -> None:
    rows = [{"instruction": "Q", "input": "", "output": "A"}] * 3
    rows.append({"instruction": "Q", "input": "", "output": "A", "source": "web"})
    guess = ik.detect_dialect(rows)
    assert guess.dialect == "alpaca"
    assert guess.confidence == pytest.approx((3 + 3 / 4) / 4)
    (conflict,) = guess.conflicts
    assert (conflict.index, conflict.dialect) == (3, "alpaca")
    assert "['source'] are not read by alpaca" in conflict.reason


def test_a_reading_without_prompt_or_answer_is_doubtful() -> None:
    guess = ik.detect_dialect([{"chosen": "Yes.", "rejected": "No."}])
    assert (guess.dialect, guess.confidence) == ("trl", 0.5)
    assert "empty prompt" in guess.conflicts[0].reason
    lonely = {"conversations": [{"from": "human", "value": "Q"}]}
    guess = ik.detect_dialect([lonely])
    assert (guess.dialect, guess.confidence) == ("sharegpt", 0.5)
    assert "no assistant turn" in guess.conflicts[0].reason
    # A prompt-only layout has no answer by design.
    assert ik.detect_dialect([{"prompt": "The sky is"}]).confidence == 1.0


# -- dataset_info.json -------------------------------------------------------------------


def test_dataset_info_entry_for_alpaca_history_rows(tmp_path: Path) -> None:
    chat = ik.parse_row(ALPACA_HISTORY, dialect="alpaca")
    ik.write([chat], tmp_path / "chats.jsonl", dialect="alpaca")
    (tmp_path / "dataset_info.json").write_text('{"other": {"file_name": "x.json"}}')
    entry = ik.dialects.llama_factory_dataset_info(path=tmp_path / "chats.jsonl")
    assert entry == {
        "file_name": "chats.jsonl",
        "columns": {
            "prompt": "instruction",
            "query": "input",
            "response": "output",
            "system": "system",
            "history": "history",
        },
    }
    info = orjson.loads((tmp_path / "dataset_info.json").read_bytes())
    assert info == {"other": {"file_name": "x.json"}, "chats": entry}


def test_dataset_info_entry_for_sharegpt_ranking_with_renamed_keys(tmp_path: Path) -> None:
    maps: dict[str, Any] = {
        "column_map": {"conversations": "messages", "from": "role", "value": "content"},
        "role_map": {"user": "user", "assistant": "assistant"},
    }
    pair = ik.parse_row(SHAREGPT_RANKING, dialect="sharegpt")
    ik.write([pair], tmp_path / "pairs.json", dialect="sharegpt", **maps)
    entry = ik.dialects.llama_factory_dataset_info(
        path=tmp_path / "pairs.json", dialect="sharegpt", name="mine", **maps
    )
    assert entry == {
        "file_name": "pairs.json",
        "formatting": "sharegpt",
        "ranking": True,
        "columns": {"messages": "messages", "chosen": "chosen", "rejected": "rejected"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
        },
    }
    assert "mine" in orjson.loads((tmp_path / "dataset_info.json").read_bytes())


def test_dataset_info_refuses_other_dialects_and_mixed_layouts(tmp_path: Path) -> None:
    chat = ik.parse_row(ALPACA_HISTORY, dialect="alpaca")
    ik.write([chat], tmp_path / "chats.jsonl", dialect="openai")
    with pytest.raises(ik.ConfigurationError, match="got 'openai'"):
        ik.dialects.llama_factory_dataset_info(path=tmp_path / "chats.jsonl")
    pair = ik.parse_row(ALPACA_RANKING, dialect="alpaca")
    ik.write([chat, pair], tmp_path / "mixed.jsonl", dialect="alpaca")
    with pytest.raises(ik.ConfigurationError, match="one layout"):
        ik.dialects.llama_factory_dataset_info(path=tmp_path / "mixed.jsonl")


@pytest.mark.parametrize(
    ("row", "loc"),
    [
        ({"instruction": "i", "output": "o", "history": [["", "b"]]}, "$.history[0][0]"),
        (
            {"instruction": "i", "output": "o", "system": "s", "history": [["a", ""]]},
            "$.history[0][1]",
        ),
        ({"instruction": "i", "chosen": "c", "rejected": ""}, "$.rejected"),
        ({"instruction": "", "chosen": "c", "rejected": "r"}, "$.instruction"),
    ],
)
def test_alpaca_record_errors_point_at_the_cell(row: dict[str, Any], loc: str) -> None:
    with pytest.raises(ik.RecordValidationError) as caught:
        ik.parse_row(row, dialect="alpaca")
    assert caught.value.loc == loc


def test_sharegpt_ranking_reports_what_its_system_column_cannot_hold() -> None:
    pair = ik.Preference(
        prompt=[
            ik.Message(role="system", content="Be kind.", weight=0.0, name="rules"),
            ik.Message(role="user", content="Hi"),
        ],
        chosen=[ik.Message(role="assistant", content="Hello")],
        rejected=[ik.Message(role="assistant", content="Go")],
    )
    report = ik.LossReport()
    row = ik.to_row(pair, dialect="sharegpt", losses=report)
    assert row["system"] == "Be kind."
    assert {(loss.kind, loss.field) for loss in report} == {
        ("dropped", "$.messages[*].weight"),
        ("dropped", "$.messages[*].name"),
    }
