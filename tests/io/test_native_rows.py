"""The reader's fast path builds exactly the records full validation builds, and no others."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
from hypothesis import assume, given
from hypothesis import strategies as st

from instructkit import Conversation, DataError, Instruction, Preference
from instructkit._io._native_rows import build_native, native_duplicate_free
from instructkit._records import Record
from instructkit.strategies import (
    InvalidRow,
    conversations,
    instructions,
    invalid_rows,
    preferences,
)

RECORDS = st.one_of(instructions(), conversations(), preferences())
TYPES: dict[frozenset[str], type[Record]] = {
    frozenset(t.model_fields): t for t in (Instruction, Conversation, Preference)
}

odd_values = st.sampled_from(
    [
        "",
        "x",
        "user",
        "system",
        "assistant",
        "tool",
        "developer",
        None,
        0,
        1,
        0.5,
        1.5,
        -0.1,
        True,
        [],
        {},
        [{"id": "c", "name": "f", "arguments": "{}"}],
        ["{}"],
    ]
).map(copy.deepcopy)  # a fresh object each time: a shared one could end up inside itself


def full_validation(row: dict[str, Any]) -> Record | None:
    kind = TYPES.get(frozenset(row))
    if kind is None:
        return None
    try:
        return kind.model_validate(row)
    except DataError:
        return None


def same(a: Record, b: Record) -> None:
    assert a == b
    assert type(a) is type(b)
    assert a.to_dict() == b.to_dict()
    assert list(a.to_dict()) == list(b.to_dict())  # field order, so writing is deterministic
    assert repr(a) == repr(b)
    assert a.model_fields_set == b.model_fields_set
    assert orjson.dumps(a.to_dict()) == orjson.dumps(b.to_dict())


@given(record=RECORDS)
def test_valid_rows_build_the_same_record(record: Record) -> None:
    row = orjson.loads(orjson.dumps(record.to_dict()))
    expected = full_validation(copy.deepcopy(row))
    built = build_native(row)
    assert built is not None  # every valid native row takes the fast path, tools and all
    assert expected is not None
    same(built, expected)
    same(built, record)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


@given(record=RECORDS, data=st.data())
def test_damaged_rows_are_never_accepted_when_validation_refuses_them(
    record: Record, data: st.DataObject
) -> None:
    row = orjson.loads(orjson.dumps(record.to_dict()))
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths(row)))
        parent = row
        for part in where[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace" or isinstance(parent, list):
            parent[where[-1]] = data.draw(odd_values)
        elif action == "delete":
            del parent[where[-1]]
        else:
            parent["extra"] = data.draw(odd_values)
    expected = full_validation(copy.deepcopy(row))
    built = build_native(row)
    if expected is None:
        assert built is None
    elif built is not None:
        same(built, expected)


@given(record=RECORDS, data=st.data())
def test_the_colon_proof_holds_for_clean_lines_and_never_for_repeated_keys(
    record: Record, data: st.DataObject
) -> None:
    raw = orjson.dumps(record.to_dict())
    built = build_native(orjson.loads(raw))
    if built is None:
        return
    # Clean lines are proven free without the exact scan, canonical or not.
    assert native_duplicate_free(raw, built)
    spaced = json.dumps(record.to_dict(), ensure_ascii=False).encode()
    if b"\\u003" not in spaced:
        again = build_native(orjson.loads(spaced))
        assert again is not None
        assert native_duplicate_free(spaced, again)
    # Repeat a top-level key, or add a repeated key inside meta, maybe with colons in text.
    # The value's JSON text, sometimes with colons, once as an escape (a colon to a parser).
    text = data.draw(st.sampled_from([b'"x"', b'"a:b"', b'"::"', b'"\\u003a"']))
    if data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(record.to_dict())))
        bad = b"{" + orjson.dumps(key) + b":" + text + b"," + raw[1:]
    else:
        meta_key = data.draw(st.sampled_from(["k", "k:1"]))
        pair = orjson.dumps(meta_key) + b":" + text
        bad = raw.replace(b'"meta":{', b'"meta":{' + pair + b"," + pair + b",", 1)
        bad = bad.replace(b",}", b"}")
    parsed = orjson.loads(bad)
    again = build_native(parsed)
    if again is not None:
        assert not native_duplicate_free(bad, again)


def reorder(value: Any, data: st.DataObject) -> Any:
    # The same row with the keys of the record and of its messages and tool calls in a
    # drawn order (meta keeps its own: its order is part of the record).
    if isinstance(value, dict):
        keys = data.draw(st.permutations(list(value)))
        return {key: value[key] if key == "meta" else reorder(value[key], data) for key in keys}
    if isinstance(value, list):
        return [reorder(item, data) for item in value]
    return value


@given(record=RECORDS, data=st.data())
def test_rows_in_any_key_order_build_records_in_field_order(
    record: Record, data: st.DataObject
) -> None:
    # A row in field order becomes the record's own __dict__; any other order must be
    # rebuilt, or the record would be written back with its keys shuffled.
    row = reorder(orjson.loads(orjson.dumps(record.to_dict())), data)
    built = build_native(row)
    if built is not None:
        same(built, record)


def transcripts(row: dict[str, Any]) -> list[list[dict[str, Any]]]:
    if "messages" in row:
        return [row["messages"]]
    return [row["prompt"], row["chosen"], row["rejected"]]


@given(record=st.one_of(conversations(), preferences()), data=st.data())
def test_a_row_refused_half_way_is_handed_back_unchanged(
    record: Conversation | Preference, data: st.DataObject
) -> None:
    # Messages built before a refusal took over their dicts; the row must read as parsed
    # again, since full validation, errors and rejects files see it next.
    row = orjson.loads(orjson.dumps(record.to_dict()))
    lists = [messages for messages in transcripts(row) if messages]
    messages = data.draw(st.sampled_from(lists))
    index = data.draw(st.integers(0, len(messages) - 1))
    damage = data.draw(st.sampled_from(["weight", "late tool turn", "bad arguments"]))
    if damage == "weight":
        messages[index]["weight"] = 2.0  # out of range: refused in either pass
    elif damage == "late tool turn":
        # A tool turn answering a call nobody made: refused only by the rules between
        # turns, after every message of the row has been built.
        issued = [call["id"] for ms in transcripts(row) for m in ms for call in m["tool_calls"]]
        unknown = "x" * (1 + max(map(len, issued), default=0))
        transcripts(row)[-1].append(
            {
                "role": "tool",
                "content": "result",
                "name": None,
                "tool_calls": [],
                "tool_call_id": unknown,
                "reasoning": None,
                "weight": None,
            }
        )
    else:
        messages[index]["role"] = "assistant"
        messages[index]["tool_calls"] = [{"id": "c", "name": "f", "arguments": "{"}]
    parsed = copy.deepcopy(row)
    assert build_native(row) is None
    assert row == parsed
    assert orjson.dumps(row) == orjson.dumps(parsed)


def as_parsed(value: Any) -> Any:
    """``value`` as orjson hands it to the fast path; ``None`` when orjson cannot write it.

    The fast path's input always comes from orjson, which refuses lone surrogates, so rows
    holding one are outside what it is given.
    """
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return None


@given(damaged=invalid_rows(dialect="instructkit"))
def test_rows_the_strategies_call_invalid_are_refused_like_full_validation(
    damaged: InvalidRow,
) -> None:
    row = as_parsed(damaged.row)
    assume(isinstance(row, dict))
    assert full_validation(copy.deepcopy(row)) is None, damaged.reason
    assert build_native(row) is None, damaged.reason


@given(record=RECORDS, damaged=st.booleans(), data=st.data())
def test_the_fast_path_accepts_exactly_what_full_validation_accepts(
    record: Record, damaged: bool, data: st.DataObject
) -> None:
    # Valid rows always take the fast path; invalid ones (the strategies' own damage
    # for the native layout) never do. Both as orjson parses them.
    if damaged:
        row = as_parsed(data.draw(invalid_rows(dialect="instructkit", records=st.just(record))).row)
        assume(isinstance(row, dict))
    else:
        row = orjson.loads(orjson.dumps(record.to_dict()))
    expected = full_validation(copy.deepcopy(row))
    built = build_native(row)
    assert (built is None) == (expected is None)
    if built is not None and expected is not None:
        same(built, expected)
