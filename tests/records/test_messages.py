"""The error messages a learner meets: located, naming the dialect, in plain English."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import instructkit as ik
from instructkit import strategies as iks
from instructkit._errors import describe_type, with_article

DIALECTS = ik.dialects.dialect_names()


def read_all(path: Path, **options: Any) -> list[Any]:
    with ik.read(path, **options) as reader:
        return list(reader)


NOT_OBJECTS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.lists(st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), max_size=2),
)


# -- locations: the row itself is "$" --------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@given(row=NOT_OBJECTS)
def test_a_row_that_is_not_an_object_is_located_at_the_row(dialect: str, row: Any) -> None:
    with pytest.raises(ik.DialectError) as caught:
        ik.parse_row(row, dialect=dialect)
    err = caught.value
    assert err.loc == "$"
    assert str(err) == (
        f"dialect {dialect!r}: expected a row that is a JSON object, got {describe_type(row)}"
        " - at $"
    )


@given(row=NOT_OBJECTS)
def test_a_row_that_is_not_an_object_is_located_with_auto_detection(row: Any) -> None:
    with pytest.raises(ik.DialectError, match=r"got (a|an|null)\b.* - at \$$") as caught:
        ik.parse_row(row)
    assert caught.value.loc == "$"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_row_without_the_dialects_keys_is_located_at_the_row(dialect: str) -> None:
    with pytest.raises(ik.DialectError) as caught:
        ik.parse_row({"unrelated": 1}, dialect=dialect)
    assert caught.value.loc == "$"
    assert str(caught.value).endswith(" - at $")


def test_detection_quotes_the_first_row_with_its_location() -> None:
    with pytest.raises(ik.DialectDetectionError) as caught:
        ik.detect_dialect([["not", "a", "dict"], 3])
    assert str(caught.value).endswith(
        "the first, row 0: expected a row that is a JSON object, got an array - at $"
    )


def test_a_line_that_is_not_an_object_is_located_at_the_row(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    ik.write([ik.Instruction(instruction="a", response="b")], path)
    with path.open("a", encoding="utf-8") as out:
        out.write("[1, 2]\n")
    with pytest.raises(ik.DialectError) as caught, ik.read(path) as reader:
        list(reader)
    assert caught.value.loc == "$"
    assert str(caught.value) == f"expected a JSON object, got an array - at $ ({path}, line 2)"


def test_read_table_names_the_json_type_of_a_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"instruction": "a", "response": "b"}\n7\n', encoding="utf-8")
    with pytest.raises(ik.DataError) as caught:
        ik.read_table(path, record="instruction")
    assert caught.value.loc == "$"
    assert "expected a JSON object per line, got a number - at $" in str(caught.value)


def test_a_record_of_the_wrong_type_is_located_at_the_record(tmp_path: Path) -> None:
    chat = ik.Conversation(
        messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    )
    preference = ik.Preference(
        prompt=[{"role": "user", "content": "a"}],
        chosen=[{"role": "assistant", "content": "b"}],
        rejected=[{"role": "assistant", "content": "c"}],
    )
    path = tmp_path / "mixed.jsonl"
    ik.write([chat, preference], path)
    with pytest.raises(ik.RecordValidationError) as caught:
        read_all(path, record="conversation")
    assert caught.value.loc == "$"
    assert "got a Preference - at $" in str(caught.value)


def test_an_adapter_row_that_is_not_an_object_is_located_at_the_row() -> None:
    with pytest.raises(ik.DialectError) as caught:
        list(ik.adapt("snli", [["a", "b"]]))
    assert caught.value.loc == "$"
    assert str(caught.value).startswith("adapter 'snli': ")


# -- every dialect error names its dialect the same way -------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@given(data=st.data())
def test_every_error_about_a_row_names_its_dialect(dialect: str, data: st.DataObject) -> None:
    bad = data.draw(iks.invalid_rows(dialect=dialect))
    with pytest.raises(ik.DataError) as caught:
        ik.parse_row(bad.row, dialect=dialect)
    assert caught.value.reason.startswith(f"dialect {dialect!r}: "), bad.kind
    assert caught.value.loc is not None
    # Said once, not twice (a nested error carried up with its prefix).
    assert str(caught.value).count("dialect ") == 1


@pytest.mark.parametrize(
    ("dialect", "record", "layout", "message"),
    [
        (
            "hh",
            ik.Preference(
                prompt=[{"role": "user", "content": "a"}],
                chosen=[{"role": "assistant", "content": "b\n\nHuman: c"}],
                rejected=[{"role": "assistant", "content": "d"}],
            ),
            None,
            "dialect 'hh': expected turn text without a speaker marker",
        ),
        (
            "trl",
            ik.Conversation(
                messages=[
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {"role": "user", "content": "c"},
                ]
            ),
            "standard_prompt_completion",
            "dialect 'trl': expected turns",
        ),
    ],
)
def test_errors_when_writing_name_the_dialect(
    dialect: str, record: ik.Record, layout: str | None, message: str
) -> None:
    with pytest.raises(ik.DialectError) as caught:
        ik.to_row(record, dialect=dialect, layout=layout)
    assert str(caught.value).startswith(message)
    assert caught.value.loc is not None


def test_strict_conversions_name_the_dialect() -> None:
    chat = ik.Conversation(
        messages=[
            {"role": "user", "content": "a", "name": "ann"},
            {"role": "assistant", "content": "b"},
        ]
    )
    with pytest.raises(ik.LossyConversionError, match="of the Conversation to dialect 'alpaca'"):
        ik.to_row(chat, dialect="alpaca", strict=True)
    row = {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}
    row["conversations"][0]["weight"] = 0.5
    with pytest.raises(ik.LossyConversionError, match="of the row of dialect 'sharegpt'"):
        ik.parse_row(row, dialect="sharegpt", strict=True)


def test_detection_names_the_dialect_that_was_tried_once() -> None:
    with pytest.raises(ik.DialectDetectionError) as caught:
        ik.detect_dialect([{"instruction": "a", "input": "", "output": ""}])
    text = str(caught.value)
    assert "looks like alpaca but expected non-empty text, got '' - at $.output" in text
    assert "dialect 'alpaca'" not in text


# -- a and an -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("object", "an object"),
        ("Instruction", "an Instruction"),
        ("Preference", "a Preference"),
        ("'input' key", "an 'input' key"),
        ("'output' key", "an 'output' key"),
        ("'response' key", "a 'response' key"),
        ("assistant turn", "an assistant turn"),
        ("user turn", "a user turn"),
        ("unknown value", "an unknown value"),
        ("ellipsis", "an ellipsis"),
        ("int", "an int"),
    ],
)
def test_with_article(phrase: str, expected: str) -> None:
    assert with_article(phrase) == expected


def test_describe_type_of_a_value_outside_json() -> None:
    assert describe_type(...) == "an ellipsis"
    assert describe_type(b"x") == "a bytes"
    assert describe_type({"a": 1}) == "an object"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ik.parse_row({"instruction": "i", "input": ""}, dialect="alpaca"), "an 'output'"),
        (lambda: ik.parse_row({"response": "r"}, dialect="instruction"), "an 'instruction' key"),
        (lambda: ik.parse_row({"targets": "t"}, dialect="flan"), "an 'inputs' key"),
        (lambda: ik.parse_row({"chosen": [], "rejected": []}, dialect="openai_dpo"), "an 'input'"),
        (
            lambda: ik.to_row(ik.Instruction(instruction="a", response="b"), dialect="hh"),
            "got an Instruction",
        ),
        (
            lambda: ik.Conversation(messages=[{"role": "user", "content": 5}]),
            "got 5 (a number)",
        ),
        (
            lambda: ik.Conversation(messages=[{"role": "user", "content": {"a": 1}}]),
            "(an object)",
        ),
        (
            lambda: ik.Conversation(
                messages=[
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b", "tool_call_id": "x"},
                ]
            ),
            "got one on an assistant turn",
        ),
        (
            lambda: ik.Conversation(
                messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}]
            ),
            "non-empty text on an assistant turn",
        ),
    ],
)
def test_articles_agree_with_the_word(make: Any, message: str) -> None:
    with pytest.raises(ik.InstructkitError) as caught:
        make()
    text = str(caught.value)
    assert message in text
    assert not re.search(r"\ba [aeio]|\ba '[aeio]|\ban [bcdfgjklmnpqrstvwxyz]", text), text


def test_arrow_and_parquet_name_record_types_with_their_article(tmp_path: Path) -> None:
    chat = ik.Conversation(
        messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    )
    instruction = ik.Instruction(instruction="a", response="b")
    with pytest.raises(ik.ConfigurationError, match="to be a Conversation, got an Instruction"):
        ik.to_arrow([chat, instruction])
    with pytest.raises(ik.ConfigurationError, match="records, got an int"):
        ik.to_arrow([1])


def test_meta_json_of_another_type_is_named_with_its_article() -> None:
    import pyarrow as pa

    table = ik.to_arrow([ik.Instruction(instruction="a", response="b")])
    meta = table.schema.get_field_index("meta")
    table = table.set_column(meta, "meta", pa.array(["[1]"]))
    with pytest.raises(ik.RecordValidationError, match="got JSON of an array"):
        ik.from_arrow(table)


# -- a .json file holding one object ------------------------------------------------------------


def rows_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


ROW = {"instruction": "Name a colour.", "response": "Blue"}


@pytest.mark.parametrize("name", ["one.json", "one.json.gz"])
def test_a_json_file_with_a_single_object_is_explained(tmp_path: Path, name: str) -> None:
    path = rows_file(tmp_path, name, json.dumps(ROW, indent=2) + "\n")
    with pytest.raises(ik.DataError) as caught, ik.read(path) as reader:
        list(reader)
    text = str(caught.value)
    assert text.startswith(
        "expected a JSON array of rows at the top level, got a single object over lines 1 to 4"
    )
    assert "truncated" not in text
    assert caught.value.line == 1


def test_a_json_file_wrapping_its_rows_says_where_they_are(tmp_path: Path) -> None:
    path = rows_file(tmp_path, "wrapped.json", json.dumps({"data": [ROW, ROW]}, indent=2))
    with pytest.raises(ik.DataError, match="its key 'data' holds an array"):
        read_all(path)


def test_pretty_printed_objects_one_after_another_are_explained(tmp_path: Path) -> None:
    text = json.dumps(ROW, indent=2) + "\n" + json.dumps(ROW, indent=2) + "\n"
    path = rows_file(tmp_path, "two.json", text)
    with pytest.raises(ik.DataError, match="got an object over lines 1 to 4 and more after it"):
        read_all(path)


def test_a_single_object_is_one_rejected_item(tmp_path: Path) -> None:
    path = rows_file(tmp_path, "one.json", json.dumps(ROW, indent=2))
    rejects = tmp_path / "rejects.jsonl"
    with ik.read(path, on_error="skip", rejects=rejects) as reader:
        assert list(reader) == []
    assert (reader.report.seen, reader.report.rejected) == (1, 1)
    [entry] = [json.loads(line) for line in rejects.read_text("utf-8").splitlines()]
    assert json.loads(entry["raw"]) == ROW


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(ROW) + "\n",  # one row per line in a .json file: JSON Lines
        json.dumps(ROW),
        json.dumps([ROW], indent=2),
    ],
)
def test_json_files_that_hold_rows_still_read(tmp_path: Path, text: str) -> None:
    path = rows_file(tmp_path, "rows.json", text)
    with ik.read(path) as reader:
        assert [r.instruction for r in reader] == [ROW["instruction"]]


def test_a_broken_first_line_is_still_reported_as_malformed(tmp_path: Path) -> None:
    path = rows_file(tmp_path, "bad.json", '{"instruction": "a",\n"response": }\n')
    with pytest.raises(ik.MalformedJSONError), ik.read(path) as reader:
        list(reader)
