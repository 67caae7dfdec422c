"""Arrow tables of records: the fixed schemas, to_arrow/from_arrow, read_table's checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import instructkit
from instructkit import (
    ConfigurationError,
    Conversation,
    DataError,
    Instruction,
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
from instructkit._arrow import (
    conform_table,
    huggingface_metadata,
    meta_text,
    meta_value,
    record_batches,
    storage_schema,
    validate_table,
)
from instructkit._limits import INT_MAX, INT_MIN, MAX_DEPTH
from instructkit.arrow import ARROW_SCHEMA_VERSION, arrow_schema
from record_fixtures import RECORD_STRATEGIES, record_lists


def no_null_types(kind: pa.DataType) -> bool:
    if pa.types.is_null(kind):
        return False
    if pa.types.is_list(kind):
        return no_null_types(kind.value_type)
    if pa.types.is_struct(kind):
        return all(no_null_types(kind.field(i).type) for i in range(kind.num_fields))
    return True


# --- the schemas ---------------------------------------------------------------------------


def test_schema_columns_and_metadata() -> None:
    assert arrow_schema(Instruction).names == [
        "instruction",
        "input",
        "response",
        "system",
        "id",
        "meta",
    ]
    assert arrow_schema(Conversation).names == ["messages", "tools", "id", "meta"]
    assert arrow_schema(Preference).names == [
        "prompt",
        "chosen",
        "rejected",
        "tools",
        "id",
        "meta",
    ]
    for kind in RECORD_STRATEGIES:
        schema = arrow_schema(kind)
        assert schema.metadata == {
            b"instructkit.record": kind.__name__.encode(),
            b"instructkit.schema_version": str(ARROW_SCHEMA_VERSION).encode(),
            b"huggingface": huggingface_metadata(pa.schema(list(schema))).encode(),
        }
        assert all(no_null_types(field.type) for field in schema)
        assert arrow_schema(kind.__name__.lower()) is schema


def test_message_layout_role_and_content_first_nullable_where_records_allow_none() -> None:
    message = arrow_schema(Conversation).field("messages").type.value_type
    names = [message.field(i).name for i in range(message.num_fields)]
    assert names == [
        "role",
        "content",
        "parts",
        "name",
        "tool_calls",
        "tool_call_id",
        "reasoning",
        "weight",
    ]
    nullable = {message.field(i).name: message.field(i).nullable for i in range(len(names))}
    assert nullable == {
        "role": False,
        "content": True,
        "parts": True,
        "name": True,
        "tool_calls": False,
        "tool_call_id": True,
        "reasoning": True,
        "weight": True,
    }
    call = message.field("tool_calls").type.value_type
    assert [(call.field(i).name, str(call.field(i).type)) for i in range(3)] == [
        ("id", "string"),
        ("name", "string"),
        ("arguments", "extension<arrow.json>"),
    ]
    assert message.field("weight").type == pa.float64()
    assert arrow_schema(Conversation).field("tools").type.value_type == pa.json_()
    assert arrow_schema(Instruction).field("meta").type == pa.json_()


def test_schema_accessor_rejects_non_record_types() -> None:
    with pytest.raises(ConfigurationError, match="Instruction, Conversation, Preference"):
        arrow_schema(Message)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        arrow_schema("chat")


# --- to_arrow / from_arrow -----------------------------------------------------------------


@given(record_lists(content_parts=True))
def test_round_trip_through_arrow(case: tuple[type[Any], list[Any]]) -> None:
    kind, records = case
    table = to_arrow(records, record=kind)
    assert table.schema.equals(arrow_schema(kind), check_metadata=True)
    assert table.num_rows == len(records)
    assert from_arrow(table) == records


@given(record_lists(max_size=3, content_parts=True))
def test_round_trip_through_arrow_rows_as_python(case: tuple[type[Any], list[Any]]) -> None:
    # The table holds what to_dict() holds, with meta as JSON text of the same object.
    kind, records = case
    rows = to_arrow(records, record=kind).to_pylist()
    for record, row in zip(records, rows, strict=True):
        expected = _with_parts_apart(record.to_dict())
        assert orjson.loads(row.pop("meta")) == expected.pop("meta")
        for side in (row, expected):
            for message in (m for f in _MESSAGE_FIELDS for m in side.get(f, ())):
                # Arrow gives each part every field of both kinds, null where it has none.
                message["parts"] = message["parts"] and [
                    {k: v for k, v in p.items() if v is not None} for p in message["parts"]
                ]
        assert row == expected


def test_none_and_empty_content_stay_apart_and_empty_lists_keep_types() -> None:
    chat = Conversation(
        messages=[
            Message(role="user", content="Weather?"),
            Message(
                role="assistant",
                content=None,
                tool_calls=[ToolCall(id="a", name="f", arguments="{}")],
            ),
            Message(role="tool", content="", tool_call_id="a"),
            Message(
                role="assistant",
                content="",
                tool_calls=[ToolCall(id="b", name="f", arguments="[]")],
            ),
            Message(role="tool", content="sunny", tool_call_id="b"),
            Message(role="assistant", content="Sunny."),
        ]
    )
    plain = Conversation(messages=[Message(role="user", content="hi")])
    table = to_arrow([plain, chat])
    contents = table.column("messages").to_pylist()[1]
    assert [m["content"] for m in contents] == [
        "Weather?",
        None,
        "",
        "",
        "sunny",
        "Sunny.",
    ]
    assert from_arrow(table) == [plain, chat]
    only_plain = to_arrow([plain])
    assert only_plain.schema.equals(arrow_schema(Conversation))
    assert only_plain.column("tools").to_pylist() == [[]]


def test_empty_input_gives_the_fixed_schema() -> None:
    for kind in RECORD_STRATEGIES:
        table = to_arrow([], record=kind)
        assert table.num_rows == 0
        assert table.schema.equals(arrow_schema(kind), check_metadata=True)
        assert from_arrow(table) == []
    with pytest.raises(ConfigurationError, match="record="):
        to_arrow([])


def test_mixed_record_types_are_refused() -> None:
    records = [
        Instruction(instruction="a", response="b"),
        Conversation(messages=[Message(role="user", content="x")]),
    ]
    with pytest.raises(ConfigurationError, match="index 1"):
        to_arrow(records)


def test_to_arrow_builds_columns_without_per_row_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("to_arrow went through per-row dicts")

    monkeypatch.setattr(Conversation, "to_dict", refuse)
    monkeypatch.setattr(Conversation, "model_dump", refuse)
    chat = Conversation(messages=[Message(role="user", content="hi")])
    assert to_arrow([chat]).num_rows == 1


@pytest.mark.parametrize(
    "records",
    [
        [Instruction(instruction=f"q{i}", response="a", meta={"i": i}) for i in range(5)],
        [
            Conversation(messages=[Message(role="user", content=f"q{i}")], tools=["{}"] * (i % 3))
            for i in range(5)
        ],
    ],
    ids=["instructions", "chats"],
)
def test_batches_too_large_for_32_bit_offsets_are_split(
    monkeypatch: pytest.MonkeyPatch, records: list[Any]
) -> None:
    import instructkit._arrow._convert as arrow_module

    real = arrow_module._array

    def small_capacity(values: list[Any], kind: pa.DataType) -> pa.Array:
        if len(values) > 2:  # as if more than two values overflowed 2 GiB of text
            raise arrow_module._BatchTooLarge
        return real(values, kind)

    monkeypatch.setattr(arrow_module, "_array", small_capacity)
    table = to_arrow(records)
    assert [batch.num_rows for batch in table.to_batches()] == [2, 1, 2]
    assert from_arrow(table) == records


_MESSAGE_FIELDS = ("messages", "prompt", "chosen", "rejected")


def _with_parts_apart(row: dict[str, Any]) -> dict[str, Any]:
    # Content given as parts goes to the message's parts field (content is null then).
    for field in _MESSAGE_FIELDS:
        for message in row.get(field, ()):
            content = message.pop("content")
            parts = content if isinstance(content, list) else None
            message["content"] = None if parts is not None else content
            message["parts"] = parts
            message.update(
                {k: message.pop(k) for k in list(message) if k not in ("role", "content", "parts")}
            )
    return row


def _reference_table(kind: type[Any], records: list[Any]) -> pa.Table:
    # The slow, obvious way: every record's JSON form as a row, meta as its JSON text.
    rows = []
    for record in records:
        row = _with_parts_apart(record.to_dict())
        row["meta"] = meta_text(record.meta)
        rows.append(row)
    plain = pa.Table.from_pylist(rows, schema=storage_schema(arrow_schema(kind)))
    return plain.cast(arrow_schema(kind))


@given(record_lists(max_size=6, content_parts=True), st.integers(1, 4))
def test_columns_equal_the_tables_built_from_the_records_json_rows(
    case: tuple[type[Any], list[Any]], batch_size: int
) -> None:
    # The fast path reads the fields from the records' __dict__s, lets pyarrow read whole
    # structs of them, and shortcuts batches where no list holds anything; in batches of
    # any size it must build exactly what the rows say.
    kind, records = case
    _, batches = record_batches(records, record=kind, batch_size=batch_size)
    table = pa.Table.from_batches(list(batches), schema=arrow_schema(kind))
    assert table.equals(_reference_table(kind, records), check_metadata=True)


def test_content_parts_round_trip_and_are_checked_like_the_records() -> None:
    parts = [
        {"type": "text", "text": "What is it?"},
        {"type": "image", "url": "images/1.png", "detail": "low"},
    ]
    chat = Conversation(
        messages=[{"role": "user", "content": parts}, {"role": "assistant", "content": "A cat."}]
    )
    plain = Conversation(messages=[Message(role="user", content="Hi")])
    table = to_arrow([plain, chat])
    message = table.column("messages").to_pylist()[1][0]
    assert (message["content"], message["parts"]) == (
        None,
        [
            {"type": "text", "text": "What is it?", "url": None, "detail": None},
            {**parts[1], "text": None},
        ],
    )
    assert from_arrow(table) == [plain, chat]
    rows = table.to_pylist()
    rows[0]["messages"][0]["parts"] = [{"type": "text", "text": "x"}]  # and content "Hi"
    rows[1]["messages"][1]["parts"] = [{"type": "image", "url": "a.png"}]  # on an assistant
    rows[1]["messages"][1]["content"] = None
    bad = pa.Table.from_pylist(rows, schema=storage_schema(table.schema))
    for read in (from_arrow, validate_table):
        report = ItemReport()
        assert len(read(bad, on_error="collect", report=report)) == 0
        assert [(r.row, r.loc) for r in report.rejections] == [
            (0, "$.messages[0].parts"),
            (1, "$.messages[1].content[0]"),
        ]


def test_batches_mixing_empty_and_filled_lists() -> None:
    call = ToolCall(id="c1", name="search", arguments='{"q": "x"}')
    chats = [
        Conversation(messages=[Message(role="user", content="a")]),
        Conversation(
            messages=[
                Message(role="user", content="b"),
                Message(role="assistant", content=None, tool_calls=[call]),
                Message(role="tool", content="found", tool_call_id="c1"),
                Message(role="assistant", content="done", weight=0.5),
            ],
            tools=['{"name": "search"}', "[]"],
        ),
        Conversation(messages=[Message(role="user", content="c", name="ann")], tools=[]),
    ]
    for batch in (chats, chats[:1], chats[1:2]):
        assert to_arrow(batch).equals(_reference_table(Conversation, batch))
    table = to_arrow(chats)
    assert table.column("tools").to_pylist() == [[], ['{"name": "search"}', "[]"], []]
    calls = [[m["tool_calls"] for m in turns] for turns in table.column("messages").to_pylist()]
    assert calls == [
        [[]],
        [[], [{"id": "c1", "name": "search", "arguments": '{"q": "x"}'}], [], []],
        [[]],
    ]


def test_records_of_subclasses_and_extra_fields_write_the_schema_columns() -> None:
    class Tagged(Instruction):
        note: str = ""

    records = [Instruction(instruction="a", response="b"), Tagged(instruction="c", response="d")]
    table = to_arrow(records)
    assert table.schema.equals(arrow_schema(Instruction), check_metadata=True)
    assert table.column("instruction").to_pylist() == ["a", "c"]


def _unvalidated(name: str) -> list[Any]:
    good = Conversation(messages=[Message(role="user", content="hi")])
    broken: dict[str, Any] = {
        "missing_instruction": Instruction.model_construct(response="x"),
        "none_instruction": Instruction.model_construct(instruction=None, response="x"),
        "int_instruction": Instruction.model_construct(instruction=5, response="x"),
        "missing_messages": Conversation.model_construct(),
        "missing_role": Conversation.model_construct(
            messages=(good.messages[0], Message.model_construct(content="x"))
        ),
        "missing_arguments": Conversation.model_construct(
            messages=(
                Message.model_construct(
                    role="assistant",
                    content=None,
                    tool_calls=(ToolCall.model_construct(id="a", name="f"),),
                ),
            )
        ),
        "int_tool": Conversation.model_construct(messages=good.messages, tools=(1,)),
    }
    record = broken[name]
    first = Instruction(instruction="ok", response="ok") if type(record) is Instruction else good
    return [first, record]


@pytest.mark.parametrize(
    ("name", "loc", "reason"),
    [
        ("missing_instruction", "$.instruction", "the field is missing"),
        ("none_instruction", "$.instruction", "got None"),
        ("int_instruction", "$.instruction", "expected text, got int"),
        ("missing_messages", "$.messages", "the field is missing"),
        ("missing_role", "$.messages[1].role", "the field is missing"),
        ("missing_arguments", "$.messages[0].tool_calls[0].arguments", "the field is missing"),
        ("int_tool", "$.tools[0]", "expected text, got int"),
    ],
)
def test_records_made_without_validation_are_refused_located(
    tmp_path: Path, name: str, loc: str, reason: str
) -> None:
    # pyarrow would read a missing field as null, also where the schema forbids nulls.
    records = _unvalidated(name)
    with pytest.raises(RecordValidationError, match=reason) as info:
        to_arrow(records)
    assert (info.value.loc, info.value.row) == (loc, 1)
    target = tmp_path / "out.parquet"
    with pytest.raises(RecordValidationError, match=reason):
        instructkit.write(records, target)
    assert not target.exists()


def test_meta_is_compact_json_text() -> None:
    record = Instruction(instruction="a", response="b", meta={"n": 2**40, "x": [1.5, "é"]})
    table = to_arrow([record])
    assert table.column("meta").to_pylist() == ['{"n":1099511627776,"x":[1.5,"é"]}']
    assert from_arrow(table) == [record]


def test_meta_text_refuses_nan_and_keeps_big_integers() -> None:
    # Records already refuse both; the helpers must not turn NaN into null either way.
    with pytest.raises(RecordValidationError) as caught:
        meta_text({"score": [1, float("nan")]})
    assert caught.value.loc == "$.meta['score'][1]"
    text = meta_text({"n": 2**70})
    assert text == '{"n":1180591620717411303424}'
    assert meta_value(text) == {"n": 2**70}


def test_meta_helpers_are_inverse() -> None:
    value = {"a": {"b": [None, True, 3, 2.5]}}
    assert meta_value(meta_text(value)) == value
    assert meta_text({}) == "{}"
    with pytest.raises(RecordValidationError, match="object"):
        meta_value("[1]")
    with pytest.raises(RecordValidationError, match="JSON text"):
        meta_value("{bad")


def instruction_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "instruction": f"q{i}",
            "input": "",
            "response": f"a{i}",
            "system": None,
            "id": None,
            "meta": "{}",
        }
        for i in range(count)
    ]


def test_from_arrow_locates_bad_rows_and_never_leaks_foreign_errors() -> None:
    rows = instruction_rows(6)
    rows[2]["response"] = ""
    rows[4]["meta"] = "{not json"
    table = pa.Table.from_pylist(rows, schema=storage_schema(arrow_schema(Instruction)))
    with pytest.raises(RecordValidationError) as caught:
        from_arrow(table)
    assert (caught.value.row, caught.value.loc) == (2, "$.response")
    report = ItemReport()
    records = from_arrow(table, on_error="collect", report=report)
    assert [r.instruction for r in records] == ["q0", "q1", "q3", "q5"]
    assert (report.seen, report.valid, report.rejected) == (6, 4, 2)
    assert [(r.row, r.loc) for r in report.rejections] == [(2, "$.response"), (4, "$.meta")]
    assert all(isinstance(r.error, RecordValidationError) for r in report.rejections)


def test_from_arrow_names_missing_extra_and_mistyped_columns() -> None:
    good = pa.Table.from_pylist(
        instruction_rows(1), schema=storage_schema(arrow_schema(Instruction))
    )
    renamed = good.rename_columns(["instruction", "input", "output", "system", "id", "meta"])
    with pytest.raises(DataError, match="missing 'response'; unexpected 'output'"):
        from_arrow(renamed, record=Instruction)
    with pytest.raises(DataError, match="pass record="):
        from_arrow(renamed.replace_schema_metadata({}))
    mistyped = good.set_column(0, "instruction", pa.array([1], pa.int64()))
    with pytest.raises(DataError, match="column 'instruction': expected string, got int64"):
        from_arrow(mistyped)
    chat = to_arrow([Conversation(messages=[Message(role="user", content="hi")])])
    messages = pa.array([[{"role": "user", "text": "hi"}]])
    odd = chat.set_column(0, "messages", messages)
    with pytest.raises(
        DataError, match=r"missing messages\[\]\.content.*unexpected messages\[\]\.text"
    ):
        from_arrow(odd)


def test_conform_accepts_harmless_differences() -> None:
    # Hub-style: content before role, large strings, an all-null column typed null.
    messages = pa.array(
        [
            [
                {
                    "content": "hi",
                    "role": "user",
                    "name": None,
                    "tool_calls": [],
                    "tool_call_id": None,
                    "reasoning": None,
                    "weight": 1,
                }
            ]
        ],
        pa.list_(
            pa.struct(
                [
                    ("content", pa.large_string()),
                    ("role", pa.large_string()),
                    ("name", pa.null()),
                    (
                        "tool_calls",
                        pa.list_(
                            pa.struct(
                                [
                                    ("id", pa.string()),
                                    ("name", pa.string()),
                                    ("arguments", pa.string()),
                                ]
                            )
                        ),
                    ),
                    ("tool_call_id", pa.null()),
                    ("reasoning", pa.null()),
                    ("weight", pa.int64()),
                ]
            )
        ),
    )
    table = pa.table(
        {
            "messages": messages,
            "tools": pa.array([[]], pa.list_(pa.null())),
            "id": pa.nulls(1),
            "meta": pa.array(["{}"], pa.large_string()),
        }
    )
    conformed = conform_table(table, Conversation)
    assert conformed.schema.equals(arrow_schema(Conversation), check_metadata=True)
    assert from_arrow(table, record=Conversation) == [
        Conversation(messages=[Message(role="user", content="hi", weight=1.0)])
    ]


def test_from_arrow_rejects_non_tables() -> None:
    with pytest.raises(ConfigurationError, match="Table or RecordBatch"):
        from_arrow([{"instruction": "x"}])  # type: ignore[arg-type]
    batch = to_arrow([Instruction(instruction="a", response="b")]).to_batches()[0]
    assert from_arrow(batch) == [Instruction(instruction="a", response="b")]


# --- validate_table: the Arrow checks agree with the record layer --------------------------

_TOO_DEEP = "[" * 200 + "]" * 200
_TOO_LONG_INTEGER = "123456789012345678901234567890"
_META_BEYOND_LIMITS = ['{"a":' * 200 + "1" + "}" * 200, '{"n":' + _TOO_LONG_INTEGER + "}"]

_MESSAGE_MUTATIONS = [
    ("role", None),
    ("role", "bot"),
    ("role", "system"),
    ("role", "tool"),
    ("role", "assistant"),
    ("role", "user"),
    ("content", None),
    ("content", ""),
    ("name", ""),
    ("name", "n"),
    ("tool_calls", None),
    ("tool_calls", [{"id": "x", "name": "f", "arguments": "{}"}]),
    ("tool_calls", [{"id": "", "name": "f", "arguments": "{}"}]),
    ("tool_calls", [{"id": "y", "name": None, "arguments": "{}"}]),
    ("tool_calls", [{"id": "z", "name": "f", "arguments": "{nope"}]),
    ("tool_calls", [{"id": "w", "name": "f", "arguments": None}]),
    # JSON beyond the record's limits: nested too deep, an integer beyond 64 bits.
    ("tool_calls", [{"id": "v", "name": "f", "arguments": _TOO_DEEP}]),
    ("tool_calls", [{"id": "u", "name": "f", "arguments": _TOO_LONG_INTEGER}]),
    ("tool_call_id", None),
    ("tool_call_id", ""),
    ("tool_call_id", "x"),
    ("tool_call_id", "unknown-call"),
    ("reasoning", "thinking"),
    ("reasoning", ""),
    ("weight", -0.5),
    ("weight", 1.5),
    ("weight", float("nan")),
    ("weight", 0.0),
]


@st.composite
def mutated_tables(draw: st.DrawFn) -> tuple[type[Any], pa.Table]:
    kind, records = draw(record_lists(max_size=4, content_parts=True).filter(lambda case: case[1]))
    rows = to_arrow(records, record=kind).to_pylist()
    for _ in range(draw(st.integers(1, 3))):
        row = draw(st.sampled_from(rows))
        lists = [name for name in ("messages", "prompt", "chosen", "rejected") if row.get(name)]
        choice = draw(st.integers(0, 9))
        if lists and choice < 7:
            turns = row[draw(st.sampled_from(lists))]
            turn = draw(st.sampled_from(turns))
            key, value = draw(st.sampled_from(_MESSAGE_MUTATIONS))
            turn[key] = value
            if choice == 0:
                turns.append(dict(draw(st.sampled_from(turns))))  # repeats a turn: ids, answers
        elif lists and choice == 7:
            row[draw(st.sampled_from(lists))] = [] if draw(st.booleans()) else None
        else:
            scalars = ("instruction", "input", "response", "system", "id", "meta", "tools")
            column = draw(st.sampled_from([n for n in row if n in scalars]))
            value = draw(
                st.sampled_from([None, "", "{}", "[1]", "{bad", '"s"', "x", *_META_BEYOND_LIMITS])
            )
            if column == "tools":
                value = draw(
                    st.sampled_from(
                        [None, ["{bad"], ["{}"], [None], [_TOO_DEEP], [_TOO_LONG_INTEGER]]
                    )
                )
            row[column] = value
    return kind, pa.Table.from_pylist(rows, schema=storage_schema(arrow_schema(kind)))


@given(mutated_tables())
def test_arrow_checks_reject_exactly_the_rows_the_record_layer_rejects(
    case: tuple[type[Any], pa.Table],
) -> None:
    _kind, table = case
    by_records = ItemReport()
    from_arrow(table, on_error="collect", report=by_records)
    by_arrow = ItemReport()
    kept = validate_table(table, on_error="collect", report=by_arrow)
    assert [r.row for r in by_arrow.rejections] == [r.row for r in by_records.rejections]
    # Both word the error the same way: read_table reports the record layer's message.
    assert [r.reason for r in by_arrow.rejections] == [r.reason for r in by_records.rejections]
    assert kept.num_rows == by_records.valid == by_arrow.valid
    assert from_arrow(kept) == from_arrow(table, on_error="skip")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("meta", _META_BEYOND_LIMITS[0]),
        ("meta", _META_BEYOND_LIMITS[1]),
        ("tools", [_TOO_DEEP]),
        ("tools", [_TOO_LONG_INTEGER]),
        ("arguments", _TOO_DEEP),
        ("arguments", _TOO_LONG_INTEGER),
    ],
)
def test_arrow_checks_apply_the_record_limits_to_json_text(column: str, value: Any) -> None:
    call = ToolCall(id="c", name="f", arguments="{}")
    chat = Conversation(
        messages=[
            Message(role="user", content="q"),
            Message(role="assistant", content=None, tool_calls=[call]),
            Message(role="tool", content="r", tool_call_id="c"),
        ]
    )
    row = to_arrow([chat]).to_pylist()[0]
    if column == "arguments":
        row["messages"][1]["tool_calls"][0]["arguments"] = value
    else:
        row[column] = value
    table = pa.Table.from_pylist([row], schema=storage_schema(arrow_schema(Conversation)))
    with pytest.raises(RecordValidationError) as by_records:
        from_arrow(table)
    with pytest.raises(RecordValidationError) as by_arrow:
        validate_table(table)
    assert by_arrow.value.reason == by_records.value.reason


@given(record_lists(content_parts=True))
def test_valid_tables_pass_the_arrow_checks_unchanged(case: tuple[type[Any], list[Any]]) -> None:
    kind, records = case
    table = to_arrow(records, record=kind)
    assert validate_table(table).equals(table)


# --- read_table ----------------------------------------------------------------------------


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_bytes(b"".join(r if isinstance(r, bytes) else orjson.dumps(r) + b"\n" for r in rows))
    return path


@given(record_lists(content_parts=True), st.sampled_from(["jsonl", "parquet"]))
def test_read_table_round_trip(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[type[Any], list[Any]], fmt: str
) -> None:
    kind, records = case
    folder = tmp_path_factory.mktemp("read_table")
    if fmt == "jsonl":
        path = write_jsonl(folder / "data.jsonl", [r.to_dict() for r in records])
    else:
        path = folder / "data.parquet"
        pq.write_table(to_arrow(records, record=kind), path)
    table = read_table(path, record=kind)
    assert table.schema.equals(arrow_schema(kind), check_metadata=True)
    assert from_arrow(table) == records


def test_read_table_jsonl_builds_meta_text_only_where_needed(tmp_path: Path) -> None:
    rows = [Instruction(instruction=f"q{i}", response="a").to_dict() for i in range(3)]
    table = read_table(write_jsonl(tmp_path / "plain.jsonl", rows))
    assert table.column("meta").to_pylist() == ["{}"] * 3
    rows[1]["meta"] = {"source": "x", "n": [1, 2]}
    rows[2]["meta"] = {"source": 5}  # another type for the same key: no Arrow inference
    table = read_table(write_jsonl(tmp_path / "meta.jsonl", rows))
    assert table.column("meta").to_pylist() == ["{}", '{"source":"x","n":[1,2]}', '{"source":5}']


def test_read_table_handles_blank_lines_crlf_bom_and_compression(tmp_path: Path) -> None:
    import gzip

    rows = [Instruction(instruction=f"q{i}", response="a").to_dict() for i in range(3)]
    body = b"\xef\xbb\xbf" + b"\r\n\n  \n".join(orjson.dumps(r) for r in rows) + b"\r\n"
    (tmp_path / "odd.jsonl").write_bytes(body)
    assert read_table(tmp_path / "odd.jsonl").column("instruction").to_pylist() == [
        "q0",
        "q1",
        "q2",
    ]
    (tmp_path / "odd.jsonl.gz").write_bytes(gzip.compress(body))
    assert read_table(tmp_path / "odd.jsonl.gz").num_rows == 3


def test_read_table_errors_name_file_line_row_and_field(tmp_path: Path) -> None:
    good = Conversation(messages=[Message(role="user", content="hi")]).to_dict()
    bad = orjson.loads(orjson.dumps(good))
    bad["messages"][0]["role"] = "bot"
    path = write_jsonl(tmp_path / "chats.jsonl", [good, b"\n", good, bad, good])
    with pytest.raises(RecordValidationError) as caught:
        read_table(path)
    err = caught.value
    assert (err.file, err.line, err.row, err.loc) == (str(path), 4, 2, "$.messages[0].role")
    assert "'bot'" in str(err)
    report = ItemReport()
    table = read_table(path, on_error="skip", report=report)
    assert table.num_rows == 3
    assert (report.seen, report.valid, report.rejected) == (4, 3, 1)
    assert report.balanced


def test_read_table_malformed_jsonl_is_located_and_skippable(tmp_path: Path) -> None:
    good = Instruction(instruction="q", response="a").to_dict()
    path = write_jsonl(tmp_path / "bad.jsonl", [good, b'{"instruction": "q",\n', good])
    with pytest.raises(MalformedJSONError) as caught:
        read_table(path)
    assert caught.value.line == 2
    report = ItemReport()
    assert read_table(path, on_error="collect", report=report).num_rows == 2
    assert (report.seen, report.valid, report.rejected) == (3, 2, 1)


def test_read_table_invalid_utf8_in_jsonl_is_located(tmp_path: Path) -> None:
    good = orjson.dumps(Instruction(instruction="q", response="a").to_dict())
    bad = good.replace(b'"q"', b'"q\xff"')
    path = write_jsonl(tmp_path / "utf8.jsonl", [good + b"\n", bad + b"\n"])
    with pytest.raises(MalformedJSONError, match="UTF-8") as caught:
        read_table(path)
    assert caught.value.line == 2


def test_read_table_unknown_fields_are_refused_with_their_path(tmp_path: Path) -> None:
    good = Conversation(messages=[Message(role="user", content="hi")]).to_dict()
    odd = orjson.loads(orjson.dumps(good))
    odd["messages"][0]["lang"] = "en"
    with pytest.raises(RecordValidationError) as caught:
        read_table(write_jsonl(tmp_path / "x.jsonl", [good, odd]))
    assert (caught.value.line, caught.value.loc) == (2, "$.messages[0].lang")


def test_read_table_needs_our_layout(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "alpaca.jsonl", [{"instruction": "q", "input": "", "output": "a"}]
    )
    with pytest.raises(DataError, match="own layout"):
        read_table(path)
    with pytest.raises(ConfigurationError, match="jsonl"):
        read_table(tmp_path / "data.json")
    assert instructkit.read_table is read_table


def test_read_table_long_lines_grow_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import instructkit._io._table as table_module

    monkeypatch.setattr(table_module, "_BLOCK_SIZE", 1 << 10)
    rows = [
        Instruction(instruction="q" * 5000, response="a").to_dict(),
        Instruction(instruction="q", response="a").to_dict(),
    ]
    table = read_table(write_jsonl(tmp_path / "long.jsonl", rows))
    assert table.column("instruction").to_pylist()[0] == "q" * 5000


@given(
    depth=st.integers(MAX_DEPTH - 4, MAX_DEPTH + 1),
    number=st.sampled_from([0, INT_MAX, INT_MAX + 1, INT_MIN, INT_MIN - 1, -(10**18), 10**19]),
    in_text=st.booleans(),
)
def test_meta_limits_in_columns_agree_with_the_records(
    depth: int, number: int, in_text: bool
) -> None:
    # Around the limits: the column rules walk a meta only when its bytes say it could break
    # one, and must still refuse exactly what a record refuses.
    inner = json.dumps(str(number)) if in_text else str(number)
    text = '{"a": ' + "[" * depth + inner + "]" * depth + "}"
    try:
        Instruction(instruction="i", response="r", meta=json.loads(text))
        expected = 1
    except RecordValidationError:
        expected = 0
    table = pa.table(
        {
            "instruction": ["i"],
            "input": [""],
            "response": ["r"],
            "system": pa.array([None], pa.string()),
            "id": pa.array([None], pa.string()),
            "meta": [text],
        }
    )
    kept = validate_table(
        conform_table(table, Instruction), Instruction, on_error="skip", report=ItemReport()
    )
    assert kept.num_rows == expected
