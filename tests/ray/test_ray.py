"""instructkit.ray on a local Ray: converting, mixing and writing give one process's records.

One local Ray (``num_cpus=2``) serves the whole session: it is started by the first test that
needs it and stopped at the end. The ``xdist_group`` mark keeps every test here on one xdist
worker (the suite runs with ``--dist loadgroup``), so only one Ray runs at a time. Ray is slow
per call (a second or so), so the property tests draw few examples.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import instructkit as ik
from instructkit import ConfigurationError, Instruction, RecordValidationError, ShardSetError
from instructkit.arrow import arrow_schema, storage_schema
from instructkit.templates import builtin_templates

ray = pytest.importorskip("ray")
import instructkit.ray as ikr  # noqa: E402  (after the skip: it needs Ray)

pytestmark = [
    pytest.mark.xdist_group("ray"),
    # Ray warns about its own deprecations from inside its modules.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),
]

# local_ray only makes sure that Ray runs, which holds for every example alike.
FEW = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TEMPLATES = builtin_templates("nli")


def _start_ray() -> None:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # instructkit's own errors (with their location) instead of Ray's UserCodeException.
    context.raise_original_map_exception = True


@pytest.fixture(scope="session")
def session_ray() -> Iterator[None]:
    yield
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def local_ray(session_ray: None) -> None:
    # Started once; again only if something stopped it (the example in docs/scale.md stops
    # the Ray it started, as a user's script would).
    if not ray.is_initialized():
        _start_ray()


def make_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"e{i}",
            "premise": f"A man plays song {i}.",
            "hypothesis": f"He is {'singing' if i % 2 else 'asleep'}.",
            "label": i % 3,
        }
        for i in range(n)
    ]


def partitioned(table: pa.Table, cuts: list[int], order: random.Random) -> Any:
    """A Ray dataset whose blocks are ``table`` cut at ``cuts`` (1 to 8 blocks), shuffled."""
    bounds = [0, *sorted(c % (table.num_rows + 1) for c in cuts), table.num_rows]
    blocks = [table.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    order.shuffle(blocks)
    return ray.data.from_arrow(blocks)


def collect(dataset: Any) -> list[Any]:
    """The dataset's records, sorted by id (the order of a distributed run is not kept)."""
    tables = [ray.get(ref) for ref in dataset.to_arrow_refs()]
    tables = [t for t in tables if t.num_rows]
    records = ik.from_arrow(pa.concat_tables(tables)) if tables else []
    return sorted(records, key=lambda r: (r.id or "", r.instruction))


def by_id(records: list[Any]) -> list[Any]:
    return sorted(records, key=lambda r: (r.id or "", r.instruction))


cuts = st.lists(st.integers(0, 200), max_size=7)
orders = st.randoms(use_true_random=False)


def test_importing_without_ray_names_the_extra() -> None:
    code = "import sys; sys.modules['ray'] = None; import instructkit.ray"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert "ImportError: instructkit.ray needs Ray Data" in done.stderr
    assert "pip install 'instructkit[ray]'" in done.stderr


@FEW
@given(n=st.integers(0, 60), cuts=cuts, order=orders, seed=st.integers(0, 2**32))
def test_convert_gives_one_process_records_for_any_partitioning(
    local_ray: None, n: int, cuts: list[int], order: random.Random, seed: int
) -> None:
    rows = make_rows(n)
    arguments: dict[str, Any] = {"seed": seed, "options": 0.5, "per_example": 2}
    expected = list(ik.convert(rows, TEMPLATES, dataset="snli", **arguments))
    source = partitioned(pa.Table.from_pylist(rows), cuts, order) if rows else None
    if source is None:
        source = ray.data.from_items([{"id": "x", "premise": "p", "hypothesis": "h", "label": 0}])
        source = source.limit(0)
    converted = ikr.convert(source, TEMPLATES, dataset="snli", batch_size=7, **arguments)
    assert collect(converted) == by_id(expected)


def _instructions(n: int, prefix: str) -> list[Instruction]:
    # Every fifth record has no id: the mixture knows it by a hash of its data.
    return [
        Instruction(
            instruction=f"{prefix} question {i}",
            response=f"answer {i}",
            id=None if i % 5 == 0 else f"{prefix}{i}",
        )
        for i in range(n)
    ]


@FEW
@given(
    cuts_a=cuts,
    cuts_b=cuts,
    order=orders,
    seed=st.integers(0, 2**32),
    repeat=st.booleans(),
)
def test_mix_selects_one_process_records_for_any_partitioning(
    local_ray: None,
    cuts_a: list[int],
    cuts_b: list[int],
    order: random.Random,
    seed: int,
    repeat: bool,
) -> None:
    a, b = _instructions(80, "a"), _instructions(15, "b")
    options: dict[str, Any] = {"seed": seed, "cap": 30, "repeat": repeat}
    if repeat:
        options["total"] = 120  # more than b holds: its records are copied
    expected = list(ik.mix({"a": a, "b": b}, **options))
    sources = {
        "a": partitioned(ik.to_arrow(a), cuts_a, order),
        "b": partitioned(ik.to_arrow(b), cuts_b, order),
    }
    assert collect(ikr.mix(sources, **options)) == by_id(expected)


def test_mix_refuses_hard_limits(local_ray: None) -> None:
    source = ray.data.from_arrow(ik.to_arrow(_instructions(5, "a")))
    with pytest.raises(ConfigurationError, match="expected no limits= in a distributed mix"):
        ikr.mix({"a": source}, seed=0, limits={"a": 2})


SET_FILES = [".train.parquet.lock", ".train.parquet.shards.json"]


@FEW
@given(
    n=st.integers(1, 60),
    cuts=cuts,
    order=orders,
    max_rows=st.sampled_from([None, 1, 7, 100]),
)
def test_sharded_write_holds_the_records_for_any_partitioning(
    local_ray: None,
    tmp_path_factory: pytest.TempPathFactory,
    n: int,
    cuts: list[int],
    order: random.Random,
    max_rows: int | None,
) -> None:
    folder = tmp_path_factory.mktemp("shards")
    records = list(ik.convert(make_rows(n), TEMPLATES, seed=3, dataset="snli"))
    source = partitioned(ik.to_arrow(records), cuts, order)
    result = ikr.write_parquet(source, folder / "train.parquet", max_rows_per_file=max_rows)
    count = len(result.paths)
    names = [path.name for path in result.paths]
    assert names == [f"train-{k:05d}-of-{count:05d}.parquet" for k in range(count)]
    # No temporaries left: only the shards, the set's manifest and its lock file.
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names, *SET_FILES])
    manifest = json.loads((folder / ".train.parquet.shards.json").read_text())
    assert manifest["complete"]
    assert manifest["shards"] == names
    if max_rows is not None:
        assert max(result.rows_per_file) <= max_rows
    assert result.rows == n == sum(result.rows_per_file)
    with ik.read(list(result.paths)) as reader:
        assert by_id(list(reader)) == by_id(records)
    assert ik.read_table(list(result.paths)).num_rows == n


def test_shards_written_by_workers_read_the_same_in_datasets_pyarrow_and_polars(
    local_ray: None, tmp_path: Path
) -> None:
    # The consumers of a sharded set read every shard: what trains is what was converted.
    import datasets
    import polars as pl
    import pyarrow.parquet as pq

    records = list(ik.convert(make_rows(40), TEMPLATES, seed=5, dataset="snli", options=0.5))
    source = partitioned(ik.to_arrow(records), [7, 23, 31], random.Random(1))
    result = ikr.write_parquet(source, tmp_path / "train.parquet", max_rows_per_file=16)
    files = [str(path) for path in result.paths]
    expected = {r.id: (r.instruction, r.response, r.meta) for r in records}

    loaded = datasets.load_dataset("parquet", data_files=files, split="train")
    assert {
        row["id"]: (row["instruction"], row["response"], row["meta"]) for row in loaded
    } == expected
    table = pq.read_table(files[0]).schema
    assert table.field("meta").type == arrow_schema(Instruction).field("meta").type
    frame = pl.read_parquet(files)
    assert {
        row["id"]: (row["instruction"], row["response"], json.loads(row["meta"]))
        for row in frame.iter_rows(named=True)
    } == expected


def test_a_failed_write_keeps_the_previous_set(local_ray: None, tmp_path: Path) -> None:
    records = list(ik.convert(make_rows(10), TEMPLATES, seed=3, dataset="snli"))
    first = ikr.write_parquet(
        ray.data.from_arrow(ik.to_arrow(records)), tmp_path / "train.parquet", max_rows_per_file=4
    )
    table = ik.to_arrow(records).cast(storage_schema(arrow_schema(Instruction)))
    bad = table.set_column(2, "response", pa.array(["ok"] * 9 + [""], pa.string()))
    with pytest.raises(RecordValidationError, match=r"at \$\.response"):
        ikr.write_parquet(ray.data.from_arrow(bad), tmp_path / "train.parquet")
    kept = sorted([*(p.name for p in first.paths), *SET_FILES])
    assert sorted(p.name for p in tmp_path.iterdir()) == kept
    with ik.read(list(first.paths)) as reader:
        assert list(reader) == records


def test_an_interrupted_commit_is_refused_by_the_readers(
    local_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from instructkit._io import _atomic

    def stop(step: str) -> None:
        if step == "renamed 0":
            raise KeyboardInterrupt

    records = _instructions(6, "a")
    monkeypatch.setattr(_atomic, "_commit_step", stop)
    with pytest.raises(KeyboardInterrupt):
        ikr.write_parquet(ray.data.from_arrow(ik.to_arrow(records)), tmp_path / "train.parquet")
    monkeypatch.undo()
    written = sorted(tmp_path.glob("train-*.parquet"))
    assert written  # one shard got its final name before the stop
    with pytest.raises(ShardSetError, match="commit is under way or was interrupted"):
        ik.read_table(written)


def test_an_empty_dataset_writes_one_empty_shard(local_ray: None, tmp_path: Path) -> None:
    empty = ray.data.from_arrow(ik.to_arrow(_instructions(3, "a"))).limit(0)
    result = ikr.write_parquet(empty, tmp_path / "train.parquet", record=Instruction)
    assert [p.name for p in result.paths] == ["train-00000-of-00001.parquet"]
    assert result.rows == 0
    assert ik.read_table(list(result.paths)).num_rows == 0
    # Without record=, the columns tell the record type.
    again = ikr.write_parquet(empty, tmp_path / "again.parquet")
    assert ik.read_table(list(again.paths)).schema.equals(arrow_schema(Instruction))


def test_write_refuses_other_formats(local_ray: None, tmp_path: Path) -> None:
    source = ray.data.from_arrow(ik.to_arrow(_instructions(3, "a")))
    with pytest.raises(ConfigurationError, match=r"expected a \.parquet destination"):
        ikr.write_parquet(source, tmp_path / "train.jsonl")


def test_a_relative_destination_is_the_drivers(
    local_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ray's workers run in folders of their own: a relative path must still mean the
    # driver's folder.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    source = ray.data.from_arrow(ik.to_arrow(_instructions(4, "a")))
    result = ikr.write_parquet(source, "out/train.parquet")
    assert [p.parent for p in result.paths] == [tmp_path / "out"]
    assert ik.read_table(list(result.paths)).num_rows == 4
