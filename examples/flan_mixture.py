"""Build a small Flan-style instruction mixture from sample rows of seven public datasets.

    python examples/flan_mixture.py [OUTPUT_FOLDER] [--seed N]

The sample rows in examples/data/ are written in each dataset's published shape (the columns
and label ids of its Hugging Face Hub copy), so the same code runs on the real datasets. For
each dataset the script

1. maps the published rows onto a built-in task with an adapter (unlabeled rows are counted
   and reported, not rendered),
2. renders them with the task's built-in templates: some with answer options and some
   without, some with solved examples in front (few-shot), some with inverted templates,
3. mixes the datasets examples-proportionally with a per-dataset cap, as Flan does,

then writes the mixture as JSON Lines and Parquet (plus the mixture's manifest), reads both
files back, and prints a summary. Output goes to OUTPUT_FOLDER (default: examples/output/).
Everything is seeded: the same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import instructkit as ik

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


@dataclass(frozen=True)
class Source:
    """How one dataset enters the mixture."""

    adapter: str  # the adapter's name, also the dataset name in provenance
    file: str  # sample rows in the dataset's published shape
    per_example: int = 1  # templates rendered per example
    options: float = 0.5  # share of renders that show the answer options
    shots: int = 0  # exemplars put in front of few-shot prompts (0: always zero-shot)
    few_shot_share: float = 0.0  # share of examples that get exemplars


SOURCES = (
    Source("snli", "snli.jsonl", per_example=2, shots=2, few_shot_share=0.3),
    Source("sst2", "sst2.jsonl", per_example=2, shots=3, few_shot_share=0.5),
    Source("ag_news", "ag_news.jsonl", options=0.7),
    Source("squad", "squad.jsonl", shots=1, few_shot_share=0.25),
    Source("copa", "copa.jsonl", per_example=2, options=0.8),
    Source("e2e_nlg", "e2e_nlg.jsonl"),
    Source("wmt", "wmt16_de_en.jsonl"),  # both directions: de->en and en->de
)

CAP = 40  # records per dataset at most (Flan used 3,000 on full datasets)


def render_source(source: Source, seed: int) -> tuple[list[ik.Instruction], ik.ItemReport]:
    """Adapt one dataset's sample rows and render them with its task's built-in templates."""
    adapter = ik.adapters.get_adapter(source.adapter)
    report = ik.ItemReport()
    with ik.read_raw(DATA / source.file) as published:
        rows = list(ik.adapt(adapter.name, published, on_error="collect", report=report))
    fewshot = None
    if source.shots:
        # The pool may be the rows themselves: an example is never its own exemplar.
        fewshot = ik.templates.FewShot(
            pool=rows,
            k=source.shots,
            probability=source.few_shot_share,
            input_prefix="Q: ",
            response_prefix="A: ",
        )
    # Templates that answer with a bare option letter need their options on every render;
    # this example mixes renders with and without options, so it leaves those out.
    templates = [t for t in adapter.templates() if not t.marker_only]
    records = ik.convert(
        rows,
        templates,
        seed=seed,
        dataset=adapter.name,
        per_example=source.per_example,
        options=source.options,
        fewshot=fewshot,
        progress=True,  # a bar on stderr (tqdm's if installed): long runs show how far they are
    )
    return list(records), report


def provenance(record: ik.Instruction) -> dict[str, Any]:
    value = record.meta["provenance"]
    assert isinstance(value, dict)
    return value


def table(title: str, counts: Counter[str], total: int) -> list[str]:
    width = max([len(title), *(len(key) for key in counts)])
    lines = [f"{title:<{width}}  records  share"]
    for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"{key:<{width}}  {count:>7}  {count / total:>5.0%}")
    return lines


def adapted(name: str, report: ik.ItemReport, rendered: int) -> str:
    """One dataset's line: each sample row counted once, rejected rows with their reason."""
    line = f"{name}: {report.seen} rows, {report.valid} adapted"
    if report.rejected:
        reasons = Counter(
            "unlabeled" if "unlabeled" in r.reason else "malformed" for r in report.rejections
        )
        if len(reasons) == 1:
            [why] = reasons
            count = {1: "", 2: "both "}.get(report.rejected, "all ")
            line += f", {report.rejected} rejected ({count}{why})"
        else:
            detail = ", ".join(f"{n} {why}" for why, n in reasons.items())
            line += f", {report.rejected} rejected ({detail})"
    if report.blank:
        line += f", {report.blank} blank lines"
    # Several records per row: several templates each, or both directions of a translation.
    each = f" ({rendered / report.valid:g} per row)" if rendered != report.valid else ""
    return f"{line} -> {rendered} records{each}"


def summary(records: list[ik.Instruction], manifest: ik.templates.MixtureManifest) -> str:
    total = len(records)
    info = [provenance(r) for r in records]
    lines = [f"mixture: {total} records from {len(manifest.sources)} datasets (cap {CAP} each)"]
    lines.append("")
    # The cap sets how many records a dataset is expected to give; each record is then kept
    # by a seeded draw, so the count selected varies around that, within the tolerance.
    lines.append(
        f"{'dataset':<10} {'rendered':>8} {'expected':>8} {'tolerance':>9} {'selected':>8}"
    )
    over = []
    for name, stats in manifest.sources.items():
        tolerance = f"±{stats.tolerance():.1f}"
        lines.append(
            f"{name:<10} {stats.size:>8} {stats.expected:>8.1f} {tolerance:>9} {stats.selected:>8}"
        )
        if stats.selected > CAP:
            over.append(
                f"{name}: {stats.selected} selected, over the cap of {CAP} but within "
                f"{tolerance} of the {stats.expected:.1f} expected"
            )
    if over:
        lines.append("")
        lines.extend(over)
        lines.append("(the cap sets the expected count; each record is kept by a seeded draw)")
    lines.append("")
    lines.extend(table("task", Counter(p["task"] for p in info), total))
    lines.append("")
    by_task: dict[str, Counter[str]] = {}
    for p in info:
        by_task.setdefault(p["task"], Counter())[p["template_id"]] += 1
    lines.append("templates per task (template number:records)")
    for task, counts in sorted(by_task.items()):
        available = len(ik.templates.builtin_templates(task))
        used = " ".join(f"{tid.rsplit('-', 1)[-1]}:{n}" for tid, n in sorted(counts.items()))
        lines.append(f"  {task:<14} {len(counts):>2} of {available:>2} used  {used}")
    lines.append("")
    kinds = {
        "inverted": Counter("inverted" if p["inverted"] else "not inverted" for p in info),
        "options": Counter("with options" if p["options"] else "without options" for p in info),
        "shots": Counter("few-shot" if p["exemplar_ids"] else "zero-shot" for p in info),
    }
    for title, counts in (
        ("template direction", kinds["inverted"]),
        ("answer options", kinds["options"]),
        ("prompt", kinds["shots"]),
    ):
        lines.extend(table(title, counts, total))
        lines.append("")
    lines.extend(table("template type", Counter(p["template_type"] for p in info), total))
    return "\n".join(lines)


def pick_examples(records: list[ik.Instruction]) -> list[tuple[str, ik.Instruction]]:
    """Three records worth looking at: with options, few-shot, and inverted."""
    wanted = [
        ("zero-shot, with options", lambda p: p["options"] and not p["exemplar_ids"]),
        ("few-shot", lambda p: bool(p["exemplar_ids"])),
        ("inverted template", lambda p: p["inverted"]),
    ]
    chosen = []
    for label, test in wanted:
        # Prefer a short one, so the three fit on a screen.
        matches = [r for r in records if test(provenance(r))]
        if matches:
            chosen.append((label, min(matches, key=lambda r: (len(r.instruction), r.id))))
    return chosen


def show(label: str, record: ik.Instruction) -> str:
    p = provenance(record)
    head = f"--- {label}: {record.id} ({p['template_type']}, options: "
    head += f"{p['options']['style'] if p['options'] else 'none'}) ---"
    return f"{head}\n{record.instruction}\n>>> {record.response}"


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", type=Path, default=HERE / "output")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(None if argv is None else list(argv))
    started = time.perf_counter()

    print("adapting and rendering the sample datasets:")
    sources: dict[str, list[ik.Instruction]] = {}
    for source in SOURCES:
        records, report = render_source(source, args.seed)
        sources[source.adapter] = records
        print(f"  {adapted(source.adapter, report, len(records))}")

    mixture = ik.mix(sources, seed=args.seed, cap=CAP, progress=True)
    records = [r for r in mixture if isinstance(r, ik.Instruction)]

    out = args.output
    out.mkdir(parents=True, exist_ok=True)
    jsonl = ik.write(records, out / "mixture.jsonl", progress=True)
    parquet = ik.write(records, out / "mixture.parquet", progress=True)
    manifest_path = out / "manifest.json"
    manifest_path.write_text(
        json.dumps(mixture.manifest.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )

    # Read both files back: they hold exactly the records written.
    for written in (jsonl, parquet):
        with ik.read(written.paths[0], progress=True) as reader:
            back = list(reader)
        assert back == records, f"{written.paths[0]} does not read back to the same records"

    print()
    print(summary(records, mixture.manifest))
    print()
    for label, record in pick_examples(records):
        print(show(label, record))
        print()
    elapsed = time.perf_counter() - started
    print("wrote (and read back):")
    for path in (jsonl.paths[0], parquet.paths[0], manifest_path):
        print(f"  {path}")
    print(f"{len(records)} records in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
