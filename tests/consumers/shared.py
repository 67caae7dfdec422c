"""What the consumer tests share: records per layout, files written and loaded, row comparison.

Records come from `instructkit.strategies` with empty meta: meta becomes free-form columns,
whose types across rows are the user's business, not the layout's.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
from hypothesis import Phase, settings
from hypothesis import strategies as st

import instructkit as ik
from instructkit.strategies import conversations, instructions, messages, preferences

FORMATS = ("jsonl", "parquet")

# Every example writes a file and loads it with a third-party reader (a tenth of a second or
# more), so the consumer tests draw few examples and do not shrink: shrinking a failure would
# cost hundreds of loads. A failure is reported as drawn, explicit examples first.
CONSUMER_SETTINGS = settings(
    max_examples=3, phases=(Phase.explicit, Phase.reuse, Phase.generate), deadline=None
)

NO_META: st.SearchStrategy[dict[str, Any]] = st.just({})


def _single_turn(role: str) -> st.SearchStrategy[ik.Record]:
    return st.builds(
        lambda message: ik.Conversation(messages=[message]),
        messages(roles=st.just(role), max_tool_calls=0),
    )


_PLAIN_PAIRS = preferences(
    max_prompt_exchanges=0,
    max_system_turns=0,
    max_tool_calls=0,
    shapes=st.sampled_from(("independent", "identical", "text_prefix")),
    meta=NO_META,
)


def _files(*kinds: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    # One record type per file: a Parquet file has one schema.
    return st.one_of([st.lists(kind, min_size=1, max_size=3) for kind in kinds])


_CHAT_FILES = _files(conversations(meta=NO_META), instructions(meta=NO_META))

TRL_FILES: dict[str, st.SearchStrategy[list[Any]]] = {
    # Each TRL layout holds one shape of record: files of records of that shape, per layout.
    "conversational_language_modeling": _CHAT_FILES,
    "standard_language_modeling": _files(_single_turn("assistant")),
    "conversational_prompt_only": _files(conversations(meta=NO_META)),
    "standard_prompt_only": _files(_single_turn("user")),
    "conversational_prompt_completion": _CHAT_FILES,
    "standard_prompt_completion": _files(
        instructions(systems=st.none(), meta=NO_META), _single_turn("assistant")
    ),
    # Prompt-less pairs are tried on their own (test_trl_takes_prompt_less_pairs).
    "conversational_preference": _files(
        preferences(meta=NO_META).filter(lambda pair: bool(pair.prompt))
    ),
    "standard_preference": _files(_PLAIN_PAIRS),
    # TRL finds an implicit prompt as the longest shared start of the two transcripts, and
    # fails on pairs whose sides share everything or nothing (an empty prompt or completion):
    # those pairs belong in the explicit layout.
    "conversational_implicit_preference": _files(
        preferences(meta=NO_META, shapes=st.sampled_from(("independent", "text_prefix"))).filter(
            lambda pair: bool(pair.prompt) and pair.chosen[0] != pair.rejected[0]
        )
    ),
    "standard_implicit_preference": _files(_PLAIN_PAIRS),
}
TRL_LAYOUTS = tuple(TRL_FILES)

# Tool schemas and tool-call arguments whose keys differ between rows: a columnar writer that
# merges them into one struct type gives each row the other rows' keys, as nulls.
_WEATHER = '{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}'
_ADD = '{"type": "function", "function": {"name": "add", "description": "Adds."}}'
_NO_PROPERTIES = (
    '{"type": "function", "function": {"name": "now", "parameters": {"type": "object", '
    '"properties": {}}}}'
)
TOOL_CHATS = [
    ik.Conversation(
        messages=[
            ik.Message(role="user", content="Weather in Oslo?"),
            ik.Message(
                role="assistant",
                content=None,
                tool_calls=[ik.ToolCall(id="c1", name="weather", arguments='{"city": "Oslo"}')],
            ),
            ik.Message(role="tool", content="Cloudy.", tool_call_id="c1"),
            ik.Message(role="assistant", content="It is cloudy."),
        ],
        tools=[_WEATHER],
    ),
    ik.Conversation(
        messages=[
            ik.Message(role="user", content="1 + 2?"),
            ik.Message(
                role="assistant",
                content=None,
                tool_calls=[ik.ToolCall(id="c2", name="add", arguments='{"a": 1, "b": 2}')],
            ),
            ik.Message(role="tool", content="3", tool_call_id="c2"),
            ik.Message(role="assistant", content="3."),
        ],
        tools=[_ADD],
    ),
]
TOOL_PREFERENCES = [
    ik.Preference(
        prompt=chat.messages[:1],
        chosen=chat.messages[1:],
        rejected=[ik.Message(role="assistant", content="I cannot tell.")],
        tools=chat.tools,
    )
    for chat in TOOL_CHATS
]


PLAIN_TOOL_PAIRS = [
    ik.Preference(
        prompt=[ik.Message(role="user", content="Which tool?")],
        chosen=[ik.Message(role="assistant", content=name)],
        rejected=[ik.Message(role="assistant", content="None.")],
        tools=[tool],
    )
    for name, tool in (("weather", _WEATHER), ("add", _ADD), ("now", _NO_PROPERTIES))
]
# Tool-call arguments with a float that datasets' JSON reader parses imprecisely.
FLOAT_CALLS = [
    ik.Conversation(
        messages=[
            ik.Message(role="user", content="Scale it."),
            ik.Message(
                role="assistant",
                content=None,
                tool_calls=[
                    ik.ToolCall(id="c3", name="scale", arguments='{"by": 1.192092896e-07}')
                ],
            ),
            ik.Message(role="tool", content="done", tool_call_id="c3"),
            ik.Message(role="assistant", content="Scaled."),
        ]
    )
]
FLOAT_PREFERENCES = [
    ik.Preference(prompt=chat.messages[:1], chosen=chat.messages[1:], rejected=chat.messages[3:])
    for chat in FLOAT_CALLS
]
# Weights 1 and 0.5 in one column: Arrow holds both only as floats.
WEIGHTED_PAIRS = [
    ik.Preference(
        prompt=[ik.Message(role="user", content="Say hi.")],
        chosen=[ik.Message(role="assistant", content="Hi!", weight=weight)],
        rejected=[ik.Message(role="assistant", content="No.")],
    )
    for weight in (1.0, 0.5)
]
# An instruction with an input: written as one user turn, with bookkeeping of where the
# input starts that must stay out of third-party files.
WITH_INPUT = [ik.Instruction(instruction="Add the numbers.", input="2 and 2", response="4")]


def write_and_load(records: list[Any], folder: Path, fmt: str, **write_args: Any) -> Any:
    """Write ``records`` with ``ik.write`` and load the file with ``datasets.load_dataset``."""
    import datasets

    path = folder / f"train.{fmt}"
    ik.write(records, path, **write_args)
    builder = "json" if fmt == "jsonl" else "parquet"
    return datasets.load_dataset(
        builder, data_files=str(path), split="train", cache_dir=str(folder / "cache")
    )


def as_loaded(row: dict[str, Any], loaded: Any, fmt: str) -> dict[str, Any]:
    """``row`` as ``datasets``' JSON reader gives it back, for comparing with a loaded row.

    instructkit writes every number's exact JSON text (reading a line with any JSON parser
    gives the row again; see ``test_trl_jsonl_lines_hold_exact_arguments``). But when a
    column's objects differ in shape, the reader re-encodes the lines with its ujson helper
    before parsing them, which keeps 10 significant digits (``1.192092896e-07`` comes back as
    ``1.1920000000000001e-07``, the largest double as ``inf``), and types those columns
    ``Json``. That is the
    reader's doing, not the file's: docs/trainers.md says to write Parquet for exact numbers.
    """
    if "Json(" not in repr(loaded.features):
        return row
    from datasets.utils.json import ujson_dumps, ujson_loads

    if fmt != "jsonl":
        # Parquet holds the exact JSON text; datasets decodes a Json value with the same
        # helper, so its floats come back as that helper parses them.
        decoded: dict[str, Any] = ujson_loads(orjson.dumps(row).decode())
        return decoded

    # Encoded by the reader, and decoded again by the same helper when a Json value is read.
    again: dict[str, Any] = ujson_loads(ujson_dumps(ujson_loads(orjson.dumps(row).decode())))
    return again


# Keys of objects whose absence and a null mean the same to every reader: a columnar file
# gives every row all columns, every message all message keys, every tool call all call keys.
_NULLABLE_LEVELS = ("row", "message", "call", "function", "part")
# Values a columnar writer may keep as JSON text (one string column) instead of a JSON value.
_JSON_TEXT_KEYS = ("tools", "arguments", "input")


def difference(
    loaded: Any, written: Any, *, level: str = "row", key: str = "", at: str = "$"
) -> str:
    """Where a row as a reader loaded it differs from the row instructkit meant to write.

    Returns ``""`` when they hold the same data. Nulls may stand for absent keys of rows,
    messages, tool calls and content parts (a columnar file has one shape per column), and
    ``tools`` or tool-call ``arguments`` may be JSON text of the written value. Nothing else
    may differ: inside tool schemas and tool-call arguments every key is the data's own, so a
    key that a row gained there (even as null) changes the data.
    """
    if key in _JSON_TEXT_KEYS and isinstance(loaded, str) and not isinstance(written, str):
        try:
            loaded = orjson.loads(loaded)
        except orjson.JSONDecodeError:
            return f"{at}: {loaded!r} is not JSON text"
    if isinstance(written, dict):
        if not isinstance(loaded, dict):
            return f"{at}: loaded {loaded!r}, wrote an object"
        nullable = level in _NULLABLE_LEVELS
        for name in sorted(loaded.keys() - written.keys()):
            if not (nullable and loaded[name] is None):
                return f"{at}.{name}: loaded {loaded[name]!r}, wrote no such key"
        for name, value in written.items():
            if name not in loaded:
                return f"{at}.{name}: missing"
            found = difference(
                loaded[name], value, level=_child(level, name), key=name, at=f"{at}.{name}"
            )
            if found:
                return found
        return ""
    if isinstance(written, list):
        if not isinstance(loaded, list) or len(loaded) != len(written):
            return f"{at}: loaded {loaded!r}, wrote {written!r}"
        child = _item_level(level, key)
        for index, (a, b) in enumerate(zip(loaded, written, strict=True)):
            found = difference(a, b, level=child, at=f"{at}[{index}]")
            if found:
                return found
        return ""
    if isinstance(written, (int, float)) and not isinstance(written, bool):
        # A numeric column takes one type (1 next to 0.5 loads as 1.0), and datasets' JSON
        # reader parses some floats imprecisely (0.45828026280515355 as 0.4582802628).
        if (
            isinstance(loaded, (int, float))
            and not isinstance(loaded, bool)
            and math.isclose(loaded, written, rel_tol=1e-3, abs_tol=1e-9)
        ):
            return ""
    elif type(loaded) is type(written) and loaded == written:
        return ""
    return f"{at}: loaded {loaded!r}, wrote {written!r}"


def _child(level: str, name: str) -> str:
    if level == "call" and name == "function":
        return "function"
    if level == "function" and name == "arguments":
        return "data"
    if level in ("row", "message") and name in ("tools",):
        return "data"
    # Other values of a row or message are message lists, content-part lists or OpenAI DPO's
    # `input` object, whose own keys are again row-like.
    return "row" if level in ("row", "message") else level


def _item_level(level: str, key: str) -> str:
    if key == "tool_calls":
        return "call"
    if key == "content":
        return "part"
    if level == "data":
        return "data"
    return "message"
