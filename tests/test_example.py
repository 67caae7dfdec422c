"""The main example, examples/flan_mixture.py: runs, writes readable files, prints a summary."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import instructkit as ik

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "flan_mixture.py"
DATA = ROOT / "examples" / "data"


def run(output: Path, *extra: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(output), *extra],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # stderr holds the progress bars the example turns on, and nothing else (no warning).
    shown = [part for part in re.split(r"[\r\n]", result.stderr) if part.strip()]
    assert shown
    for part in shown:
        assert re.match(r"(convert|mix|write|read)( [\w.]+)?:", part), part
    return result.stdout


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    # Run from an unrelated working directory: the script must find its data by itself.
    where = tmp_path_factory.mktemp("example")
    output = where / "out"
    return output, run(output, cwd=where)


def provenance(record: Any) -> dict[str, Any]:
    value = record.meta["provenance"]
    assert isinstance(value, dict)
    return value


def test_output_files_read_back_through_instructkit(example: tuple[Path, str]) -> None:
    output, _ = example
    with ik.read(output / "mixture.jsonl") as reader:
        from_jsonl = list(reader)
        assert reader.report.rejected == 0
    with ik.read(output / "mixture.parquet") as reader:
        from_parquet = list(reader)
        assert reader.report.rejected == 0
    assert from_jsonl == from_parquet
    assert all(isinstance(r, ik.Instruction) for r in from_jsonl)
    manifest = json.loads((output / "manifest.json").read_text("utf-8"))
    assert manifest["complete"] is True
    assert manifest["realised"] == len(from_jsonl) > 100
    assert len({r.id for r in from_jsonl}) == len(from_jsonl)


def test_the_mixture_covers_the_flan_variants(example: tuple[Path, str]) -> None:
    output, _ = example
    with ik.read(output / "mixture.parquet") as reader:
        info = [provenance(r) for r in reader]
    tasks = Counter(p["task"] for p in info)
    assert len(tasks) >= 6
    assert {p["dataset"] for p in info} >= {"snli", "sst2", "squad", "copa", "wmt"}
    assert {p["inverted"] for p in info} == {True, False}
    assert {p["options"] is None for p in info} == {True, False}
    assert {bool(p["exemplar_ids"]) for p in info} == {True, False}
    assert {p["template_type"] for p in info} == {"zs_opt", "zs_noopt", "fs_opt", "fs_noopt"}
    # The cap of 40 per dataset holds within the mixture's documented tolerance.
    by_dataset = Counter(p["dataset"] for p in info)
    assert max(by_dataset.values()) <= 40 + 4 * 40**0.5 + 1
    # Translation went both ways.
    languages = {p["example_id"].rsplit(".", 1)[-1] for p in info if p["task"] == "translation"}
    assert languages == {"de-en", "en-de"}


def test_unlabeled_sample_rows_are_reported_not_rendered(example: tuple[Path, str]) -> None:
    output, stdout = example
    # Each sample row is counted once: the two rejected rows are the two unlabeled ones.
    assert "snli: 30 rows, 28 adapted, 2 rejected (both unlabeled) -> 56 records" in stdout
    with ik.read_raw(DATA / "snli.jsonl") as published:
        snli = ik.adapters.get_adapter("snli")
        unlabeled = {snli.example_id(row) for row in published if row["label"] == -1}
    assert len(unlabeled) == 2
    with ik.read(output / "mixture.jsonl") as reader:
        used = {provenance(r)["example_id"] for r in reader}
    assert not unlabeled & used


def test_the_summary_is_printed(example: tuple[Path, str]) -> None:
    output, stdout = example
    for heading in (
        "mixture: ",
        "task ",
        "templates per task",
        "template direction",
        "answer options",
        "prompt ",
        "--- zero-shot, with options: ",
        "--- few-shot: ",
        "--- inverted template: ",
        "wrote (and read back):",
    ):
        assert heading in stdout, heading
    assert str(output / "mixture.parquet") in stdout
    assert stdout.count("\n>>> ") == 3


def test_a_count_over_the_cap_is_shown_with_its_tolerance(example: tuple[Path, str]) -> None:
    output, stdout = example
    manifest = json.loads((output / "manifest.json").read_text("utf-8"))
    assert re.search(r"^dataset +rendered +expected +tolerance +selected$", stdout, re.M)
    for name, stats in manifest["sources"].items():
        tolerance = 4 * stats["expected"] ** 0.5 + 1
        row = f"{name:<10} {stats['size']:>8} {stats['expected']:>8.1f} ±{tolerance:.1f}"
        assert " ".join(row.split()) in " ".join(stdout.split())
        over = f"{name}: {stats['selected']} selected, over the cap of 40 but within ±"
        assert (over in stdout) == (stats["selected"] > 40)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not(
    example: tuple[Path, str], tmp_path: Path
) -> None:
    output, _ = example
    run(tmp_path / "same", cwd=tmp_path)
    run(tmp_path / "other", "--seed", "7", cwd=tmp_path)
    for name in ("mixture.jsonl", "mixture.parquet", "manifest.json"):
        assert (tmp_path / "same" / name).read_bytes() == (output / name).read_bytes()
    other = (tmp_path / "other" / "mixture.jsonl").read_bytes()
    assert other != (output / "mixture.jsonl").read_bytes()


def test_sample_data_is_in_published_shapes() -> None:
    # Each sample file adapts without a single bad row, apart from SNLI's two -1 labels.
    expected_rejections = {"snli.jsonl": 2}
    files = sorted(DATA.glob("*.jsonl"))
    assert len(files) >= 6
    adapters = {"wmt16_de_en.jsonl": "wmt"}
    for path in files:
        report = ik.ItemReport()
        name = adapters.get(path.name, path.stem)
        with ik.read_raw(path) as published:
            rows = list(ik.adapt(name, published, on_error="collect", report=report))
        assert report.seen >= 12, path.name
        assert report.rejected == expected_rejections.get(path.name, 0), report.rejections
        assert rows
