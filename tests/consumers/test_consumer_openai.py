"""Every `openai` and `openai_dpo` file instructkit writes, checked against OpenAI's rules.

The rules live in ``openai_rules.py``, written from OpenAI's published fine-tuning formats.
Records are generated with what an OpenAI line can hold (weights 0 or 1 on assistant turns,
OpenAI's roles); whatever instructkit writes for them must be a valid upload.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import instructkit as ik
from consumers.openai_rules import OpenAIRuleError, check_chat_line, check_dpo_line, check_file
from consumers.shared import CONSUMER_SETTINGS, NO_META, TOOL_CHATS, TOOL_PREFERENCES, WITH_INPUT
from instructkit.strategies import conversations, instructions, preferences

pytestmark = pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)

# Records with every weight (any float, on any turn) and names on any turn: instructkit drops
# (and reports) what an OpenAI line has no place for. Developer turns are written as they are,
# and whether OpenAI's fine-tuning accepts them is not published (see docs/dialects.md), so the
# rules here know no developer role and the records carry system turns instead.
_CHAT_ARGS: dict[str, Any] = {"meta": NO_META, "max_system_turns": 1}
_BARE_TOOL = '{"name": "add", "description": "Adds.", "parameters": {"type": "object"}}'


def _developer_as_system(record: Any) -> Any:
    def fix(messages: Any) -> list[Any]:
        return [
            m.model_copy(update={"role": "system"}) if m.role == "developer" else m
            for m in messages
        ]

    if isinstance(record, ik.Preference):
        return record.model_copy(update={"prompt": fix(record.prompt)})
    return record.model_copy(update={"messages": fix(record.messages)})


def _tool_schemas() -> st.SearchStrategy[list[str]]:
    names = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)
    return st.lists(
        names.map(lambda n: f'{{"type": "function", "function": {{"name": "{n}"}}}}'),
        max_size=2,
    )


_CHATS = st.lists(
    conversations(tools=_tool_schemas(), **_CHAT_ARGS).map(_developer_as_system),
    min_size=1,
    max_size=3,
)
# Every shape of pair, with weights and tool-message names: instructkit drops (and reports)
# what a DPO line has no place for, and refuses pairs no DPO line can hold.
_PAIRS = st.lists(
    preferences(tools=_tool_schemas(), meta=NO_META).map(_developer_as_system),
    min_size=1,
    max_size=3,
)


def _dpo_line_holds(pair: Any) -> bool:
    # An OpenAI DPO input needs messages, and each output is assistant turns (with tool
    # results between them).
    return bool(pair.prompt) and all(
        side[0].role == "assistant" and {m.role for m in side} <= {"assistant", "tool"}
        for side in (pair.chosen, pair.rejected)
    )


def _trains_on_something(records: list[Any]) -> list[Any]:
    # A line needs an assistant turn to train on; a record whose every assistant turn has
    # weight 0 is the user's choice, and instructkit has no other line to write for it.
    return [
        r
        for r in records
        if not isinstance(r, ik.Conversation)
        or any(m.role == "assistant" and m.weight != 0 for m in r.messages)
    ]


def _written(records: list[Any], dialect: str, method: str) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.jsonl"
        ik.write(records, path, dialect=dialect)
        return check_file(path, method=method)


# Weights OpenAI has no place for (0.5, a weight on a user turn) and a named tool turn.
_UNFIT_CHAT = TOOL_CHATS[0].model_copy(
    update={
        "messages": [
            m.model_copy(update={"weight": 1.0 if m.role == "user" else 0.5, "name": "w"})
            if m.role in ("user", "tool")
            else m.model_copy(update={"weight": 0.5})
            for m in TOOL_CHATS[0].messages
        ]
    }
)


@CONSUMER_SETTINGS
@given(records=_CHATS)
@example(records=TOOL_CHATS)
@example(records=[_UNFIT_CHAT])
def test_openai_files_follow_openai_rules(records: list[Any]) -> None:
    records = _trains_on_something(records)
    assert _written(records, "openai", "supervised") == len(records)


# A pair whose rejected side goes on with a user turn: no OpenAI DPO line holds it.
_GOES_ON = ik.Preference(
    prompt=[ik.Message(role="user", content="Hi")],
    chosen=[ik.Message(role="assistant", content="Hello", weight=1.0)],
    rejected=[
        ik.Message(role="assistant", content="What?"),
        ik.Message(role="user", content="Hi!"),
        ik.Message(role="assistant", content="Hello"),
    ],
)


@CONSUMER_SETTINGS
@given(records=_PAIRS)
@example(records=TOOL_PREFERENCES)
@example(records=[*TOOL_PREFERENCES, _GOES_ON])
def test_openai_dpo_files_follow_openai_rules(records: list[Any]) -> None:
    if not all(_dpo_line_holds(pair) for pair in records):
        with pytest.raises(ik.DialectError, match="OpenAI DPO"):
            _written(records, "openai_dpo", "dpo")
        records = [pair for pair in records if _dpo_line_holds(pair)]
    if records:
        assert _written(records, "openai_dpo", "dpo") == len(records)


@CONSUMER_SETTINGS
@given(records=st.lists(instructions(meta=NO_META), min_size=1, max_size=3))
def test_openai_files_of_instructions_follow_openai_rules(records: list[Any]) -> None:
    assert _written(records, "openai", "supervised") == len(records)


def test_openai_lines_of_instructions_carry_no_bookkeeping() -> None:
    row = ik.to_row(WITH_INPUT[0], dialect="openai")
    assert not [key for key in row if key.startswith("instructkit.")]


def test_bare_tool_schemas_are_written_in_openai_shape() -> None:
    chat = TOOL_CHATS[1].model_copy(update={"tools": [_BARE_TOOL]})
    check_chat_line(ik.to_row(chat, dialect="openai"))


# --- the validator itself rejects what OpenAI rejects --------------------------------------

_GOOD_CHAT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
            "weight": 0,
        },
        {"role": "tool", "content": "Cloudy.", "tool_call_id": "c1"},
        {"role": "assistant", "content": "Cloudy.", "weight": 1},
    ],
    "tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}],
    "parallel_tool_calls": False,
}


def _broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    import copy

    line = copy.deepcopy(_GOOD_CHAT)
    target: Any = line
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return line


_DELETE = object()


def test_the_rules_accept_a_valid_chat_line() -> None:
    check_chat_line(_GOOD_CHAT)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("messages", 0, "role"), "developer"),
        (("messages", 0, "weight"), 1),
        (("messages", 4, "weight"), 0.5),
        (("messages", 4, "reasoning"), "because"),
        (("messages", 2, "tool_calls", 0, "function", "arguments"), {"city": "Oslo"}),
        (("messages", 2, "tool_calls", 0, "function", "arguments"), "{city"),
        (("messages", 2, "tool_calls", 0, "id"), _DELETE),
        (("messages", 2, "tool_calls", 0, "type"), "tool"),
        (("messages", 3, "tool_call_id"), "c9"),
        (("messages", 1, "content"), None),
        (("messages", 1, "content"), [{"type": "text", "value": "Weather?"}]),
        (("messages", 4, "weight"), 0),
        (("tools", 0), {"name": "weather"}),
        (("parallel_tool_calls",), "no"),
    ],
)
def test_the_rules_reject_what_openai_rejects(path: tuple[Any, ...], value: Any) -> None:
    with pytest.raises(OpenAIRuleError):
        check_chat_line(_broken(path, value))


def test_the_rules_check_dpo_lines() -> None:
    good = {
        "input": {"messages": [{"role": "user", "content": "Hi"}], "tools": []},
        "preferred_output": [{"role": "assistant", "content": "Hello"}],
        "non_preferred_output": [{"role": "assistant", "content": "Go away"}],
    }
    check_dpo_line(good)
    for key, value in [
        ("preferred_output", []),
        ("non_preferred_output", [{"role": "user", "content": "x"}]),
        ("preferred_output", [{"role": "assistant", "content": "x", "weight": 1}]),
        ("input", {"messages": [{"role": "user", "content": "Hi"}], "extra": 1}),
    ]:
        with pytest.raises(OpenAIRuleError):
            check_dpo_line({**good, key: value})
