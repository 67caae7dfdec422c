"""Bookkeeping meta keys, side columns and layout memory: rows of other tools come back whole.

* instructkit's own ``instructkit.*`` meta keys never reach a third-party row, and dropping
  one is reported wherever reading back would then give something else;
* a side column (meta key) never has the name of a column of any layout of the dialect;
* ``to_row(parse_row(row))`` gives every row of a lossless layout back, with no ``layout=``,
  and so does ``write(list(read(path)))`` for whole files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import instructkit as ik
from instructkit import strategies as iks
from instructkit._dialects import get_dialect

# Spelled out rather than imported: these are the documented meta keys.
COMPLETION_START = "instructkit.completion_start"
INPUT_OFFSET = "instructkit.input_offset"
LAYOUT = "instructkit.layout"

THIRD_PARTY = [name for name in ik.dialects.dialect_names() if name != "instructkit"]

PC_ROW = {
    "prompt": [{"role": "user", "content": "Color of the sky?"}],
    "completion": [{"role": "assistant", "content": "Blue."}],
}


def _bookkeeping_in(row: dict[str, Any]) -> list[str]:
    return [key for key in row if key.startswith("instructkit.")]


# -- bookkeeping never leaks ---------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["openai", "sharegpt", "trl"])
def test_a_prompt_completion_split_is_not_a_column_of_a_chat_layout(dialect: str) -> None:
    chat = ik.parse_row(PC_ROW, dialect="trl")
    assert chat.meta == {COMPLETION_START: 1}
    report = ik.LossReport()
    layout = "conversational_language_modeling" if dialect == "trl" else None
    row = ik.to_row(chat, dialect=dialect, layout=layout, losses=report)
    assert _bookkeeping_in(row) == []
    # Reading back gives no split, so dropping it is a loss.
    assert [(loss.kind, loss.field) for loss in report] == [
        ("dropped", f"$.meta[{COMPLETION_START!r}]")
    ]
    with pytest.raises(ik.LossyConversionError):
        ik.to_row(chat, dialect=dialect, layout=layout, strict=True)


@pytest.mark.parametrize("dialect", ["alpaca", "dolly", "instruction", "flan"])
def test_a_split_before_the_response_is_what_an_instruction_is(dialect: str) -> None:
    chat = ik.parse_row(PC_ROW, dialect="trl")
    report = ik.LossReport()
    row = ik.to_row(chat, dialect=dialect, losses=report)
    assert _bookkeeping_in(row) == []
    assert not report


@pytest.mark.parametrize("dialect", ["openai", "sharegpt", "trl", "hh", "flan"])
def test_an_input_join_point_is_not_a_column_and_its_loss_is_reported(dialect: str) -> None:
    record: ik.Record = ik.Instruction(instruction="Summarise.", input="Cats nap.", response="Ok")
    if dialect == "hh":
        chat = record.to_conversation()
        record = ik.Preference(
            prompt=chat.messages[:1],
            chosen=chat.messages[1:],
            rejected=[{"role": "assistant", "content": "No"}],
            meta=chat.meta,
        )
    report = ik.LossReport()
    row = ik.to_row(record, dialect=dialect, losses=report)
    assert _bookkeeping_in(row) == []
    expected = "$.input" if isinstance(record, ik.Instruction) else f"$.meta[{INPUT_OFFSET!r}]"
    assert [loss.field for loss in report] == [expected]


@pytest.mark.parametrize("dialect", THIRD_PARTY)
def test_no_bookkeeping_key_reaches_a_third_party_row(dialect: str) -> None:
    meta = {COMPLETION_START: 1, INPUT_OFFSET: 3, LAYOUT: "trl:standard_language_modeling"}
    meta |= {"instructkit.future": True, "lang": "en"}
    record: ik.Record
    if ik.Preference in get_dialect(dialect).record_types:
        record = ik.Preference(
            prompt=[{"role": "user", "content": "Q"}],
            chosen=[{"role": "assistant", "content": "A"}],
            rejected=[{"role": "assistant", "content": "B"}],
            meta=meta,
        )
    else:
        record = ik.Conversation(
            messages=[{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
            meta=meta,
        )
    report = ik.LossReport()
    row = ik.to_row(record, dialect=dialect, losses=report)
    assert _bookkeeping_in(row) == []
    assert row["lang"] == "en"
    fields = {loss.field for loss in report}
    assert "$.meta['instructkit.future']" in fields
    assert "$.meta['instructkit.layout']" not in fields  # a memory of the source, not data


def test_a_remembered_layout_is_only_used_for_the_record_types_it_holds() -> None:
    pair = ik.parse_row({"chosen": "The sky is blue.", "rejected": "The sky is."}, dialect="trl")
    assert pair.meta == {LAYOUT: "trl:standard_implicit_preference"}
    transcript, _ = pair.to_transcripts()
    assert ik.to_row(transcript, dialect="trl") == {
        "messages": [
            {"role": "user", "content": "The sky is"},
            {"role": "assistant", "content": " blue."},
        ]
    }


def test_the_native_layout_keeps_bookkeeping() -> None:
    chat = ik.parse_row({"prompt": "The sky is", "completion": " blue."}, dialect="trl")
    row = ik.to_row(chat, dialect="instructkit")
    assert row["meta"] == chat.meta
    assert ik.parse_row(row, dialect="instructkit") == chat


def test_reading_prompt_completion_rows_as_instructions_consumes_the_split(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pc.jsonl"
    path.write_bytes(orjson.dumps(PC_ROW) + b"\n")
    losses = ik.LossReport()
    (record,) = ik.read(path, dialect="trl", record=ik.Instruction, losses=losses)
    assert record == ik.Instruction(instruction="Color of the sky?", response="Blue.")
    assert not losses


def test_a_split_elsewhere_than_before_the_response_is_reported() -> None:
    row = {
        "prompt": [{"role": "system", "content": "S"}],
        "completion": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
    }
    chat = ik.parse_row(row, dialect="trl")
    report = ik.LossReport()
    instruction = chat.to_instruction(losses=report)
    assert instruction.meta == {}
    assert [loss.field for loss in report] == [f"$.meta[{COMPLETION_START!r}]"]
    with pytest.raises(ik.LossyConversionError):
        chat.to_instruction(strict=True)


def test_to_conversation_and_back_carries_the_layout_memory() -> None:
    row = {"prompt": "The sky is", "completion": " blue."}
    chat = ik.parse_row(row, dialect="trl")
    instruction = chat.to_instruction()
    assert instruction.meta == {LAYOUT: "trl:standard_prompt_completion"}
    assert ik.to_row(instruction, dialect="trl") == row
    assert ik.to_row(instruction.to_conversation(), dialect="trl") == row


# -- side columns never take a column's name -----------------------------------------------


def _record_for(dialect: str, meta: dict[str, Any]) -> ik.Record:
    types = get_dialect(dialect).record_types
    if ik.Instruction in types:
        return ik.Instruction(instruction="Q", response="A", meta=meta)
    if ik.Conversation in types:
        return ik.Conversation(
            messages=[{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
            meta=meta,
        )
    return ik.Preference(
        prompt=[{"role": "user", "content": "Q"}],
        chosen=[{"role": "assistant", "content": "A"}],
        rejected=[{"role": "assistant", "content": "B"}],
        meta=meta,
    )


COLUMN_CASES = [
    (dialect, column)
    for dialect in THIRD_PARTY
    for column in get_dialect(dialect).columns
    if column not in get_dialect(dialect).meta_columns and not column.startswith("instructkit.")
]


@pytest.mark.parametrize(("dialect", "column"), COLUMN_CASES)
def test_a_meta_key_named_like_any_column_of_the_dialect_is_never_written(
    dialect: str, column: str
) -> None:
    sentinel = {"side": "column"}
    record = _record_for(dialect, {column: sentinel, "kept": 1})
    report = ik.LossReport()
    row = ik.to_row(record, dialect=dialect, losses=report)
    assert row.get(column) != sentinel
    assert row["kept"] == 1
    assert [(loss.kind, loss.field) for loss in report if "meta" in loss.field] == [
        ("dropped", f"$.meta.{column}")
    ]


def test_a_ranking_row_is_not_written_as_a_preference_shaped_trl_row() -> None:
    chat = ik.Conversation(
        messages=[{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
        meta={"chosen": {"from": "gpt", "value": "A"}},
    )
    report = ik.LossReport()
    row = ik.to_row(chat, dialect="trl", losses=report)
    assert set(row) == {"messages"}
    assert [loss.field for loss in report] == ["$.meta.chosen"]


def test_a_meta_key_named_like_a_renamed_column_is_never_written() -> None:
    chat = ik.Conversation(
        messages=[{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
        meta={"dialog": "x"},
    )
    cmap = {"conversations": "dialog"}
    report = ik.LossReport()
    row = ik.to_row(chat, dialect="sharegpt", column_map=cmap, losses=report)
    assert isinstance(row["dialog"], list)
    assert [loss.field for loss in report] == ["$.meta.dialog"]


# -- rows come back with no extra argument ------------------------------------------------

ROWS_THAT_COME_BACK = [
    (
        "dolly",
        {"instruction": "Name a colour.", "context": "", "response": "Red", "category": "open_qa"},
    ),
    (
        # OpenAI's own example spells out an empty tools array.
        "openai_dpo",
        {
            "input": {
                "messages": [{"role": "user", "content": "How cold is it?"}],
                "tools": [],
                "parallel_tool_calls": True,
            },
            "preferred_output": [{"role": "assistant", "content": "Mild."}],
            "non_preferred_output": [{"role": "assistant", "content": "No idea."}],
        },
    ),
    ("trl", {"prompt": "The sky is", "completion": " blue."}),
    ("trl", {"text": "The sky is blue."}),
    ("trl", {"prompt": "The sky is"}),
    ("trl", {"prompt": [{"role": "user", "content": "Color?"}]}),
    ("trl", {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}),
    ("trl", {"chosen": "The sky is blue.", "rejected": "The sky is green."}),
    (
        "trl",
        {
            "chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
            "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "B"}],
        },
    ),
    (
        "sharegpt",
        {
            "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}],
            "system": "Be brief.",
        },
    ),
]


@pytest.mark.parametrize(
    ("dialect", "row"),
    ROWS_THAT_COME_BACK,
    ids=[f"{n}-{d}" for n, (d, _) in enumerate(ROWS_THAT_COME_BACK)],
)
def test_rows_come_back_without_a_layout_argument(dialect: str, row: dict[str, Any]) -> None:
    read, written = ik.LossReport(), ik.LossReport()
    record = ik.parse_row(row, dialect=dialect, losses=read)
    assert ik.to_row(record, dialect=dialect, losses=written) == row
    assert not read
    assert not written


def _expected_back(dialect: str, row: dict[str, Any]) -> dict[str, Any]:
    if dialect == "instruction" and row.get("input") == "":
        # The documented normalisation: the instruction layout leaves an empty input out.
        return {key: value for key, value in row.items() if key != "input"}
    return row


@pytest.mark.parametrize("dialect", ik.dialects.dialect_names())
@settings(max_examples=12)  # per dialect; generating nested records is what takes the time
@given(data=st.data())
def test_generated_rows_come_back_whole_and_without_bookkeeping(
    dialect: str, data: st.DataObject
) -> None:
    row = data.draw(iks.dialect_rows(dialect=dialect))
    read, written = ik.LossReport(), ik.LossReport()
    back = ik.to_row(
        ik.parse_row(row, dialect=dialect, losses=read), dialect=dialect, losses=written
    )
    assert back == _expected_back(dialect, row)
    assert not written, written.summary()
    # Reading may only invent what the layout leaves out (tool-call ids, by position).
    assert all("tool_call" in loss.field for loss in read), read.summary()
    if dialect != "instructkit":
        assert _bookkeeping_in(back) == []


# -- whole files ---------------------------------------------------------------------------

TRL_FILES = {
    "standard_language_modeling": [{"text": "The sky is blue."}, {"text": "Grass is green."}],
    "conversational_language_modeling": [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}
    ],
    "standard_prompt_only": [{"prompt": "The sky is"}, {"prompt": "Grass is"}],
    "conversational_prompt_only": [{"prompt": [{"role": "user", "content": "Color?"}]}],
    "standard_prompt_completion": [
        {"prompt": "The sky is", "completion": " blue."},
        {"prompt": "", "completion": "Anything."},
    ],
    "conversational_prompt_completion": [PC_ROW],
    "standard_preference": [{"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}],
    "conversational_preference": [
        {
            "prompt": [{"role": "user", "content": "Color?"}],
            "chosen": [{"role": "assistant", "content": "Blue."}],
            "rejected": [{"role": "assistant", "content": "Green."}],
        }
    ],
    "standard_implicit_preference": [
        {"chosen": "The sky is blue.", "rejected": "The sky is green."},
        {"chosen": "Yes", "rejected": "No"},
    ],
    "conversational_implicit_preference": [
        {
            "chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
            "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "B"}],
        }
    ],
}


def test_every_trl_layout_has_a_file_case() -> None:
    assert set(TRL_FILES) == set(get_dialect("trl").layouts)


@pytest.mark.parametrize("layout", sorted(TRL_FILES))
@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_read_then_write_reproduces_a_trl_file(tmp_path: Path, layout: str, suffix: str) -> None:
    rows = TRL_FILES[layout]
    source, copy = tmp_path / f"in.{suffix}", tmp_path / f"out.{suffix}"
    ik.write(
        [ik.parse_row(row, dialect="trl") for row in rows], source, dialect="trl", layout=layout
    )
    records = list(ik.read(source))
    losses = ik.LossReport()
    ik.write(records, copy, dialect="trl", losses=losses)
    assert not losses
    with ik.read_raw(copy) as back, ik.read_raw(source) as before:
        assert list(back) == list(before) == rows
    if suffix == "jsonl":
        assert copy.read_bytes() == source.read_bytes()
