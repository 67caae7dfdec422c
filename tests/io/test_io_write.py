"""Writing: atomic (even when killed), deterministic, sharded, in every format and dialect."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from instructkit import (
    ConfigurationError,
    Conversation,
    Instruction,
    LossReport,
    LossyConversionError,
    Preference,
    read,
    write,
)
from record_fixtures import RECORDS_BY_NAME, numbered_instructions


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# -- atomicity -------------------------------------------------------------------------------


def failing(records: list[Instruction], after: int) -> Iterator[Instruction]:
    for index, record in enumerate(records):
        if index == after:
            raise RuntimeError("the generator broke")
        yield record


@pytest.mark.parametrize("suffix", ["jsonl", "jsonl.gz", "jsonl.zst", "json", "parquet"])
@pytest.mark.parametrize("shards", [None, 2])
def test_an_exception_leaves_the_destination_as_it_was(
    tmp_path: Path, suffix: str, shards: int | None
) -> None:
    path = tmp_path / f"train.{suffix}"
    write(numbered_instructions(3), path)
    before = sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir())
    with pytest.raises(RuntimeError, match="broke"):
        write(failing(numbered_instructions(10), 5), path, max_rows_per_file=shards)
    assert sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir()) == before
    # And when there was nothing before, there is nothing after.
    fresh = tmp_path / "fresh" / f"train.{suffix}"
    fresh.parent.mkdir()
    with pytest.raises(RuntimeError):
        write(failing(numbered_instructions(10), 5), fresh, max_rows_per_file=shards)
    assert list(fresh.parent.iterdir()) == []


def test_a_bad_item_is_a_configuration_error_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with pytest.raises(ConfigurationError, match="expected instructkit records"):
        write([*numbered_instructions(2), {"instruction": "q"}], path)  # type: ignore[list-item]
    assert list(tmp_path.iterdir()) == []


KILLER = textwrap.dedent(
    """
    import os, sys
    from instructkit import Instruction, write

    def records():
        for i in range(200_000):
            if i == int(sys.argv[2]):
                os._exit(3)  # no clean-up of any kind, as if the machine lost power
            yield Instruction(instruction=f"question {i}", response="answer " * 10)

    shards = int(sys.argv[3]) or None
    write(records(), sys.argv[1], max_rows_per_file=shards)
    """
)


def contents(path: Path) -> bytes:
    """A file's bytes; a folder's (a sharded write's temporary one) files', joined."""
    if path.is_dir():
        return b"".join(part.read_bytes() for part in sorted(path.iterdir()))
    return path.read_bytes()


@pytest.mark.parametrize(("previous", "shards"), [(True, 0), (False, 0), (True, 5_000)])
def test_a_killed_writer_leaves_the_previous_content_or_nothing(
    tmp_path: Path, shards: int, previous: bool
) -> None:
    path = tmp_path / "train.jsonl"
    old = numbered_instructions(2)
    if previous:
        write(old, path, max_rows_per_file=shards or None)
    before = {p.name: contents(p) for p in tmp_path.iterdir()}
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    done = subprocess.run(
        [sys.executable, str(script), str(path), "20000", str(shards)],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr.decode()
    after = {p.name: contents(p) for p in tmp_path.iterdir() if p.name != "killer.py"}
    partial = [name for name in after if name.endswith(".tmp")]
    # The writer got half way: its temporary output is on disk, never under a final name.
    assert partial
    assert sum(len(after[name]) for name in partial) > 1_000_000
    assert {k: v for k, v in after.items() if k not in partial} == before
    if previous and not shards:
        assert list(read(path)) == old


# -- determinism and sharding -----------------------------------------------------------------


@given(
    records=st.lists(st.one_of(*RECORDS_BY_NAME.values()), max_size=7),
    size=st.integers(1, 4),
    suffix=st.sampled_from(["jsonl", "jsonl.gz", "json"]),
)
def test_shards_concatenated_equal_the_unsharded_output(
    records: list[Any], size: int, suffix: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        whole = write(records, Path(folder) / f"whole.{suffix}")
        result = write(records, Path(folder) / f"part.{suffix}", max_rows_per_file=size)
        expected_files = max(1, -(-len(records) // size))
        assert len(result.paths) == expected_files
        assert [p.name for p in result.paths] == [
            f"part-{i:05d}-of-{expected_files:05d}.{suffix}" for i in range(expected_files)
        ]
        assert sum(result.rows_per_file) == result.rows == whole.rows == len(records)
        assert all(n <= size for n in result.rows_per_file)
        back = [r for p in result.paths for r in read(p)]
        assert back == records == list(read(whole.paths[0]))
        if suffix == "jsonl":
            joined = b"".join(p.read_bytes() for p in result.paths)
            assert joined == whole.paths[0].read_bytes()


@pytest.mark.parametrize("suffix", ["jsonl", "json", "parquet"])
def test_empty_input_still_writes_one_file(tmp_path: Path, suffix: str) -> None:
    result = write([], tmp_path / f"e.{suffix}", record=Instruction, max_rows_per_file=10)
    assert [p.name for p in result.paths] == [f"e-00000-of-00001.{suffix}"]
    assert result.rows_per_file == (0,)
    assert list(read(result.paths[0])) == []


def test_rewriting_shards_removes_stale_ones_only(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    write(numbered_instructions(10), path, max_rows_per_file=2)
    (tmp_path / "train.jsonl").write_text("unsharded file: kept\n")
    (tmp_path / "train-notes.txt").write_text("kept\n")
    (tmp_path / "other-00000-of-00001.jsonl").write_text("kept\n")
    result = write(numbered_instructions(3), path, max_rows_per_file=2)
    listed = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert listed == [
        "other-00000-of-00001.jsonl",
        "train-00000-of-00002.jsonl",
        "train-00001-of-00002.jsonl",
        "train-notes.txt",
        "train.jsonl",
    ]
    assert [r for p in result.paths for r in read(p)] == numbered_instructions(3)


@pytest.mark.parametrize("shards", [None, 10_000])
def test_an_iterator_is_never_materialised(tmp_path: Path, shards: int | None) -> None:
    import tracemalloc

    def records() -> Iterator[Instruction]:
        for i in range(40_000):
            yield Instruction(instruction=f"question {i}", response="answer " * 20)

    tracemalloc.start()
    try:
        result = write(records(), tmp_path / "a.jsonl", max_rows_per_file=shards)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.rows == 40_000
    assert sum(p.stat().st_size for p in result.paths) > 6_000_000
    assert peak < 2_500_000, peak  # a batch of lines and the file buffer, not the stream


def test_stream_with_a_shard_size_does_not_read_ahead_more_than_a_batch(tmp_path: Path) -> None:
    seen: list[int] = []

    def records() -> Iterator[Instruction]:
        for index, record in enumerate(numbered_instructions(100)):
            seen.append(index)
            if index == 50:
                raise RuntimeError("stop")
            yield record

    with pytest.raises(RuntimeError):
        write(records(), tmp_path / "a.jsonl", max_rows_per_file=10)
    assert seen[-1] == 50  # the error surfaced as soon as the bad item was pulled


# -- dialects, record types, formats --------------------------------------------------------------


def test_writing_a_dialect_and_reading_it_back(tmp_path: Path) -> None:
    records = [
        Instruction(instruction="Add.", input="2 and 2", response="4"),
        Instruction(instruction="Name a colour.", response="Blue"),
    ]
    path = tmp_path / "alpaca.jsonl"
    result = write(records, path, dialect="alpaca")
    assert result.dialect == "alpaca"
    assert (
        path.read_text().splitlines()[1]
        == '{"instruction":"Name a colour.","input":"","output":"Blue"}'
    )
    with read(path) as reader:
        assert list(reader) == records
    assert reader.dialect == "alpaca"


def test_strict_dialect_writes_raise_and_leave_nothing(tmp_path: Path) -> None:
    record = Conversation(
        messages=[
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a", "name": "bot"},
        ]
    )
    losses = LossReport()
    write([record], tmp_path / "lossy.jsonl", dialect="alpaca", losses=losses)
    assert losses
    with pytest.raises(LossyConversionError):
        write([record], tmp_path / "strict.jsonl", dialect="alpaca", strict=True)
    assert not (tmp_path / "strict.jsonl").exists()


def test_record_keyword_converts_before_writing(tmp_path: Path) -> None:
    records = numbered_instructions(3)
    path = tmp_path / "chats.jsonl"
    write(records, path, record=Conversation)
    assert all(type(r) is Conversation for r in read(path))
    assert list(read(path, record=Instruction)) == records
    with pytest.raises(Exception, match="Preference"):
        write(records, tmp_path / "p.jsonl", record=Preference)


@pytest.mark.parametrize("kind", sorted(RECORDS_BY_NAME))
@given(data=st.data())
def test_parquet_round_trip_through_the_same_verbs(kind: str, data: st.DataObject) -> None:
    records = data.draw(st.lists(RECORDS_BY_NAME[kind], min_size=1, max_size=4))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.parquet"
        result = write(records, path)
        assert result.rows == len(records)
        with read(path) as reader:
            assert list(reader) == records
        assert reader.report.valid == len(records)
        # The row-by-row path (taken when rows must be kept for a rejects file) agrees.
        with read(path, rejects=Path(folder) / "rejects.jsonl") as reader:
            assert list(reader) == records


def test_parquet_shards_and_dialects(tmp_path: Path) -> None:
    result = write(numbered_instructions(5), tmp_path / "train.parquet", max_rows_per_file=2)
    assert [p.name for p in result.paths] == [f"train-{i:05d}-of-00003.parquet" for i in range(3)]
    assert result.rows_per_file == (2, 2, 1)
    write(numbered_instructions(3), tmp_path / "alpaca.parquet", dialect="alpaca")
    with read(tmp_path / "alpaca.parquet") as reader:
        assert list(reader) == numbered_instructions(3)
    assert reader.dialect == "alpaca"


def test_parquet_rows_that_fail_are_rejected_by_row(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {"instruction": ["q", "", "r"], "input": ["", "", ""], "output": ["a", "b", "c"]}
    )
    pq.write_table(table, tmp_path / "rows.parquet")
    rejects = tmp_path / "rejects.jsonl"
    with read(tmp_path / "rows.parquet", on_error="skip", rejects=rejects) as reader:
        assert [r.instruction for r in reader] == ["q", "r"]
    (rejection,) = reader.report.rejections
    assert (rejection.row, rejection.line) == (1, None)
    import orjson

    entry = orjson.loads(rejects.read_bytes())
    assert entry["row"] == 1
    assert entry["raw_encoding"] == "json"
    assert orjson.loads(entry["raw"]) == {"instruction": "", "input": "", "output": "b"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"compression": "gzip"}, "compression"),
        ({"metadata": {"a": "b"}}, "metadata"),
        ({"row_group_size": 10}, "row_group_size"),
        ({"max_rows_per_file": 0}, "max_rows_per_file"),
        ({"dialect": "auto"}, "dialect"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_write_keywords(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        write(numbered_instructions(1), tmp_path / "a.jsonl", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_records_must_be_an_iterable_of_records(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="iterable of records"):
        write({"instruction": "q"}, tmp_path / "a.jsonl")  # type: ignore[arg-type]


def test_non_finite_numbers_in_meta_are_refused_not_nulled(tmp_path: Path) -> None:
    from instructkit import RecordValidationError

    meta = {"scores": [1.0, float("nan")]}
    with pytest.raises(RecordValidationError):
        Instruction(instruction="q", response="a", meta=meta)
    # Records built without validation (model_construct) still never reach the file as null.
    record = Instruction.model_construct(
        instruction="q", input="", response="a", system=None, id=None, meta=meta
    )
    with pytest.raises(RecordValidationError) as caught:
        write([record], tmp_path / "a.jsonl")
    assert caught.value.loc == "$.meta.scores[1]"
    assert not (tmp_path / "a.jsonl").exists()


@pytest.mark.parametrize("suffix", ["jsonl", "json"])
def test_integers_beyond_64_bits_from_unvalidated_records_are_written_exactly(
    tmp_path: Path, suffix: str
) -> None:
    # orjson refuses them; the writer falls back to pydantic's serializer, which writes the
    # number digit for digit rather than failing or rounding it.
    big = 2**70 + 1
    record = Instruction.model_construct(
        instruction="q", input="", response="a", system=None, id=None, meta={"n": big}
    )
    plain = Instruction(instruction="q", response="a", meta={"n": 1})
    path = tmp_path / f"a.{suffix}"
    write([plain, record, plain], path)
    text = path.read_bytes()
    assert str(big).encode() in text
    rows = json.loads(text) if suffix == "json" else [json.loads(x) for x in text.splitlines()]
    assert [row["meta"]["n"] for row in rows] == [1, big, 1]
