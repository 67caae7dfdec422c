"""Benchmark instructkit's readers and writers against the raw parsers (issue 3, item 6).

Usage (from the repository root, with the project's virtualenv)::

    python benchmarks/run.py                 # full size: 1,000,000 + 200,000 records
    python benchmarks/run.py --scale 0.1     # a tenth of the data, for a quick look
    python benchmarks/run.py --only read_table,pyarrow_read_json

The first run generates ``benchmarks/data/instructions.jsonl`` (about 1.2 GB) and
``benchmarks/data/chats.jsonl`` (gitignored; regenerated when ``--scale`` changes, or with
``--regenerate``). Every case runs in its own fresh Python process so that its peak RSS
(``ru_maxrss``) is its own, and so that no case warms a cache for the next one (except the OS
page cache, which every read case enjoys alike: the generator writes the files just before).
The script prints one Markdown table: throughput in MB/s of the JSONL file size and in
records/s, peak RSS, and each case's speed relative to its baseline.

Data. Instruction records follow the issue's recipe: instruction 60-200 characters, input
empty for 60 % of records else 200-800, response 100-1,500; about one text in ten holds
non-ASCII letters (accented Latin, Cyrillic, CJK) and one in thirty an emoji; quotes,
backslashes, tabs and newlines occur throughout, so JSON escapes are common. Chat records
have 2-8 messages (a system prompt in a third of them, user turns of 20-600 characters,
assistant turns of 100-1,500, and a tool call and its result in one in twenty). Both files
hold instructkit's own JSON rows (``record.to_dict()``), the layout ``instructkit.write``
produces, so every reader parses the same bytes. The generator is seeded: the same scale
gives the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
FULL_INSTRUCTIONS = 1_000_000
FULL_CHATS = 200_000

# --- data generation -----------------------------------------------------------------------

_WORDS = (
    "the of and to in is was for that on as with by it at from this be are or an which "
    "have not had one were all their there been has more when will would who so no model "
    "data train answer question explain write list summarize translate describe compare "
    "function value number result example step first second because however therefore "
    "python code error file table user system response input output language sentence"
).split()
_NON_ASCII = (
    "café naïve résumé Zürich façade über straße ñandú déjà-vu São Paulo "
    "Москва привет данные 東京 数据 模型 训练 こんにちは 한국어 Ελληνικά"
).split()
_EMOJI = ["😀", "🚀", "👍🏽", "🇳🇴", "❤️", "🤖", "✨", "👨‍👩‍👧"]
_PUNCT = ['"', "\\", "\t", "\n", "\n\n", ", ", ". ", "? ", ": ", "'", "(", ")"]


def _text(rng: random.Random, low: int, high: int) -> str:
    target = rng.randint(low, high)
    parts: list[str] = []
    size = 0
    non_ascii = rng.random() < 0.1
    emoji = rng.random() < 1 / 30
    words = _WORDS
    choice = rng.choice
    rand = rng.random
    while size < target:
        if non_ascii and rand() < 0.15:
            word = choice(_NON_ASCII)
        elif emoji and rand() < 0.03:
            word = choice(_EMOJI)
        else:
            word = choice(words)
        parts.append(word)
        parts.append(choice(_PUNCT) if rand() < 0.12 else " ")
        size += len(word) + 1
    return "".join(parts)[:target]


def _instruction_row(rng: random.Random, index: int) -> dict[str, Any]:
    return {
        "instruction": _text(rng, 60, 200),
        "input": "" if rng.random() < 0.6 else _text(rng, 200, 800),
        "response": _text(rng, 100, 1500),
        "system": None,
        "id": f"ins-{index}",
        "meta": {},
    }


def _message(role: str, content: str | None, **extra: Any) -> dict[str, Any]:
    row = {
        "role": role,
        "content": content,
        "name": None,
        "tool_calls": [],
        "tool_call_id": None,
        "reasoning": None,
        "weight": None,
    }
    row.update(extra)
    return row


def _chat_row(rng: random.Random, index: int) -> dict[str, Any]:
    messages = []
    if rng.random() < 1 / 3:
        messages.append(_message("system", _text(rng, 30, 300)))
    turns = rng.randint(1, 4)
    with_tool = rng.random() < 0.05
    for turn in range(turns):
        if len(messages) >= 8:
            break
        messages.append(_message("user", _text(rng, 20, 600)))
        if with_tool and turn == 0 and len(messages) + 3 <= 8:
            call_id = f"call_{index}"
            arguments = json.dumps({"query": _text(rng, 5, 40), "limit": rng.randint(1, 9)})
            messages.append(
                _message(
                    "assistant",
                    None,
                    tool_calls=[{"id": call_id, "name": "search", "arguments": arguments}],
                )
            )
            messages.append(_message("tool", _text(rng, 20, 400), tool_call_id=call_id))
        messages.append(_message("assistant", _text(rng, 100, 1500)))
    tools = [json.dumps({"name": "search", "parameters": {"type": "object"}})] if with_tool else []
    return {"messages": messages[:8], "tools": tools, "id": f"chat-{index}", "meta": {}}


def generate(path: Path, count: int, make: Callable[[random.Random, int], dict[str, Any]]) -> None:
    import orjson

    rng = random.Random(f"{path.name}-{count}")
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb", buffering=1 << 22) as out:
        batch: list[bytes] = []
        for index in range(count):
            batch.append(orjson.dumps(make(rng, index)) + b"\n")
            if len(batch) == 10_000:
                out.write(b"".join(batch))
                batch = []
        out.write(b"".join(batch))
    tmp.replace(path)


def ensure_data(scale: float, regenerate: bool) -> dict[str, tuple[Path, int]]:
    DATA.mkdir(parents=True, exist_ok=True)
    files = {
        "instructions": (DATA / "instructions.jsonl", max(1, round(FULL_INSTRUCTIONS * scale))),
        "chats": (DATA / "chats.jsonl", max(1, round(FULL_CHATS * scale))),
    }
    stamp = DATA / "scale.json"
    known = json.loads(stamp.read_text()) if stamp.exists() else {}
    for name, (path, count) in files.items():
        if regenerate or known.get(name) != count or not path.exists():
            started = time.perf_counter()
            generate(path, count, _instruction_row if name == "instructions" else _chat_row)
            print(
                f"generated {path.relative_to(HERE.parent)}: {count:,} records, "
                f"{path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
            known[name] = count
            stamp.write_text(json.dumps(known))
    return files
