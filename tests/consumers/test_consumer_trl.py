"""instructkit's `trl` files, fed to TRL's own data utilities and trainers.

Each of the ten TRL layouts is written as JSONL and as Parquet, loaded with
`datasets.load_dataset`, and handed to TRL: `is_conversational` must tell the form,
`maybe_apply_chat_template` must render it, `maybe_extract_prompt` and
`unpair_preference_dataset` must take the preference layouts, and `SFTTrainer` / `DPOTrainer`
must prepare the layouts they train on to exactly the tokens of the rows instructkit meant to
write. The tokenizer and model are tiny and built locally (see ``tiny.py``).
"""

from __future__ import annotations

import gc
import json
import tempfile
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import pytest
from hypothesis import example, given

import instructkit as ik
from consumers import tiny
from consumers.shared import (
    CONSUMER_SETTINGS,
    FLOAT_CALLS,
    FLOAT_PREFERENCES,
    FORMATS,
    PLAIN_TOOL_PAIRS,
    TOOL_CHATS,
    TOOL_PREFERENCES,
    TRL_FILES,
    TRL_LAYOUTS,
    WITH_INPUT,
    as_loaded,
    write_and_load,
)

trl = pytest.importorskip("trl")
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer  # noqa: E402
from trl.data_utils import (  # noqa: E402
    extract_prompt,
    is_conversational,
    maybe_apply_chat_template,
    maybe_extract_prompt,
    prepare_multimodal_messages,
    unpair_preference_dataset,
)

datasets.disable_progress_bars()

pytestmark = [
    # TRL, transformers and torch warn about things a test of data preparation does not use
    # (devices, future defaults); a long failing example is not a failure either.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings(
        "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
    ),
]

SFT_LAYOUTS = [layout for layout in TRL_LAYOUTS if layout.endswith(("modeling", "completion"))]
DPO_LAYOUTS = [layout for layout in TRL_LAYOUTS if layout.endswith("preference")]


def _examples(layout: str) -> list[list[Any]]:
    """Records known to break a writer or reader somewhere, always tried first."""
    found: list[list[Any]] = []
    if layout.startswith("conversational"):
        preference = "preference" in layout
        found.append(TOOL_PREFERENCES if preference else TOOL_CHATS)
        found.append(FLOAT_PREFERENCES if preference else FLOAT_CALLS)
    if layout in ("standard_preference", "standard_implicit_preference"):
        found.append(PLAIN_TOOL_PAIRS)
    if layout.endswith("prompt_completion") or layout == "conversational_language_modeling":
        found.append(WITH_INPUT)
    return found


def _params(layouts: list[str]) -> list[Any]:
    return [
        pytest.param(layout, fmt, id=f"{layout}-{fmt}") for layout in layouts for fmt in FORMATS
    ]


def _property(layout: str, check: Any) -> None:
    @CONSUMER_SETTINGS
    @given(records=TRL_FILES[layout])
    def run(records: list[Any]) -> None:
        check(records)

    for records in _examples(layout):
        run = example(records=records)(run)
    run()


# --- what the trainers should see: the tokens of the rows as written ------------------------


def _render_ids(messages: list[dict[str, Any]], tools: Any, **kwargs: Any) -> list[int]:
    out = tiny.tokenizer().apply_chat_template(
        messages, tools=tools or None, tokenize=True, return_dict=True, **kwargs
    )
    return list(out["input_ids"])


def _text_ids(text: str) -> list[int]:
    return list(tiny.tokenizer()(text=text)["input_ids"])


def _sft_ids(row: dict[str, Any]) -> list[int]:
    eos = tiny.tokenizer().eos_token
    tools = row.get("tools")
    if "messages" in row:
        return _render_ids(row["messages"], tools)
    if "text" in row:
        return _text_ids(row["text"] + eos)
    if isinstance(row["prompt"], list):
        return _render_ids(row["prompt"] + row["completion"], tools)
    return _text_ids(row["prompt"] + row["completion"] + eos)


def _dpo_ids(row: dict[str, Any]) -> tuple[list[int], list[int], list[int]]:
    if "prompt" not in row:
        row = {**row, **extract_prompt(row)}
    eos = tiny.tokenizer().eos_token
    tools = row.get("tools")
    if isinstance(row["prompt"], list):
        prompt = _render_ids(row["prompt"], tools, add_generation_prompt=True)
        chosen = _render_ids(row["prompt"] + row["chosen"], tools)
        rejected = _render_ids(row["prompt"] + row["rejected"], tools)
    else:
        prompt = _text_ids(row["prompt"])
        chosen = _text_ids(row["prompt"] + row["chosen"] + eos)
        rejected = _text_ids(row["prompt"] + row["rejected"] + eos)
    return prompt, chosen[len(prompt) :], rejected[len(prompt) :]


def _args(config: type[Any], folder: str) -> Any:
    return config(output_dir=folder, report_to="none", use_cpu=True, max_length=None)


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize(("layout", "fmt"), _params(list(TRL_LAYOUTS)))
def test_trl_data_utilities_take_every_layout(layout: str, fmt: str) -> None:
    conversational = layout.startswith("conversational")

    def check(records: list[Any]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            loaded = write_and_load(records, Path(folder), fmt, dialect="trl", layout=layout)
            assert not [c for c in loaded.column_names if c.startswith("instructkit.")]
            for row, record in zip(loaded, records, strict=True):
                written = as_loaded(ik.to_row(record, dialect="trl", layout=layout), loaded, fmt)
                assert is_conversational(row) is conversational
                if "preference" in layout:
                    row = {**row, **maybe_extract_prompt(row)}
                    written = {**written, **maybe_extract_prompt(written)}
                # TRL renders the loaded row as it renders the row instructkit meant to write.
                rendered = maybe_apply_chat_template(row, tiny.tokenizer(), tools=row.get("tools"))
                meant = maybe_apply_chat_template(
                    written, tiny.tokenizer(), tools=written.get("tools")
                )
                for key in ("text", "prompt", "completion", "chosen", "rejected"):
                    assert rendered.get(key) == meant.get(key), key
            if layout.endswith("_preference") and "implicit" not in layout:
                unpaired = unpair_preference_dataset(loaded)
                assert len(unpaired) == 2 * len(loaded)
                assert unpaired["label"] == [True] * len(loaded) + [False] * len(loaded)

    _property(layout, check)


@pytest.mark.parametrize(("layout", "fmt"), _params(SFT_LAYOUTS))
def test_sft_trainer_prepares_every_sft_layout(layout: str, fmt: str) -> None:
    def check(records: list[Any]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            loaded = write_and_load(records, Path(folder), fmt, dialect="trl", layout=layout)
            trainer = SFTTrainer(
                model=tiny.model(),
                args=_args(SFTConfig, folder),
                train_dataset=loaded,
                processing_class=tiny.tokenizer(),
            )
            prepared = trainer.train_dataset
            written = [
                as_loaded(ik.to_row(record, dialect="trl", layout=layout), loaded, fmt)
                for record in records
            ]
            assert prepared["input_ids"] == [_sft_ids(row) for row in written]

    _property(layout, check)


IMPLICIT_PARQUET_DPO = (
    "datasets' map fails inside pyarrow ('Length spanned by list offsets larger than values "
    "array') when TRL's extract_prompt builds a prompt column from Parquet turns whose "
    "tool-call arguments are typed Json"
)


def _dpo_params() -> list[Any]:
    # The implicit-prompt Parquet case is pinned by the focused test below instead: the
    # failure needs tool calls in the shared turns, which generated pairs hold only sometimes.
    return [
        pytest.param(
            layout,
            fmt,
            id=f"{layout}-{fmt}",
            marks=[pytest.mark.skip(reason=IMPLICIT_PARQUET_DPO)]
            if (layout, fmt) == ("conversational_implicit_preference", "parquet")
            else [],
        )
        for layout in DPO_LAYOUTS
        for fmt in FORMATS
    ]


@pytest.mark.xfail(strict=True, reason=IMPLICIT_PARQUET_DPO)
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_dpo_takes_implicit_parquet_pairs_with_tool_calls_in_the_prompt() -> None:
    call = ik.ToolCall(
        id="c1", name="f", arguments='{"a": ["x", 1.5, ""], "b": [], "c": [null, 5949, 2.5]}'
    )
    pair = ik.Preference(
        prompt=[
            ik.Message(role="user", content="Q"),
            ik.Message(role="assistant", content="ok", tool_calls=[call]),
            ik.Message(role="tool", content="", tool_call_id="c1"),
            ik.Message(role="assistant", content="A"),
            ik.Message(role="user", content="Q2"),
        ],
        chosen=[ik.Message(role="assistant", content="yes")],
        rejected=[ik.Message(role="assistant", content="no")],
    )
    layout = "conversational_implicit_preference"
    with tempfile.TemporaryDirectory() as folder:
        loaded = write_and_load([pair], Path(folder), "parquet", dialect="trl", layout=layout)
        failure = None
        try:
            prompt = loaded.map(maybe_extract_prompt)["prompt"][0]
        except pa.ArrowInvalid as err:
            failure = f"datasets' map failed: {err}"
        # The failing map leaves a cache file open, reachable from the exception's frames:
        # with those gone, collect it now, under this test's warning filters, rather than in
        # whichever test happens to run next.
        del loaded
        gc.collect()
    assert failure is None, failure
    assert len(prompt) == len(pair.prompt)


@pytest.mark.parametrize(("layout", "fmt"), _dpo_params())
def test_dpo_trainer_prepares_every_preference_layout(layout: str, fmt: str) -> None:
    def check(records: list[Any]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            loaded = write_and_load(records, Path(folder), fmt, dialect="trl", layout=layout)
            trainer = DPOTrainer(
                model=tiny.model(),
                ref_model=tiny.model(),
                args=_args(DPOConfig, folder),
                train_dataset=loaded,
                processing_class=tiny.tokenizer(),
            )
            prepared = trainer.train_dataset
            # For implicit prompts DPOTrainer maps the dataset once more (extract_prompt), and
            # datasets re-encodes Json values with its ujson helper on the way, as its JSON
            # reader does (see as_loaded): floats in arguments keep 10 significant digits.
            seen_as = "jsonl" if "implicit" in layout else fmt
            written = [
                as_loaded(ik.to_row(record, dialect="trl", layout=layout), loaded, seen_as)
                for record in records
            ]
            got = list(
                zip(
                    prepared["prompt_ids"],
                    prepared["chosen_ids"],
                    prepared["rejected_ids"],
                    strict=True,
                )
            )
            assert got == [_dpo_ids(row) for row in written]

    _property(layout, check)


def test_sft_trainer_takes_native_parquet_conversations_with_tools() -> None:
    # instructkit's own Parquet has `messages` and `tools` columns, which TRL reads directly:
    # the tool schemas are typed JSON, so datasets hands them over as the dicts TRL wants.
    # (Native JSONL is the records' own JSON, tools as JSON text; for TRL write dialect="trl".)
    with tempfile.TemporaryDirectory() as folder:
        loaded = write_and_load(TOOL_CHATS, Path(folder), "parquet")
        trainer = SFTTrainer(
            model=tiny.model(),
            args=_args(SFTConfig, folder),
            train_dataset=loaded.select_columns(["messages", "tools"]),
            processing_class=tiny.tokenizer(),
        )
        assert len(trainer.train_dataset) == len(TOOL_CHATS)


def test_trl_takes_prompt_less_pairs() -> None:
    pair = ik.Preference(
        prompt=[],
        chosen=[ik.Message(role="user", content="Hi"), ik.Message(role="assistant", content="A")],
        rejected=[ik.Message(role="user", content="Hi"), ik.Message(role="assistant", content="B")],
    )
    # Written by default as whole conversations: TRL cannot read an empty prompt list.
    row = ik.to_row(pair, dialect="trl")
    assert sorted(row) == ["chosen", "rejected"]
    row = {**row, **maybe_extract_prompt(row)}
    assert is_conversational(row)
    assert row["prompt"] == [{"role": "user", "content": "Hi"}]


def test_trl_jsonl_lines_hold_exact_arguments() -> None:
    # What instructkit guarantees of a TRL JSONL file: each line, read by a JSON parser, is
    # exactly the row (arguments as JSON values, numbers to the last digit). datasets' JSON
    # reader may then re-encode them (see as_loaded in shared.py).
    records = [*TOOL_CHATS, *FLOAT_CALLS]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.jsonl"
        ik.write(records, path, dialect="trl")
        lines = [json.loads(line) for line in path.read_bytes().split(b"\n") if line]
    assert lines == [ik.to_row(record, dialect="trl") for record in records]
    assert lines[-1]["messages"][1]["tool_calls"][0]["function"]["arguments"] == {
        "by": 1.192092896e-07
    }


VISION_CHATS = [
    ik.Conversation(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare "},
                    {"type": "image", "url": "images/cat.png"},
                    {"type": "text", "text": " and "},
                    {"type": "image", "url": "https://example.com/dog.png"},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "A cat, a dog."}]},
        ]
    ),
    ik.Conversation(
        messages=[
            {
                "role": "user",
                "content": [{"type": "image", "url": "a.png"}, {"type": "text", "text": "?"}],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "A."}]},
        ]
    ),
]


def _bound(messages: list[dict[str, Any]]) -> list[Any]:
    """The images TRL bound, in reading order."""
    return [
        part["image"]
        for message in messages
        for part in message["content"]
        if part["type"] == "image"
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_trl_binds_the_images_of_written_vision_rows_in_place(fmt: str) -> None:
    # TRL's vision SFT and DPO collators fill each {"type": "image"} placeholder with the
    # next entry of the images column; the images must land where the records hold them.
    # Every turn holds parts: Arrow gives all turns of a file one content type.
    pair = ik.Preference(
        prompt=VISION_CHATS[1].messages[:1],
        chosen=[{"role": "assistant", "content": [{"type": "text", "text": "A."}]}],
        rejected=[{"role": "assistant", "content": [{"type": "text", "text": "B."}]}],
    )
    with tempfile.TemporaryDirectory() as folder:
        for name in ("sft", "dpo"):
            (Path(folder) / name).mkdir()
        chats = write_and_load(VISION_CHATS, Path(folder) / "sft", fmt, dialect="trl")
        pairs = write_and_load([pair], Path(folder) / "dpo", fmt, dialect="trl")
        assert chats.features["images"] == datasets.List(datasets.Value("string"))
        for row, chat in zip(chats, VISION_CHATS, strict=True):
            filled = prepare_multimodal_messages(row["messages"], images=row["images"])
            wanted = [
                p.url for m in chat.messages for p in m.content if isinstance(p, ik.ImagePart)
            ]
            assert _bound(filled) == wanted
        (row,) = pairs
        assert _bound(prepare_multimodal_messages(row["prompt"], images=row["images"])) == ["a.png"]


def test_trl_places_images_of_text_rows_as_instructkit_reads_them() -> None:
    # A row of text turns with images: TRL puts the images before the first user text.
    # instructkit reads them there (reported) and writes image parts, which TRL binds the same.
    row = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What are these?"},
            {"role": "assistant", "content": "Two cats."},
        ],
        "images": ["a.png", "b.png"],
    }
    written = ik.to_row(ik.parse_row(row, dialect="trl"), dialect="trl")
    assert prepare_multimodal_messages(
        written["messages"], images=written["images"]
    ) == prepare_multimodal_messages(row["messages"], images=row["images"])
