"""Images bound by position: LLaMA-Factory's <image> placeholders and TRL's image parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import instructkit as ik
from instructkit import strategies as iks

# The shape of LLaMA-Factory's mllm_demo.json, in ShareGPT's default names.
SHAREGPT_VISION = {
    "conversations": [
        {"from": "human", "value": "<image>Who are they?"},
        {"from": "gpt", "value": "Two players."},
        {"from": "human", "value": "And here <image><image> who?"},
        {"from": "gpt", "value": "The same two."},
    ],
    "images": ["demo/1.jpg", "https://example.com/2.jpg", "demo/3.jpg"],
}
ALPACA_VISION = {
    "instruction": "<image>Describe the picture.",
    "input": "Compare with <image>",
    "output": "A cat, then a dog.",
    "images": ["a.jpg", "b.jpg"],
}
TRL_VISION = {
    "messages": [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
    ],
    "images": ["cat.png"],
}
TRL_VISION_DPO = {
    "prompt": [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe."}]}
    ],
    "chosen": [{"role": "assistant", "content": "A cat on a mat."}],
    "rejected": [{"role": "assistant", "content": "A dog."}],
    "images": ["cat.png"],
}


def _read(row: dict[str, Any], dialect: str) -> tuple[Any, ik.LossReport]:
    report = ik.LossReport()
    return ik.parse_row(row, dialect=dialect, losses=report), report


# -- LLaMA-Factory: <image> placeholders --------------------------------------------------


def test_sharegpt_placeholders_become_image_parts_where_they_were() -> None:
    chat, report = _read(SHAREGPT_VISION, "sharegpt")
    assert not report, report.summary()
    assert "images" not in chat.meta
    assert chat.messages[0].content == (
        ik.ImagePart(url="demo/1.jpg"),
        ik.TextPart(text="Who are they?"),
    )
    assert chat.messages[2].content == (
        ik.TextPart(text="And here "),
        ik.ImagePart(url="https://example.com/2.jpg"),
        ik.ImagePart(url="demo/3.jpg"),
        ik.TextPart(text=" who?"),
    )
    assert chat.messages[1].content == "Two players."
    assert ik.to_row(chat, dialect="sharegpt") == SHAREGPT_VISION


def test_sharegpt_image_rows_convert_to_openai_and_trl_and_back() -> None:
    chat, _ = _read(SHAREGPT_VISION, "sharegpt")
    line = ik.to_row(chat, dialect="openai")
    assert line["messages"][0]["content"][0] == {
        "type": "image_url",
        "image_url": {"url": "demo/1.jpg"},
    }
    trl = ik.to_row(chat, dialect="trl")
    assert trl["images"] == SHAREGPT_VISION["images"]
    assert trl["messages"][2]["content"][1] == {"type": "image"}
    assert ik.to_row(ik.parse_row(trl, dialect="trl"), dialect="sharegpt") == SHAREGPT_VISION


def test_alpaca_row_with_images_is_a_conversation_with_its_input_split_kept() -> None:
    chat, report = _read(ALPACA_VISION, "alpaca")
    assert not report, report.summary()
    assert isinstance(chat, ik.Conversation)
    assert chat.messages[0].content == (
        ik.ImagePart(url="a.jpg"),
        ik.TextPart(text="Describe the picture.\n\nCompare with "),
        ik.ImagePart(url="b.jpg"),
    )
    assert ik.to_row(chat, dialect="alpaca") == ALPACA_VISION


def test_alpaca_image_rows_refuse_to_become_instructions_located(tmp_path: Path) -> None:
    path = tmp_path / "vision.jsonl"
    path.write_bytes(orjson.dumps(ALPACA_VISION) + b"\n")
    with (
        pytest.raises(ik.RecordValidationError) as caught,
        ik.read(path, dialect="alpaca", record=ik.Instruction) as reader,
    ):
        list(reader)
    assert caught.value.loc is not None
    assert caught.value.loc.endswith(".content")
    assert "text-only" in str(caught.value)


def test_alpaca_history_and_ranking_rows_carry_images() -> None:
    row = {
        "instruction": "And this <image>?",
        "input": "",
        "chosen": "A dog.",
        "rejected": "A cow.",
        "history": [["<image>What is it?", "A cat."]],
        "images": ["cat.jpg", "dog.jpg"],
    }
    pair, report = _read(row, "alpaca")
    assert not report, report.summary()
    assert isinstance(pair, ik.Preference)
    assert pair.prompt[0].content == (ik.ImagePart(url="cat.jpg"), ik.TextPart(text="What is it?"))
    assert pair.prompt[2].content == (
        ik.TextPart(text="And this "),
        ik.ImagePart(url="dog.jpg"),
        ik.TextPart(text="?"),
    )
    assert ik.to_row(pair, dialect="alpaca") == row


@pytest.mark.parametrize(
    ("images", "loc", "words"),
    [
        (["a.jpg"], "$.images", "1 image(s) in the 'images' column and more placeholders"),
        (["a.jpg", "b.jpg", "c.jpg", "d.jpg"], "$.images", "4 image(s) and 3 placeholder(s)"),
        ([], "$.images", "0 image(s) in the 'images' column"),
    ],
)
def test_placeholder_and_image_counts_must_match(images: list[str], loc: str, words: str) -> None:
    row = {**SHAREGPT_VISION, "images": images}
    with pytest.raises(ik.DialectError) as caught:
        ik.parse_row(row, dialect="sharegpt")
    assert words in str(caught.value)
    expected = "$.conversations[2].value" if "more placeholders" in words else loc
    if not images:
        expected = "$.conversations[0].value"
    assert caught.value.loc == expected


def test_placeholder_outside_a_user_turn_is_refused_located() -> None:
    row = {
        "conversations": [
            {"from": "human", "value": "Draw a cat."},
            {"from": "gpt", "value": "<image>"},
        ],
        "images": ["cat.png"],
    }
    with pytest.raises(ik.DialectError) as caught:
        ik.parse_row(row, dialect="sharegpt")
    assert caught.value.loc == "$.conversations[1].value"
    assert "user turns only" in str(caught.value)
    alpaca = {"instruction": "Draw.", "output": "<image>", "images": ["x.png"]}
    with pytest.raises(ik.DialectError) as refused:
        ik.parse_row(alpaca, dialect="alpaca")
    assert refused.value.loc == "$.output"


def test_image_entries_that_are_not_references_are_refused_located() -> None:
    data = {"bytes": None, "path": "a.jpg"}  # datasets' Image feature, not decoded
    for dialect, row in (
        ("sharegpt", {**SHAREGPT_VISION, "images": ["x", "y", data]}),
        ("trl", {**TRL_VISION, "images": [data]}),
    ):
        with pytest.raises(ik.DialectError) as caught:
            ik.parse_row(row, dialect=dialect)
        assert caught.value.loc in ("$.images[2]", "$.images[0]")
        assert "saved to files" in str(caught.value)


def test_rows_without_an_images_column_keep_placeholder_text() -> None:
    row = {
        "conversations": [
            {"from": "human", "value": "Is <image> HTML?"},
            {"from": "gpt", "value": "No."},
        ]
    }
    chat, report = _read(row, "sharegpt")
    assert chat.messages[0].content == "Is <image> HTML?"
    assert not report
    assert ik.to_row(chat, dialect="sharegpt") == row


def test_empty_images_column_is_reported_as_dropped() -> None:
    row = {
        "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}],
        "images": [],
    }
    chat, report = _read(row, "sharegpt")
    assert [(loss.kind, loss.field) for loss in report] == [("dropped", "$.images")]
    assert "images" not in ik.to_row(chat, dialect="sharegpt")


def test_writing_reports_detail_and_merged_text_parts() -> None:
    chat = ik.Conversation(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look "},
                    {"type": "text", "text": "here: "},
                    {"type": "image", "url": "a.png", "detail": "high"},
                    {"type": "text", "text": ""},
                ],
            },
            {"role": "assistant", "content": "A cat."},
        ]
    )
    report = ik.LossReport()
    row = ik.to_row(chat, dialect="sharegpt", losses=report)
    assert row["conversations"][0]["value"] == "Look here: <image>"
    assert row["images"] == ["a.png"]
    assert {(loss.kind, loss.field) for loss in report} == {
        ("dropped", "$.messages[*].content[*].detail"),
        ("changed", "$.messages[*].content"),
    }
    with pytest.raises(ik.LossyConversionError):
        ik.to_row(chat, dialect="alpaca", strict=True)


def test_literal_placeholder_in_a_record_with_images_is_refused_located() -> None:
    chat = ik.Conversation(
        messages=[
            {
                "role": "user",
                "content": [{"type": "image", "url": "a.png"}, {"type": "text", "text": "Hi"}],
            },
            {"role": "assistant", "content": "Say <image> to me."},
            {"role": "user", "content": [{"type": "text", "text": "Type <image>."}]},
            {"role": "assistant", "content": "Done."},
        ]
    )
    with pytest.raises(ik.DialectError) as caught:
        ik.to_row(chat, dialect="sharegpt")
    assert caught.value.loc == "$.messages[1].content"
    fixed = chat.model_copy(
        update={
            "messages": (
                chat.messages[0],
                ik.Message(role="assistant", content="Ok."),
                *chat.messages[2:],
            )
        }
    )
    with pytest.raises(ik.DialectError) as inside:
        ik.to_row(fixed, dialect="alpaca")
    assert inside.value.loc == "$.messages[2].content[0].text"
    # Without images there is no images column, so the text reads back as text.
    plain = ik.Conversation(
        messages=[
            chat.messages[1].model_copy(update={"role": "user"}),
            {"role": "assistant", "content": "Ok."},
        ]
    )
    assert ik.parse_row(ik.to_row(plain, dialect="sharegpt"), dialect="sharegpt") == plain


def test_dataset_info_maps_the_images_column(tmp_path: Path) -> None:
    chat, _ = _read(SHAREGPT_VISION, "sharegpt")
    ik.write([chat], tmp_path / "vision.jsonl", dialect="sharegpt")
    entry = ik.dialects.llama_factory_dataset_info(path=tmp_path / "vision.jsonl")
    assert entry["columns"] == {"messages": "conversations", "images": "images"}
    renamed = {"images": "pictures"}
    ik.write([chat], tmp_path / "renamed.jsonl", dialect="sharegpt", column_map=renamed)
    entry = ik.dialects.llama_factory_dataset_info(
        path=tmp_path / "renamed.jsonl", column_map=renamed
    )
    assert entry["columns"]["images"] == "pictures"
    record, _ = _read(ALPACA_VISION, "alpaca")
    ik.write([record], tmp_path / "alpaca.json", dialect="alpaca")
    entry = ik.dialects.llama_factory_dataset_info(path=tmp_path / "alpaca.json")
    assert entry["columns"]["images"] == "images"


# -- TRL: {"type": "image"} parts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "layout"),
    [
        (TRL_VISION, "conversational_language_modeling"),
        (TRL_VISION_DPO, "conversational_preference"),
        (
            {
                "prompt": TRL_VISION["messages"][:1],
                "completion": TRL_VISION["messages"][1:],
                "images": ["cat.png"],
            },
            "conversational_prompt_completion",
        ),
    ],
)
def test_trl_vision_rows_read_as_image_parts_and_come_back(
    row: dict[str, Any], layout: str
) -> None:
    guess = ik.detect_dialect([row] * 3)
    assert (guess.dialect, guess.layout, guess.confidence) == ("trl", layout, 1.0)
    record, report = _read(row, "trl")
    assert not report, report.summary()
    first = record.messages[0] if isinstance(record, ik.Conversation) else record.prompt[0]
    assert first.content[0] == ik.ImagePart(url="cat.png")
    assert ik.to_row(record, dialect="trl") == row


def test_trl_rows_of_text_turns_get_their_images_before_the_first_user_text() -> None:
    row = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is it?"},
            {"role": "assistant", "content": "A cat."},
        ],
        "images": ["cat.png", "dog.png"],
    }
    guess = ik.detect_dialect([row])
    assert (guess.dialect, guess.confidence) == ("trl", 1.0)
    chat, report = _read(row, "trl")
    assert chat.messages[1].content == (
        ik.ImagePart(url="cat.png"),
        ik.ImagePart(url="dog.png"),
        ik.TextPart(text="What is it?"),
    )
    assert [(loss.kind, loss.field) for loss in report] == [("changed", "$.messages[*].content")]
    back = ik.to_row(chat, dialect="trl")
    assert back["messages"][1]["content"][:2] == [{"type": "image"}, {"type": "image"}]


def test_trl_rows_with_images_write_user_text_as_parts_so_trl_binds_no_more() -> None:
    chat = ik.Conversation(
        messages=[
            {"role": "user", "content": [{"type": "image", "url": "a.png"}]},
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": "And now?"},
            {"role": "assistant", "content": "Still a cat."},
        ]
    )
    report = ik.LossReport()
    row = ik.to_row(chat, dialect="trl", losses=report)
    assert row["messages"][2]["content"] == [{"type": "text", "text": "And now?"}]
    assert row["messages"][1]["content"] == "A cat."
    assert [(loss.kind, loss.field) for loss in report] == [("changed", "$.messages[*].content")]
    # The row as it would be with plain user text: TRL would put the image before it too.
    mixed = {
        **row,
        "messages": [*row["messages"][:2], chat.to_dict()["messages"][2], row["messages"][3]],
    }
    with pytest.raises(ik.DialectError) as caught:
        ik.parse_row(mixed, dialect="trl")
    assert caught.value.loc == "$.messages[2].content"


def test_trl_images_outside_the_prompt_or_in_other_layouts_are_refused() -> None:
    in_completion = {
        "prompt": [{"role": "user", "content": "Hi"}],
        "completion": [
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": [{"type": "image"}]},
        ],
        "images": ["a.png"],
    }
    with pytest.raises(ik.DialectError) as caught:
        ik.parse_row(in_completion, dialect="trl")
    assert caught.value.loc == "$.completion[1].content[0]"
    standard = {"prompt": "Describe.", "completion": "A cat.", "images": ["a.png"]}
    with pytest.raises(ik.DialectError) as refused:
        ik.parse_row(standard, dialect="trl")
    assert refused.value.loc == "$.images"
    pair, _ = _read(TRL_VISION_DPO, "trl")
    with pytest.raises(ik.DialectError) as implicit:
        ik.to_row(pair, dialect="trl", layout="conversational_implicit_preference")
    assert implicit.value.loc == "$.prompt"
    continued = ik.Preference(
        prompt=[{"role": "user", "content": "Hi"}],
        chosen=[
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": [{"type": "image", "url": "a.png"}]},
            {"role": "assistant", "content": "A cat."},
        ],
        rejected=[{"role": "assistant", "content": "Bye"}],
    )
    with pytest.raises(ik.DialectError) as side:
        ik.to_row(continued, dialect="trl")
    assert side.value.loc == "$.chosen[1].content[0]"


def test_trl_image_part_holding_a_path_is_kept_and_reported() -> None:
    row = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image", "image": "cat.png"}, {"type": "text", "text": "?"}],
            },
            {"role": "assistant", "content": "A cat."},
        ]
    }
    chat, report = _read(row, "trl")
    assert chat.messages[0].content[0] == ik.ImagePart(url="cat.png")
    assert [loss.kind for loss in report] == ["changed"]
    assert ik.to_row(chat, dialect="trl")["images"] == ["cat.png"]


def test_openai_image_placeholders_are_still_not_openai_images() -> None:
    # OpenAI's images are image_url parts; a TRL placeholder there is another part kind.
    chat, report = _read({"messages": TRL_VISION["messages"]}, "openai")
    assert chat.messages[0].content == (ik.TextPart(text="What is it?"),)
    assert [loss.kind for loss in report] == ["dropped"]


# -- Parquet: images as list<string> --------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "row"),
    [("sharegpt", SHAREGPT_VISION), ("alpaca", ALPACA_VISION), ("trl", TRL_VISION)],
)
def test_parquet_files_hold_images_as_a_list_of_strings(
    tmp_path: Path, dialect: str, row: dict[str, Any]
) -> None:
    record = ik.parse_row(row, dialect=dialect)
    path = tmp_path / f"{dialect}.parquet"
    ik.write([record, record], path, dialect=dialect)
    assert pq.read_schema(path).field("images").type == pa.list_(pa.string())
    with ik.read(path, dialect=dialect) as reader:
        assert [ik.to_row(r, dialect=dialect) for r in reader] == [row, row]


# -- generated rows -------------------------------------------------------------------------


def _with_image(chat: ik.Conversation) -> ik.Conversation:
    """The conversation with an image before the first user turn's content."""
    index = next(i for i, m in enumerate(chat.messages) if m.role == "user")
    content = chat.messages[index].content
    parts = (ik.TextPart(text=content),) if isinstance(content, str) else content
    turn = chat.messages[index].model_copy(
        update={"content": (ik.ImagePart(url="images/0.jpg"), *(parts or ()))}
    )
    messages = (*chat.messages[:index], turn, *chat.messages[index + 1 :])
    return chat.model_copy(update={"messages": messages})


VISION_TEXT = iks.texts().map(lambda text: text.replace("<image>", "<image >"))


@pytest.mark.parametrize("dialect", ["sharegpt", "alpaca", "trl"])
@settings(max_examples=15)
@given(data=st.data())
def test_generated_image_rows_come_back_exactly(dialect: str, data: st.DataObject) -> None:
    chats = iks.conversations(
        max_system_turns=0, max_tool_calls=0, content_parts=True, text=VISION_TEXT
    ).map(_with_image)
    row = data.draw(iks.dialect_rows(dialect=dialect, records=chats))
    assert row["images"][0] == "images/0.jpg"
    report = ik.LossReport()
    record = ik.parse_row(row, dialect=dialect, losses=report)
    assert not report, report.summary()
    assert ik.to_row(record, dialect=dialect) == row
    assert ik.detect_dialect([row]).dialect == dialect
