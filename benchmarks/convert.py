"""Benchmark template conversion: per-row, columnar, plain loops, Ray Data and datasets.map.

Usage (from the repository root, with the project's virtualenv)::

    python benchmarks/convert.py                    # 200,000 rows (engines 2,000,000)
    python benchmarks/convert.py --rows 20000       # a tenth, for a quick look
    python benchmarks/convert.py --only ray_1,ray_2 --engine-rows 500000
    python benchmarks/convert.py --only convert,str_format_loop --repeat 3
    python benchmarks/convert.py --rss              # stream 10,000,000 rows, report peak RSS
    python benchmarks/convert.py --rss --rss-rows 500000

Optional packages: Jinja2 for the promptsource-style case (a benchmark dependency only,
never one of the library's), Ray Data and Hugging Face ``datasets`` for the engine cases::

    pip install jinja2 "ray[data]" datasets

A case whose package (or whose instructkit function) is missing prints "not available".

Input. One NLI task: ``--rows`` SNLI-like rows (``id``, ``premise``, ``hypothesis``,
``label`` in 0-2), generated from a seeded word list, so the same ``--rows`` gives the same
rows; premises of 8-30 words, hypotheses of 4-14. Every case renders them with the 10
built-in NLI templates, one template per row, answer options on half the rows
(``options=0.5``), ``seed=0``, ``dataset="snli"``.

Cases.

- ``convert``: ``instructkit.convert`` over a list of row dicts, every record taken.
- ``convert_table``: ``instructkit.templates.convert_table`` over the rows as one Arrow table
  (the columnar path: the seeded picks drawn for the whole table, each text column one
  Arrow string join in row order).
- ``str_format_loop``: the plain Python loop: the template picked by a stable hash (BLAKE2b
  of seed, dataset and example id; options on half the rows by other bits of the same hash),
  ``str.format_map`` on the row dict, one output dict per row. It does what a hand-written
  script does, and less than ``convert``: one fixed options block, no provenance, no
  records, no validation.
- ``jinja2_promptsource``: the same picks, rendering promptsource-style Jinja2 templates
  (``premise ... ||| {{ answer_choices[label] }}``, the instruction and response split at
  ``|||``), compiled once before timing.
- ``ray_1``, ``ray_2``: Ray Data, ``ray.init(num_cpus=N)``, the rows in ``BLOCKS`` (16)
  even blocks put in the object store before timing, ``instructkit.ray.convert`` with its
  defaults (``map_batches(BatchConverter(...), batch_format="pyarrow")`` in batches of
  65,536 rows), materialized.
- ``datasets_map_1``, ``datasets_map_2``: ``datasets.load_from_disk(copy).with_format("arrow")
  .map(BatchConverter(...), batched=True, batch_size=65_536, num_proc=N, remove_columns=...)``
  over a memory-mapped copy of the rows (as ``load_dataset`` gives a dataset), into a fresh
  result file every run.

The engine cases (Ray and ``datasets``) convert ``--engine-rows`` rows, 2,000,000 by
default: a job on an engine has fixed costs (scheduling, a process pool, result files)
that real jobs of millions of rows amortise, and on a 200,000-row job, which one process
converts in well under a second, they would decide the ratio. Their input is generated
once into ``--data-dir`` (a Parquet file and a ``datasets`` copy of it), untimed, in a
process of its own. Both worker counts of an engine convert the same rows the same way;
only ``N`` differs.

Method. Every run of a case is a fresh Python process (its peak RSS is its own, and no case
warms a cache for the next). The rows are generated and the templates compiled before
timing; then each case converts the first 2,000 rows once untimed (imports, caches, a Ray
cluster's start; for Ray, the run then waits until the cluster's processes are idle, as
Ray Data's own actors spend a second of CPU starting up after the first job), and the timed
run converts all of them. The single-process cases convert all of the rows twice and the
second run counts: the first pays for memory the fresh process has not yet obtained from
the system, a cost a long job pays once, not per batch (the table shows it as "first run").
Besides its wall time, each run records the CPU seconds of its
processes (itself, a pool's, a Ray cluster's) and of the rest of the machine meanwhile
(Linux; from ``/proc``): the table shows them per second of wall time as "cores" and
"others' cores". Linux shares the CPU between sessions before it shares it between their
processes, so while anything else keeps a core busy, a 2-worker run gets about one core
and its ratio says nothing about scaling: trust the engine ratios only from a run whose
"others' cores" stay near 0. Each case runs ``--repeat`` times
(default 2) in rounds that visit every case in turn, and the fastest run counts. The table
gives rows/s and the ratios the targets are stated in: columnar conversion against the plain
loop and against per-row ``convert``, per-row ``convert`` against the plain loop, and each
engine's 2-worker run against its 1-worker run.

``--rss`` instead converts ``--rss-rows`` rows (10,000,000 by default) streamed: a Parquet
file of the rows (generated once into ``--data-dir``, 100,000 rows per row group) is read a
batch at a time with ``pyarrow.parquet.ParquetFile.iter_batches``, each batch converted
(``convert_table`` when it exists, else per-row ``convert``) and written at once to an output
Parquet file (``pyarrow.parquet.ParquetWriter`` for tables, ``instructkit.write`` for the
per-row records, which streams too), in a child process whose peak RSS
(``resource.getrusage``) is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import resource
import shlex
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROWS = 200_000
RSS_ROWS = 10_000_000
SEED = 0
DATASET = "snli"
OPTIONS = 0.5
WARM_UP_ROWS = 2_000
# The engine cases convert more rows: a job on an engine has fixed costs (scheduling, a
# process pool, the results' cache files) that real jobs of millions of rows amortise.
ENGINE_ROWS = 2_000_000
BLOCKS = 16  # Ray blocks: shared evenly by 1 or 2 workers, and one batch each
ENGINE_BATCH = 65_536  # rows per batch on both engines (instructkit.ray.convert's default)

# --- data ----------------------------------------------------------------------------------

_WORDS = (  # noqa: SIM905 - a sentence is easier to read and edit than a list of words
    "a man woman child dog two people group of young old is are playing running sitting "
    "standing walking on in at the near with street beach park stage table ball guitar "
    "red blue green shirt hat jacket while holding looking wearing outside inside water "
    "snow grass city crowd market bicycle car building window music food camera"
).split()


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def snli_rows(count: int, *, start: int = 0) -> Iterator[dict[str, Any]]:
    """SNLI-like rows, the same for the same indices (each row seeded by its index)."""
    for index in range(start, start + count):
        rng = random.Random(index)
        yield {
            "id": f"snli-{index}",
            "premise": _sentence(rng, 8, 30),
            "hypothesis": _sentence(rng, 4, 14),
            "label": rng.randrange(3),
        }


def snli_table(count: int) -> Any:
    import pyarrow as pa

    return pa.Table.from_pylist(list(snli_rows(count)))


def ensure_parquet(count: int, folder: Path) -> Path:
    """The ``--rss`` input: ``count`` rows in a Parquet file, generated once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"snli-{count}.parquet"
    if path.exists():
        return path
    started = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    step = 100_000
    with pq.ParquetWriter(tmp, snli_table(1).schema, compression="zstd") as writer:
        for start in range(0, count, step):
            rows = list(snli_rows(min(step, count - start), start=start))
            writer.write_table(pa.Table.from_pylist(rows), row_group_size=step)
    tmp.replace(path)
    print(
        f"generated {path}: {count:,} rows, {path.stat().st_size / 1e6:,.0f} MB in "
        f"{time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return path


def ensure_datasets(count: int, folder: Path) -> Path:
    """The ``datasets`` cases' input: the Parquet rows saved as a ``datasets`` folder, once.

    ``datasets.load_from_disk`` memory-maps it, as ``load_dataset`` gives a dataset, in
    record batches of 1,000 rows.
    """
    import datasets
    import pyarrow.parquet as pq

    path = folder / f"snli-{count}.datasets"
    if not path.exists():
        source = ensure_parquet(count, folder)
        tmp = path.with_suffix(".tmp")
        datasets.Dataset(pq.read_table(source)).save_to_disk(str(tmp))
        tmp.replace(path)
    return path


# --- what every case renders with ----------------------------------------------------------


def templates() -> list[Any]:
    import instructkit as ik

    return list(ik.templates.builtin_templates("nli"))


def keywords() -> dict[str, Any]:
    return {"seed": SEED, "dataset": DATASET, "options": OPTIONS}


def _picks(example: str, choices: int) -> tuple[int, bool]:
    """The plain loops' seeded picks: a template and whether to show options.

    One stable hash (BLAKE2b of seed, dataset and example id) per row: the template from its
    value modulo ``choices``, the options from its upper 32 bits, as a hand-written script
    would do it.
    """
    digest = hashlib.blake2b(f"{SEED}/{DATASET}/{example}".encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    return value % choices, (value >> 32) / 2**32 < OPTIONS


def _without_options(pattern: str) -> str:
    """The pattern with its ``{options}`` slot and the whitespace around it dropped.

    The whitespace leading into the slot goes, or the whitespace after it when the slot
    opens the pattern, as instructkit renders the without-options variant.
    """
    head, slot, tail = pattern.partition("{options}")
    if not slot:
        return pattern
    return head.rstrip() + tail if head.strip() else tail.lstrip()


_LABELS = ["yes", "it is not possible to tell", "no"]
_OPTIONS_BLOCK = "\n".join(f"- {label}" for label in _LABELS)


def _patterns() -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Per template: (instruction, response) with options, and without."""
    out = []
    for template in templates():
        # The label renders as its answer text, in the instruction of inverted templates too.
        instruction = template.instruction.replace("{label}", "{answer}")
        response = template.response.replace("{label}", "{answer}")
        out.append(((instruction, response), (_without_options(instruction), response)))
    return out


def _jinja_source(pattern: str) -> str:
    """A ``str.format`` pattern as promptsource writes Jinja2: ``{{ field }}``."""
    parts = []
    for literal, field, _spec, _conversion in string.Formatter().parse(pattern):
        parts.append(literal.replace("{", "{{ '{' }}").replace("}", "{{ '}' }}"))
        if field == "answer":
            parts.append("{{ answer_choices[label] }}")
        elif field:
            parts.append("{{ " + field + " }}")
    return "".join(parts)


# --- the cases -----------------------------------------------------------------------------
# Each takes its prepared input and returns the number of input rows converted.


def _case_convert(rows: list[dict[str, Any]], prepared: Any) -> int:
    import instructkit as ik

    count = 0
    for _record in ik.convert(rows, prepared, **keywords()):
        count += 1
    return count


def _case_convert_table(table: Any, prepared: Any) -> int:
    convert_table, nli = prepared
    out = convert_table(table, nli, **keywords())
    return int(out.num_rows)


def _case_str_format(rows: list[dict[str, Any]], prepared: Any) -> int:
    patterns = prepared
    choices = len(patterns)
    count = 0
    for row in rows:
        example = row["id"]
        pick, shown = _picks(example, choices)
        use = patterns[pick][0 if shown else 1]
        values = {**row, "answer": _LABELS[row["label"]], "options": _OPTIONS_BLOCK}
        _out = {
            "id": f"{DATASET}/{example}",
            "instruction": use[0].format_map(values),
            "response": use[1].format_map(values),
        }
        count += 1
    return count


def _case_jinja(rows: list[dict[str, Any]], prepared: Any) -> int:
    compiled = prepared
    choices = len(compiled)
    count = 0
    for row in rows:
        example = row["id"]
        pick, shown = _picks(example, choices)
        use = compiled[pick][0 if shown else 1]
        text = use.render(row, answer_choices=_LABELS, options=_OPTIONS_BLOCK)
        instruction, _, response = text.partition("|||")
        _out = {
            "id": f"{DATASET}/{example}",
            "instruction": instruction.strip(),
            "response": response.strip(),
        }
        count += 1
    return count


def _case_ray(data: Any, prepared: Any) -> int:
    import instructkit.ray

    # The library's own path, with its defaults (batches of 65,536 rows).
    done = instructkit.ray.convert(data, prepared, **keywords())
    return int(done.materialize().count())


def _ray_dataset(table: Any) -> Any:
    """``table`` in ``BLOCKS`` even blocks in Ray's object store (put there now, untimed)."""
    import ray

    step = -(-table.num_rows // BLOCKS)
    return ray.data.from_arrow([table.slice(at, step) for at in range(0, table.num_rows, step)])


def _descendants_cpu_seconds() -> float:
    """CPU seconds used so far by this process's live descendants (a local Ray's processes).

    Linux only (``/proc``); 0 elsewhere.
    """
    if not Path("/proc/self/stat").exists():
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    total, stack = 0.0, [os.getpid()]
    while stack:
        pid = stack.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        total += sum(used.get(child, 0.0) for child in children)
        stack.extend(children)
    return total


def _cpu_seconds() -> float:
    """CPU seconds used so far by this process, its finished children and its live ones."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = own.ru_utime + own.ru_stime + done.ru_utime + done.ru_stime
    return used + _descendants_cpu_seconds()


def _machine_cpu_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (Linux; 0 elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    # user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    busy = sum(int(value) for index, value in enumerate(fields[:8]) if index not in (3, 4))
    return busy / os.sysconf("SC_CLK_TCK")


def _wait_for_quiet_cluster(*, timeout: float = 20.0) -> None:
    """Wait until the local Ray's processes use under a tenth of a core.

    Ray Data starts its own actors (statistics, autoscaling) at a cluster's first job; they
    spend a second or more of CPU starting up after the job is done. Timed while they do,
    a 2-worker run would share its two cores with them and a 1-worker run would not.
    """
    if not Path("/proc/self/stat").exists():  # not Linux: a fixed pause instead
        time.sleep(5)
        return
    deadline = time.monotonic() + timeout
    before = _descendants_cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _descendants_cpu_seconds()
        if now - before < 0.05:
            return
        before = now


def _case_datasets(data: Any, prepared: Any, workers: int) -> int:
    converter, folder = prepared
    done = data.map(
        converter,
        batched=True,
        batch_size=ENGINE_BATCH,  # large batches, as for Ray
        num_proc=workers if workers > 1 else None,
        remove_columns=data.column_names,
        # A fresh result file every run: an earlier run's cache must not stand in for work.
        cache_file_name=str(folder / f"converted-{time.perf_counter_ns()}.arrow"),
        load_from_cache_file=False,
    )
    return len(done)


def _batch_converter() -> Any:
    from instructkit.templates import BatchConverter  # type: ignore[attr-defined]

    return BatchConverter(templates(), **keywords())


def _prepare(case: str) -> tuple[str, Callable[[Any, Any], int], Any]:
    """The input kind ("rows" or "table"), the function and what it needs, set up untimed.

    Raises:
        ImportError: the case's package, or its instructkit function, is not available.
    """
    if case == "convert":
        return "rows", _case_convert, templates()
    if case == "convert_table":
        from instructkit.templates import convert_table  # type: ignore[attr-defined]

        return "table", _case_convert_table, (convert_table, templates())
    if case == "str_format_loop":
        return "rows", _case_str_format, _patterns()
    if case == "jinja2_promptsource":
        import jinja2

        environment = jinja2.Environment(autoescape=False, keep_trailing_newline=True)
        compiled = [
            tuple(
                environment.from_string(
                    _jinja_source(instruction) + " ||| " + _jinja_source(response)
                )
                for instruction, response in pair
            )
            for pair in _patterns()
        ]
        return "rows", _case_jinja, compiled
    raise ValueError(f"not a single-process case: {case}")


def _prepare_engine(
    case: str, *, rows: int, folder: Path, scratch: Path
) -> tuple[Callable[[Any], int], Any, Any]:
    """An engine case: its function of an input, and its warm-up and timed inputs, untimed.

    Both engines read the ``--engine-rows`` rows the parent generated into ``folder``: Ray
    gets them as ``BLOCKS`` blocks already in its object store, ``datasets`` memory-maps its
    own copy. The timed run converts them all; the 1- and 2-worker runs do the same work.

    Raises:
        ImportError: the engine is not installed.
    """
    import pyarrow.parquet as pq

    workers = int(case.rsplit("_", 1)[1])
    if case.startswith("ray_"):
        import instructkit.ray  # noqa: F401 - not available is reported before any work
        import ray

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        table = pq.read_table(ensure_parquet(rows, folder))
        prepared = templates()
        # The warm-up job starts the workers and imports instructkit in them, so the timed
        # run measures converting on a running cluster (starting one is a separate, fixed
        # cost: see docs/scale.md).
        return (
            lambda data: _case_ray(data, prepared),
            _ray_dataset(table.slice(0, WARM_UP_ROWS)),
            _ray_dataset(table),
        )
    import datasets

    datasets.disable_progress_bars()
    data = datasets.load_from_disk(str(ensure_datasets(rows, folder))).with_format("arrow")
    converter = (_batch_converter(), scratch)
    return (
        lambda data: _case_datasets(data, converter, workers),
        data.select(range(min(WARM_UP_ROWS, len(data)))),
        data,
    )


CASES = [
    "convert",
    "convert_table",
    "str_format_loop",
    "jinja2_promptsource",
    "ray_1",
    "ray_2",
    "datasets_map_1",
    "datasets_map_2",
]

LABELS = {
    "convert": "instructkit.convert (per row, records)",
    "convert_table": "instructkit.templates.convert_table (columnar, Arrow)",
    "str_format_loop": "plain loop: stable-hash pick + str.format (dicts)",
    "jinja2_promptsource": "plain loop: stable-hash pick + Jinja2 promptsource-style (dicts)",
    "ray_1": "Ray Data instructkit.ray.convert, 1 worker (engine rows)",
    "ray_2": "Ray Data instructkit.ray.convert, 2 workers (engine rows)",
    "datasets_map_1": "datasets.Dataset.map(BatchConverter, batched), num_proc 1 (engine rows)",
    "datasets_map_2": "datasets.Dataset.map(BatchConverter, batched), num_proc 2 (engine rows)",
}

# (case, baseline, required ratio of rows/s), as the targets are stated.
TARGETS = [
    ("convert_table", "str_format_loop", 2.0),
    ("convert_table", "convert", 20.0),
    ("convert", "str_format_loop", 0.3),
    ("ray_2", "ray_1", 1.6),
    ("datasets_map_2", "datasets_map_1", 1.6),
]
REFERENCES = [("jinja2_promptsource", "str_format_loop")]
ENGINES = ["ray_1", "ray_2", "datasets_map_1", "datasets_map_2"]


def _timed(function: Callable[[Any], int], data: Any) -> dict[str, Any]:
    """Run ``function(data)``: its wall time, rows, and the CPU its processes and others used.

    ``cpu`` counts this process and every process it started (a pool's, a Ray cluster's);
    ``others_cpu`` what the rest of the machine used meanwhile. Two workers can only beat
    one when nothing else wants the cores: Linux shares the CPU between sessions before it
    shares it between their processes, so while another session keeps a core busy, this
    run's two workers get about one core between them.
    """
    cpu, machine = _cpu_seconds(), _machine_cpu_seconds()
    started = time.perf_counter()
    converted = function(data)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    others = max(0.0, _machine_cpu_seconds() - machine - cpu)
    return {"seconds": seconds, "rows": converted, "cpu": cpu, "others_cpu": others}


def _child_case(case: str, rows: int, engine_rows: int, folder: Path) -> dict[str, Any]:
    if case in ENGINES:
        with tempfile.TemporaryDirectory(prefix="convert-bench-") as scratch:
            try:
                function, warm, data = _prepare_engine(
                    case, rows=engine_rows, folder=folder, scratch=Path(scratch)
                )
            except ImportError as err:
                return {"unavailable": str(err).split(" (")[0][:100]}
            function(warm)
            if case.startswith("ray_"):
                _wait_for_quiet_cluster()
            return _timed(function, data)
    try:
        kind, single, prepared = _prepare(case)
    except ImportError as err:
        # "cannot import name 'X' from 'instructkit.templates' (/path)": the name is enough.
        return {"unavailable": str(err).split(" (")[0][:100]}
    data: Any = list(snli_rows(rows)) if kind == "rows" else snli_table(rows)
    warm = data[:WARM_UP_ROWS] if kind == "rows" else data.slice(0, WARM_UP_ROWS)
    single(warm, prepared)
    # The first run over all rows pays for the memory the process has not yet obtained from
    # the system (on this VM, first-touched memory costs about as much as converting it);
    # the second measures converting, as every batch after the first of a long job does.
    first = _timed(lambda rows: single(rows, prepared), data)
    result = _timed(lambda rows: single(rows, prepared), data)
    result["first_seconds"] = first["seconds"]
    return result


def _child_rss(rows: int, folder: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    import instructkit as ik

    source = ensure_parquet(rows, folder)
    # pre_buffer=False: with pyarrow's default read-ahead, iter_batches keeps what it has
    # buffered, and its memory grows with the file (some 45 MB per million rows here).
    batches = pq.ParquetFile(source, pre_buffer=False).iter_batches(batch_size=50_000)
    out = folder / f"converted-{os.getpid()}.parquet"
    started = time.perf_counter()
    try:
        try:
            from instructkit.templates import convert_table  # type: ignore[attr-defined]
        except ImportError:
            path = "per-row convert, instructkit.write"
            stream = (row for batch in batches for row in batch.to_pylist())
            written = ik.write(ik.convert(stream, templates(), **keywords()), out).rows
        else:
            path = "convert_table, pyarrow ParquetWriter"
            written = 0
            writer = None
            for batch in batches:
                table = convert_table(batch, templates(), **keywords())
                if writer is None:
                    writer = pq.ParquetWriter(out, table.schema, compression="zstd")
                writer.write(table)
                written += table.num_rows
            if writer is not None:
                writer.close()
        seconds = time.perf_counter() - started
    finally:
        out.unlink(missing_ok=True)
    return {"seconds": seconds, "rows": rows, "written": written, "path": path}


def _peak_rss() -> int:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _spawn(*arguments: str) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:120]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _rate(rows: float, seconds: float) -> str:
    return f"{rows / seconds:,.0f}"


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [run for run in runs if "seconds" in run]
    if not good:
        return runs[0]
    best = dict(min(good, key=lambda run: run["seconds"]))
    best["all_seconds"] = [run["seconds"] for run in good]
    best["first_seconds"] = [run["first_seconds"] for run in good if "first_seconds" in run]
    best["peak_rss"] = max(run["peak_rss"] for run in good)
    return best


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| case | time (s) | all runs (s) | first run (s) | rows/s | CPU (s) | cores "
        "| others' cores | peak RSS (MB) | ratios |",
        "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for case, result in results.items():
        if "seconds" not in result:
            why = (
                f"not available ({result['unavailable']})"
                if "unavailable" in result
                else f"failed: {result['error']}"
            )
            lines.append(f"| {LABELS[case]} | {why} | | | | | | | | |")
            continue
        seconds = result["seconds"]
        ratios = []
        for subject, baseline, wanted in TARGETS:
            other = results.get(baseline, {})
            if subject == case and "seconds" in other:
                ratio = other["seconds"] / seconds
                verdict = "meets" if ratio >= wanted else "misses"
                ratios.append(f"{ratio:.2f}x {baseline} (target {wanted}x: {verdict})")
        for subject, baseline in REFERENCES:
            other = results.get(baseline, {})
            if subject == case and "seconds" in other:
                ratios.append(f"{other['seconds'] / seconds:.2f}x {baseline}")
        lines.append(
            f"| {LABELS[case]} | {seconds:.2f} | "
            f"{', '.join(f'{t:.2f}' for t in result['all_seconds'])} | "
            f"{', '.join(f'{t:.2f}' for t in result['first_seconds'])} | "
            f"{_rate(result['rows'], seconds)} | {result['cpu']:.2f} | "
            f"{result['cpu'] / seconds:.2f} | {result['others_cpu'] / seconds:.2f} | "
            f"{result['peak_rss'] / 1e6:,.0f} | "
            f"{'; '.join(ratios)} |"
        )
    return "\n".join(lines)


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ["instructkit", "pyarrow", "jinja2", "ray", "datasets"]:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS, help=f"input rows (default {ROWS:,})")
    parser.add_argument("--only", default="", help="comma-separated case names to run")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs per case (the fastest counts); default 2"
    )
    parser.add_argument(
        "--rss", action="store_true", help="stream --rss-rows rows Parquet to Parquet instead"
    )
    parser.add_argument(
        "--rss-rows", type=int, default=RSS_ROWS, help=f"rows for --rss (default {RSS_ROWS:,})"
    )
    parser.add_argument(
        "--engine-rows",
        type=int,
        default=ENGINE_ROWS,
        help=f"input rows of the Ray and datasets cases (default {ENGINE_ROWS:,})",
    )
    parser.add_argument(
        "--data-dir", default=str(DATA), help="where the --rss and engine inputs live"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--prepare-engines", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.prepare_engines:
            ensure_parquet(args.engine_rows, Path(args.data_dir))
            with contextlib.suppress(ImportError):  # the datasets cases say "not available"
                ensure_datasets(args.engine_rows, Path(args.data_dir))
            print(json.dumps({}))
            return
        if args.rss:
            result = _child_rss(args.rss_rows, Path(args.data_dir))
        else:
            result = _child_case(args.case, args.rows, args.engine_rows, Path(args.data_dir))
        result["peak_rss"] = _peak_rss()
        print(json.dumps(result))
        return
    command = shlex.join(["python", "benchmarks/convert.py", *sys.argv[1:]])
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    if args.rss:
        # Generated here, untimed and outside the measured process.
        ensure_parquet(args.rss_rows, Path(args.data_dir))
        result = _spawn("--rss", "--rss-rows", str(args.rss_rows), "--data-dir", args.data_dir)
        if "error" in result:
            print(f"failed: {result['error']}")
            raise SystemExit(1)
        print("| rows | conversion path | time (s) | rows/s | peak RSS (MB) |")
        print("| ---: | --- | ---: | ---: | ---: |")
        print(
            f"| {result['rows']:,} | {result['path']} | {result['seconds']:.1f} | "
            f"{_rate(result['rows'], result['seconds'])} | {result['peak_rss'] / 1e6:,.0f} |"
        )
    else:
        cases = [c for c in args.only.split(",") if c] or CASES
        unknown = sorted(set(cases) - set(CASES))
        if unknown:
            parser.error(f"unknown case(s) {unknown}; known: {CASES}")
        if set(cases) & set(ENGINES):
            # Generated once, untimed, in a process of its own: a child started from a parent
            # that had held the table would report the parent's peak RSS as its own.
            print(f"  engine input: {args.engine_rows:,} rows in {args.data_dir}", file=sys.stderr)
            prepared = _spawn(
                "--prepare-engines",
                "--engine-rows",
                str(args.engine_rows),
                "--data-dir",
                args.data_dir,
            )
            if "error" in prepared:
                print(f"failed: {prepared['error']}")
                raise SystemExit(1)
        runs: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
        # Rounds visit every case in turn, so a burst of load from elsewhere hits a case and
        # its baseline alike.
        for _round in range(args.repeat):
            for case in cases:
                if runs[case] and "seconds" not in runs[case][0]:
                    continue  # not available, or failed: once is enough
                result = _spawn(
                    "--case",
                    case,
                    "--rows",
                    str(args.rows),
                    "--engine-rows",
                    str(args.engine_rows),
                    "--data-dir",
                    args.data_dir,
                )
                runs[case].append(result)
                shown = (
                    f"{result['seconds']:.2f} s ({result['cpu']:.2f} s CPU, others "
                    f"{result['others_cpu']:.2f} s)"
                    if "seconds" in result
                    else result.get("error") or "not available"
                )
                print(f"  {case:22s} {shown}", file=sys.stderr)
        print(table({case: _best(found) for case, found in runs.items()}))
    engines = "" if args.rss else f" ({args.engine_rows:,} for the Ray and datasets cases)"
    print(
        f"\n`{command}`: {args.rss_rows if args.rss else args.rows:,} rows{engines}, "
        f"{time.perf_counter() - started:.0f} s wall time on {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}, {_versions()}. Load average (1 min) {load_before:.1f} "
        f"at the start, {os.getloadavg()[0]:.1f} at the end."
    )


if __name__ == "__main__":
    main()
