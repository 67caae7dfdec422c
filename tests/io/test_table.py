"""read_table and validate_table: the Arrow checks against the record layer, edge by edge.

The checks skip work that a cheap aggregate proves unnecessary (a field null in every turn,
no tool calls at all), find "system after user" with running counts over all turns of a
column, and link tool turns to calls from their positions. The tests here aim at exactly
those shortcuts: rows next to each other in the flattened turns, a rule whose field is set
in a single turn of the whole table, a long prompt before a preference's answers. The
record layer (``from_arrow``, or the line-by-line reader for JSONL) is the oracle throughout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from instructkit import (
    Conversation,
    ItemReport,
    MalformedJSONError,
    Message,
    Preference,
    RecordValidationError,
    ToolCall,
    from_arrow,
    read_table,
    to_arrow,
)
from instructkit._arrow import storage_schema, validate_table
from instructkit._io._table import _read_jsonl_records
from instructkit.arrow import arrow_schema

# --- raw rows: any mix of roles, tool calls and optional fields -----------------------------

_call = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["a", "b", "", None]),
        "name": st.sampled_from(["f", "", None]),
        "arguments": st.sampled_from(["{}", "[1]", "{bad", None]),
    }
)
_turn = st.fixed_dictionaries(
    {
        "role": st.sampled_from(
            ["system", "developer", "user", "user", "assistant", "assistant", "tool", "bot", None]
        ),
        "content": st.sampled_from(["x", "", None]),
        # Mostly null, so that a whole column is often null and its rules are skipped.
        "name": st.sampled_from([None, None, None, "n", ""]),
        "tool_calls": st.one_of(st.just([]), st.just([]), st.lists(_call, max_size=2), st.none()),
        "tool_call_id": st.sampled_from([None, None, "a", "b", ""]),
        "reasoning": st.sampled_from([None, None, None, "r", ""]),
        "weight": st.sampled_from([None, None, None, 0.5, 0.0, 2.0, float("nan")]),
    }
)
_turns = st.lists(st.one_of(_turn, _turn, _turn, st.none()), max_size=5)
_conversation_rows = st.fixed_dictionaries(
    {"messages": st.one_of(_turns, _turns, st.none()), "tools": st.just([]), "id": st.none()}
)
_preference_rows = st.fixed_dictionaries(
    {"prompt": _turns, "chosen": _turns, "rejected": _turns, "tools": st.just([]), "id": st.none()}
)
raw_tables = st.one_of(
    st.tuples(st.just(Conversation), st.lists(_conversation_rows, min_size=1, max_size=8)),
    st.tuples(st.just(Preference), st.lists(_preference_rows, min_size=1, max_size=8)),
)


def _table(kind: type[Any], rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(
        [{**row, "meta": "{}"} for row in rows], schema=storage_schema(arrow_schema(kind))
    )


def _collect(read: Any) -> tuple[list[tuple[int | None, str]], int, pa.Table]:
    report = ItemReport()
    table = read(report)
    return [(r.row, r.reason) for r in report.rejections], report.valid, table


@given(raw_tables)
def test_arrow_checks_agree_with_the_record_layer_on_raw_rows(
    case: tuple[type[Any], list[dict[str, Any]]],
) -> None:
    kind, rows = case
    table = _table(kind, rows)
    by_arrow, valid, kept = _collect(
        lambda report: validate_table(table, on_error="collect", report=report)
    )
    records = ItemReport()
    expected = from_arrow(table, on_error="collect", report=records)
    assert by_arrow == [(r.row, r.reason) for r in records.rejections]
    assert valid == records.valid
    assert from_arrow(kept) == expected


@given(raw_tables)
def test_read_table_jsonl_agrees_with_the_line_reader(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[type[Any], list[dict[str, Any]]]
) -> None:
    kind, rows = case
    path = tmp_path_factory.mktemp("jsonl") / "rows.jsonl"
    path.write_bytes(b"".join(orjson.dumps({**row, "meta": {}}) + b"\n" for row in rows))
    fast = _collect(lambda r: read_table(path, on_error="collect", report=r, record=kind))
    slow = _collect(lambda r: _read_jsonl_records(str(path), kind, "collect", r))
    assert fast[:2] == slow[:2]
    assert fast[2].equals(slow[2])


# --- the shortcuts, one at a time -----------------------------------------------------------


def _message(role: str, content: str | None = "x", **extra: Any) -> dict[str, Any]:
    return {
        "role": role,
        "content": content,
        "name": None,
        "tool_calls": [],
        "tool_call_id": None,
        "reasoning": None,
        "weight": None,
        **extra,
    }


def _rows(*turn_lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"messages": turns, "tools": [], "id": None} for turns in turn_lists]


def _rejected(kind: type[Any], rows: list[dict[str, Any]]) -> list[tuple[int | None, str | None]]:
    """Rows and locations validate_table rejects, after checking the record layer agrees."""
    table = _table(kind, rows)
    report = ItemReport()
    validate_table(table, on_error="collect", report=report)
    oracle = ItemReport()
    from_arrow(table, on_error="collect", report=oracle)
    assert [r.reason for r in report.rejections] == [r.reason for r in oracle.rejections]
    return [(r.row, r.error.loc if r.error is not None else None) for r in report.rejections]


def test_system_turns_are_placed_within_their_own_row() -> None:
    # Flattened, the system turn of row 1 comes right after the user turn of row 0.
    rows = _rows([_message("user")], [_message("system"), _message("user")])
    assert _rejected(Conversation, rows) == []
    rows = _rows([_message("user")], [_message("user"), _message("developer")], [])
    assert _rejected(Conversation, rows) == [(1, "$.messages[1].role"), (2, "$.messages")]


def test_preference_system_turns_after_a_prompt_user_turn() -> None:
    def row(prompt: list[Any], chosen: list[Any], rejected: list[Any]) -> dict[str, Any]:
        return {"prompt": prompt, "chosen": chosen, "rejected": rejected, "tools": [], "id": None}

    answer = [_message("assistant")]
    rows = [
        row([_message("user")], answer, answer),
        row([], [_message("system"), _message("user")], answer),  # no user turn before it
        row([_message("user")], answer, [_message("system")]),  # after the prompt's user turn
        row([_message("user"), _message("system")], answer, answer),
    ]
    assert [row for row, _ in _rejected(Preference, rows)] == [2, 3]


def test_tool_turns_answer_calls_of_their_own_row_only() -> None:
    call = {"id": "c1", "name": "f", "arguments": "{}"}
    rows = _rows(
        [_message("user"), _message("assistant", None, tool_calls=[call])],
        [_message("user"), _message("tool", "r", tool_call_id="c1")],
        [_message("user")],
    )
    assert _rejected(Conversation, rows) == [(1, "$.messages[1].tool_call_id")]


def test_preference_tool_calls_link_within_each_transcript() -> None:
    def row(prompt: list[Any], chosen: list[Any], rejected: list[Any]) -> dict[str, Any]:
        return {"prompt": prompt, "chosen": chosen, "rejected": rejected, "tools": [], "id": None}

    call = {"id": "c1", "name": "f", "arguments": "{}"}
    asks = _message("assistant", None, tool_calls=[call])
    answers = _message("tool", "r", tool_call_id="c1")
    user, reply = _message("user"), _message("assistant")
    rows = [
        # A long prompt first, so that flat positions and positions in a transcript differ.
        row([_message("system"), user, reply, user, reply], [reply], [reply]),
        row([user, asks], [answers, reply], [answers]),  # the prompt's call, one per side
        row([user], [asks, answers], [asks, answers]),  # the same id on both sides
        row([user], [asks], [answers]),  # answers a call of the other transcript
        row([user, asks, answers], [answers], [reply]),  # answered twice
    ]
    assert [row for row, _ in _rejected(Preference, rows)] == [3, 4]


@pytest.mark.parametrize(
    ("turn", "loc"),
    [
        (_message("user", name=""), "$.messages[1].name"),
        (_message("user", reasoning="r"), "$.messages[1].reasoning"),
        (_message("assistant", weight=2.0), "$.messages[1].weight"),
        (_message("assistant", weight=float("nan")), "$.messages[1].weight"),
        (_message("user", tool_call_id="c1"), "$.messages[1].tool_call_id"),
        (_message("tool", "r"), "$.messages[1].tool_call_id"),
        (_message("tool", "r", tool_call_id=""), "$.messages[1].tool_call_id"),
        (_message("user", ""), "$.messages[1].content"),
        (_message("user", None), "$.messages[1].content"),
        (_message("user", tool_calls=None), "$.messages[1].tool_calls"),
        (
            _message("user", tool_calls=[{"id": "c", "name": "f", "arguments": "{}"}]),
            "$.messages[1].tool_calls",
        ),
    ],
)
def test_a_rule_set_in_a_single_turn_of_the_table_is_checked(
    turn: dict[str, Any], loc: str
) -> None:
    # Every other turn leaves the field null (or has no tool calls), so the column-wide
    # aggregate that lets the checks skip the rule is just barely false here.
    clean = [_message("user"), _message("assistant")]
    rows = _rows(clean, [_message("user"), turn], clean)
    assert _rejected(Conversation, rows) == [(1, loc)]


def test_optional_fields_set_everywhere_are_accepted() -> None:
    turns = [
        _message("user", name="u", weight=0.0),
        _message("assistant", reasoning="r", weight=1.0, name="a"),
    ]
    table = to_arrow([Conversation.model_validate({"messages": turns})] * 3)
    assert validate_table(table).equals(table)


# --- JSONL: nulls where the schema forbids them, invalid text inside messages ---------------


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda m: m[0].update(role=None), "$.messages[0].role"),
        (lambda m: m[0].pop("role"), "$.messages[0].role"),
        (lambda m: m.__setitem__(1, None), "$.messages[1]"),
        (lambda m: m[1]["tool_calls"][0].update(id=None), "$.messages[1].tool_calls[0].id"),
        (lambda m: m[1]["tool_calls"][0].pop("name"), "$.messages[1].tool_calls[0].name"),
        (lambda m: m[1].update(tool_calls=[None]), "$.messages[1].tool_calls[0]"),
    ],
)
def test_read_table_nulls_where_the_schema_forbids_them_are_located(
    tmp_path: Path, change: Any, loc: str
) -> None:
    good = Conversation(
        messages=[
            Message(role="user", content="hi"),
            Message(
                role="assistant",
                content=None,
                tool_calls=[ToolCall(id="c", name="f", arguments="{}")],
            ),
            Message(role="tool", content="r", tool_call_id="c"),
        ]
    ).to_dict()
    bad = orjson.loads(orjson.dumps(good))
    change(bad["messages"])
    path = tmp_path / "chats.jsonl"
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in (good, good, bad, good)))
    with pytest.raises(RecordValidationError) as caught:
        read_table(path)
    err = caught.value
    assert (err.line, err.row, err.loc) == (3, 2, loc)
    with pytest.raises(RecordValidationError) as slow:
        _read_jsonl_records(str(path), Conversation, "raise", ItemReport())
    assert str(err) == str(slow.value)


def test_read_table_invalid_utf8_inside_messages_is_located(tmp_path: Path) -> None:
    good = orjson.dumps(Conversation(messages=[Message(role="user", content="hi")]).to_dict())
    bad = good.replace(b'"hi"', b'"h\xc3\x28i"')
    (tmp_path / "chats.jsonl").write_bytes(b"\n".join([good, good, bad, good]) + b"\n")
    with pytest.raises(MalformedJSONError, match="UTF-8") as caught:
        read_table(tmp_path / "chats.jsonl")
    assert caught.value.line == 3
