"""Benchmark instructkit's readers and writers against the raw parsers (issue 3, item 6).

Usage (from the repository root, with the project's virtualenv)::

    python benchmarks/run.py                 # full size: 1,000,000 + 200,000 records
    python benchmarks/run.py --scale 0.1     # a tenth of the data, for a quick look
    python benchmarks/run.py --only instructkit_read_table,pyarrow_read_json_explicit
    python benchmarks/run.py --datasets chats --data-dir /tmp/bench

The full run takes about 11 minutes on 2 idle cores, plus 2 minutes to generate the data
the first time: ``benchmarks/data/instructions.jsonl`` (about 1.2 GB) and
``benchmarks/data/chats.jsonl`` (gitignored; regenerated when ``--scale`` changes, or with
``--regenerate``).

Method. Every run of a case is a fresh Python process, so its peak RSS (``ru_maxrss``) is
its own and no case warms a cache for the next. Each process first reads the data file
once, untimed, so every case parses from the OS page cache (the numbers compare parsers,
not the disk). Every case but ``datasets`` then runs once untimed before the timed run
(see ``run_case``: memory first touched in a fresh process is slow in this VM, page cache
included, which made the order of the cases decide the ratios); a write case's warm-up
output is deleted before the timed run. Imports and setup (loading the records or the
table a write case starts from) are not timed; peak RSS covers the whole
process, setup included. Each case runs ``--repeat`` times (default 2; the ``datasets``
cases, which take 15-45 s each and are far from their targets, run once), in rounds that
visit every case in turn, and the fastest run counts, as ``timeit`` does: on a shared
machine the slower runs measure the neighbours. Every run's time is printed. The script
prints one Markdown table: throughput in MB/s of the JSONL file size and in records/s, peak
RSS, and each case's speed relative to its baseline, checked against the targets of issue 3.

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
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
FULL_INSTRUCTIONS = 1_000_000
FULL_CHATS = 200_000

# --- data generation -----------------------------------------------------------------------

_WORDS = (  # noqa: SIM905 - a sentence is easier to read and edit than 75 quoted words
    "the of and to in is was for that on as with by it at from this be are or an which "
    "have not had one were all their there been has more when will would who so no model "
    "data train answer question explain write list summarize translate describe compare "
    "function value number result example step first second because however therefore "
    "python code error file table user system response input output language sentence"
).split()
_NON_ASCII = (  # noqa: SIM905
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


def ensure_data(scale: float, regenerate: bool, folder: Path = DATA) -> dict[str, tuple[Path, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "instructions": (folder / "instructions.jsonl", max(1, round(FULL_INSTRUCTIONS * scale))),
        "chats": (folder / "chats.jsonl", max(1, round(FULL_CHATS * scale))),
    }
    stamp = folder / "scale.json"
    known = json.loads(stamp.read_text()) if stamp.exists() else {}
    for name, (path, count) in files.items():
        if regenerate or known.get(name) != count or not path.exists():
            started = time.perf_counter()
            generate(path, count, _instruction_row if name == "instructions" else _chat_row)
            print(
                f"generated {path}: {count:,} records, "
                f"{path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
            known[name] = count
            stamp.write_text(json.dumps(known))
    return files


# --- the cases, each run in a fresh process -------------------------------------------------


def _plain_models() -> dict[str, Any]:
    """Plain pydantic models of the same rows: the "pydantic per line" baseline."""
    from pydantic import BaseModel

    class ToolCallModel(BaseModel):
        id: str
        name: str
        arguments: str

    class MessageModel(BaseModel):
        role: str
        content: str | None
        name: str | None = None
        tool_calls: list[ToolCallModel] = []
        tool_call_id: str | None = None
        reasoning: str | None = None
        weight: float | None = None

    class InstructionModel(BaseModel):
        instruction: str
        input: str = ""
        response: str
        system: str | None = None
        id: str | None = None
        meta: dict[str, Any] = {}

    class ConversationModel(BaseModel):
        messages: list[MessageModel]
        tools: list[str] = []
        id: str | None = None
        meta: dict[str, Any] = {}

    return {"instructions": InstructionModel, "chats": ConversationModel}


def _record_type(dataset: str) -> Any:
    import instructkit

    return instructkit.Instruction if dataset == "instructions" else instructkit.Conversation


def _load_records(path: Path, dataset: str) -> list[Any]:
    kind = _record_type(dataset)
    with open(path, "rb") as handle:
        return [kind.model_validate_json(line) for line in handle]


def _load_dicts(path: Path) -> list[Any]:
    import orjson

    with open(path, "rb") as handle:
        return [orjson.loads(line) for line in handle]


def _explicit_schema(dataset: str) -> Any:
    import pyarrow as pa

    import instructkit

    # Every column of the fixed schema but meta, which is an object in JSONL and cannot be
    # given a type in advance (pyarrow infers it). The storage form: pyarrow's JSON reader
    # cannot parse into the JSON extension type, and the JSONL holds that JSON as text.
    schema = instructkit.arrow.storage_schema(instructkit.arrow.arrow_schema(_record_type(dataset)))
    return pa.schema([f for f in schema if f.name != "meta"])


def run_case(case: str, path: Path, dataset: str, out_dir: Path) -> dict[str, Any]:
    """Run one case in this process; return its time (seconds) and record count."""
    setup: Any = None
    if case in ("instructkit_write_jsonl", "instructkit_write_parquet"):
        setup = _load_records(path, dataset)
    elif case in ("orjson_dumps_loop", "orjson_dumps_loop_fsync"):
        setup = _load_dicts(path)
    elif case == "pyarrow_write_table":
        import instructkit

        setup = instructkit.to_arrow(_load_records(path, dataset))
    # Imports happen before the clock starts: the cases measure work, not start-up
    # (`import datasets` alone takes seconds).
    import orjson  # noqa: F401
    import pyarrow.json
    import pyarrow.parquet  # noqa: F401

    import instructkit

    if case.startswith("datasets"):
        import datasets  # noqa: F401
    _warm(path)
    out = out_dir / f"{case}.out"
    # One untimed run first. In this VM a process's first touch of memory that no process
    # used recently is slow (the host backs guest pages lazily): a case that allocates
    # gigabytes ran seconds slower right after a small case than right after a large one,
    # and the first of two write cases ran seconds slower than the second (each writes
    # a gigabyte into the page cache), so the order of cases decided the ratios. After one
    # run, every case is timed in its steady state. The warm-up's output is deleted first,
    # so every write case starts with the same free page cache.
    if case in _WARM_UP:
        _CASES[case](path, dataset, setup, out)
        for written in out_dir.glob(f"{case}.*"):
            written.unlink()
    started = time.perf_counter()
    count = _CASES[case](path, dataset, setup, out)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "records": count}


def _warm(path: Path) -> None:
    # Read the file once, untimed, so every case parses from the page cache: the numbers
    # compare parsers, not the disk (this VM reclaims cold page cache proactively).
    with open(path, "rb") as handle:
        while handle.read(1 << 24):
            pass


def _typed_read(path: Path, dataset: str, setup: Any, out: Path) -> int:
    import instructkit

    count = 0
    with instructkit.read(path) as records:
        for _ in records:
            count += 1
    return count


def _orjson_lines(path: Path, dataset: str, setup: Any, out: Path) -> int:
    import orjson

    loads = orjson.loads
    count = 0
    with open(path, "rb") as handle:
        for line in handle:
            loads(line)
            count += 1
    return count


def _orjson_lines_proof(path: Path, dataset: str, setup: Any, out: Path) -> int:
    # The floor under any reader that reports repeated keys, as issue 3 requires: parse,
    # then prove the line repeats no key by comparing it with orjson's rendering of what it
    # parsed to (instructkit's cheapest proof, complete for every line of these files). No
    # records are built.
    import orjson

    loads = orjson.loads
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE  # the lines keep their b"\n"
    count = 0
    with open(path, "rb") as handle:
        for line in handle:
            if line != dumps(loads(line), option=newline):
                raise AssertionError(f"line {count + 1} is not orjson's rendering")
            count += 1
    return count


def _pydantic_lines(path: Path, dataset: str, setup: Any, out: Path) -> int:
    validate = _plain_models()[dataset].model_validate_json
    count = 0
    with open(path, "rb") as handle:
        for line in handle:
            validate(line)
            count += 1
    return count


def _datasets_load(path: Path, out: Path) -> Any:
    import datasets

    datasets.disable_progress_bars()
    cache = out.with_suffix(".cache")
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache))


def _datasets_cold(path: Path, dataset: str, setup: Any, out: Path) -> int:
    return len(_datasets_load(path, out))


def _datasets_iterate(path: Path, dataset: str, setup: Any, out: Path) -> int:
    count = 0
    for _row in _datasets_load(path, out):
        count += 1
    return count


def _read_table(path: Path, dataset: str, setup: Any, out: Path) -> int:
    import instructkit

    return int(instructkit.read_table(path).num_rows)


def _pyarrow_read_json(path: Path, dataset: str, setup: Any, out: Path) -> int:
    import pyarrow.json as pj

    options = pj.ParseOptions(explicit_schema=_explicit_schema(dataset))
    return int(pj.read_json(path, parse_options=options).num_rows)


def _write_jsonl(path: Path, dataset: str, setup: Any, out: Path) -> int:
    import instructkit

    return int(instructkit.write(setup, out.with_suffix(".jsonl")).rows)


def _orjson_dumps(path: Path, dataset: str, setup: Any, out: Path) -> int:
    import orjson

    dumps = orjson.dumps
    with open(out.with_suffix(".jsonl"), "wb", buffering=1 << 20) as handle:
        for row in setup:
            handle.write(dumps(row) + b"\n")
    return len(setup)


def _orjson_dumps_fsync(path: Path, dataset: str, setup: Any, out: Path) -> int:
    # The same loop made as durable as instructkit.write: fsync before the file counts as
    # written. Not a target's baseline; it shows what durability costs on this machine.
    count = _orjson_dumps(path, dataset, setup, out)
    descriptor = os.open(out.with_suffix(".jsonl"), os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return count


def _write_parquet(path: Path, dataset: str, setup: Any, out: Path) -> int:
    import instructkit

    return int(instructkit.write(setup, out.with_suffix(".parquet")).rows)


def _pq_write_table(path: Path, dataset: str, setup: Any, out: Path) -> int:
    import pyarrow.parquet as pq

    pq.write_table(setup, out.with_suffix(".parquet"), compression="zstd")
    return int(setup.num_rows)


_WARM_UP = {
    "instructkit_typed_read",
    "orjson_loads_per_line",
    "orjson_loads_duplicate_proof",
    "pydantic_validate_json_per_line",
    "instructkit_read_table",
    "pyarrow_read_json_explicit",
    "instructkit_write_jsonl",
    "orjson_dumps_loop",
    "orjson_dumps_loop_fsync",
    "instructkit_write_parquet",
    "pyarrow_write_table",
}
"""Cases that run once untimed before the timed run: all but the datasets cases, which are
minutes long and far from their targets."""

_CASES: dict[str, Callable[[Path, str, Any, Path], int]] = {
    "instructkit_typed_read": _typed_read,
    "orjson_loads_per_line": _orjson_lines,
    "orjson_loads_duplicate_proof": _orjson_lines_proof,
    "pydantic_validate_json_per_line": _pydantic_lines,
    "datasets_load_cold": _datasets_cold,
    "datasets_load_and_iterate": _datasets_iterate,
    "instructkit_read_table": _read_table,
    "pyarrow_read_json_explicit": _pyarrow_read_json,
    "instructkit_write_jsonl": _write_jsonl,
    "orjson_dumps_loop": _orjson_dumps,
    "orjson_dumps_loop_fsync": _orjson_dumps_fsync,
    "instructkit_write_parquet": _write_parquet,
    "pyarrow_write_table": _pq_write_table,
}

# Each target: (case, baseline, required ratio of throughputs) as in issue 3.
TARGETS = [
    ("instructkit_typed_read", "orjson_loads_per_line", 0.6),
    ("instructkit_typed_read", "datasets_load_and_iterate", 4.0),
    ("instructkit_read_table", "pyarrow_read_json_explicit", 0.8),
    ("instructkit_read_table", "datasets_load_cold", 2.0),
    ("instructkit_write_jsonl", "orjson_dumps_loop", 0.8),
    ("instructkit_write_parquet", "pyarrow_write_table", 0.8),
]

# Comparisons printed for reference, without a target: each with a baseline that does the
# part of the work the targets' baselines leave out (the duplicate-key proof; the fsync).
REFERENCES = [
    ("instructkit_typed_read", "orjson_loads_duplicate_proof"),
    ("instructkit_write_jsonl", "orjson_dumps_loop_fsync"),
]

LABELS = {
    "instructkit_typed_read": "instructkit.read (typed records, streaming)",
    "orjson_loads_per_line": "orjson.loads per line",
    "orjson_loads_duplicate_proof": "orjson.loads + duplicate-key proof per line (no records)",
    "pydantic_validate_json_per_line": "pydantic model_validate_json per line",
    "datasets_load_cold": "datasets.load_dataset('json'), cold cache",
    "datasets_load_and_iterate": "datasets.load_dataset + iterate rows as dicts",
    "instructkit_read_table": "instructkit.read_table (validated Arrow)",
    "pyarrow_read_json_explicit": "pyarrow.json.read_json, explicit schema",
    "instructkit_write_jsonl": "instructkit.write .jsonl (from records)",
    "orjson_dumps_loop": "orjson.dumps loop (from plain dicts)",
    "orjson_dumps_loop_fsync": "orjson.dumps loop + fsync (from plain dicts)",
    "instructkit_write_parquet": "instructkit.write .parquet (from records)",
    "pyarrow_write_table": "pyarrow.parquet.write_table (from an Arrow table)",
}


def _child(args: argparse.Namespace) -> None:
    out_dir = Path(args.out_dir)
    result = run_case(args.case, Path(args.path), args.dataset, out_dir)
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    print(json.dumps(result))


def _spawn(case: str, path: Path, dataset: str, out_dir: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--case",
        case,
        "--path",
        str(path),
        "--dataset",
        dataset,
        "--out-dir",
        str(out_dir),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    for leftover in out_dir.iterdir():
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink()
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:120]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _fmt_rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full data")
    parser.add_argument("--only", default="", help="comma-separated case names to run")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs per case (the fastest counts); default 2"
    )
    parser.add_argument("--datasets", default="instructions,chats", help="which data files")
    parser.add_argument("--regenerate", action="store_true", help="regenerate the data files")
    parser.add_argument("--data-dir", default=str(DATA), help="where the data files live")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    data_dir = Path(args.data_dir)
    files = ensure_data(args.scale, args.regenerate, data_dir)
    cases = [c for c in args.only.split(",") if c] or list(_CASES)
    unknown = sorted(set(cases) - set(_CASES))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; known: {sorted(_CASES)}")
    results: dict[tuple[str, str], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=data_dir, prefix="out-") as tmp:
        for dataset in [d for d in args.datasets.split(",") if d]:
            path, _count = files[dataset]
            runs: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
            # Rounds go through every case in turn (not case after case), so a burst of load
            # from elsewhere on the machine hits a case and its baseline alike.
            for round_ in range(args.repeat):
                for case in cases:
                    if round_ and case.startswith("datasets"):
                        continue  # minutes per run, and far from any target: run once
                    result = _spawn(case, path, dataset, Path(tmp))
                    runs[case].append(result)
                    shown = result.get("error") or f"{result['seconds']:.1f} s"
                    print(f"  {dataset:12s} {case:34s} {shown}", file=sys.stderr)
            for case in cases:
                results[(dataset, case)] = _best(runs[case])
    print(_table(results, files))
    print(
        f"\nTotal wall time {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPU(s), "
        f"Python {platform.python_version()}, {_versions()}. Load average (1 min) "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end."
    )


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run (its time and records), with every run's time and the largest RSS."""
    good = [run for run in runs if "error" not in run]
    if not good:
        return runs[0]
    best = dict(min(good, key=lambda run: run["seconds"]))
    best["all_seconds"] = [run["seconds"] for run in good]
    best["peak_rss"] = max(run["peak_rss"] for run in good)
    return best


def _versions() -> str:
    from importlib.metadata import version

    names = ["instructkit", "pyarrow", "orjson", "pydantic", "datasets"]
    return ", ".join(f"{name} {version(name)}" for name in names)


def _table(results: dict[tuple[str, str], dict[str, Any]], files: dict[str, Any]) -> str:
    lines = [
        "| data | case | time (s) | all runs (s) | MB/s | records/s | peak RSS (MB) "
        "| vs baseline |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for (dataset, case), result in results.items():
        path, _count = files[dataset]
        megabytes = path.stat().st_size / 1e6
        if "error" in result:
            lines.append(f"| {dataset} | {LABELS[case]} | failed: {result['error']} | | | | | |")
            continue
        seconds = result["seconds"]
        ratios = []
        for subject, baseline, wanted in TARGETS:
            other = results.get((dataset, baseline))
            if subject != case or not other or "error" in other:
                continue
            ratio = other["seconds"] / seconds
            verdict = "meets" if ratio >= wanted else "misses"
            ratios.append(f"{ratio:.2f}x {baseline} (target {wanted}x: {verdict})")
        for subject, reference in REFERENCES:
            other = results.get((dataset, reference))
            if subject == case and other and "error" not in other:
                ratios.append(f"{other['seconds'] / seconds:.2f}x {reference} (for reference)")
        lines.append(
            f"| {dataset} | {LABELS[case]} | {seconds:.1f} | "
            f"{', '.join(f'{t:.1f}' for t in result['all_seconds'])} | "
            f"{_fmt_rate(megabytes / seconds)} | "
            f"{_fmt_rate(result['records'] / seconds)} | {result['peak_rss'] / 1e6:,.0f} | "
            f"{'; '.join(ratios)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
