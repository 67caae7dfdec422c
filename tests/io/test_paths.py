"""The one table of file names: every suffix a reader accepts shards and reads back whole."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instructkit import ConfigurationError, Instruction, read, read_raw, read_table, write
from instructkit._io._paths import (
    FORMATS,
    KNOWN_SUFFIXES,
    SUFFIXES,
    compression_for,
    format_of_name,
    resolve_format,
    shard_name,
    split_suffix,
)
from instructkit.strategies import conversations, instructions, preferences

KINDS = {
    "instruction": instructions(),
    "conversation": conversations(),
    "preference": preferences(),
}

# read_table reads JSON Lines and Parquet, not JSON arrays.
TABLE_KINDS = ("jsonl", "parquet")


def make(n: int) -> list[Instruction]:
    return [Instruction(instruction=f"question {i}", response=f"answer {i}") for i in range(n)]


def test_a_sharded_ndjson_gz_write_keeps_its_suffix_and_reads_back(tmp_path: Path) -> None:
    records = make(3)
    result = write(records, tmp_path / "train.ndjson.gz", max_rows_per_file=2)
    assert [p.name for p in result.paths] == [
        "train-00000-of-00002.ndjson.gz",
        "train-00001-of-00002.ndjson.gz",
    ]
    assert list(read(list(result.paths))) == records
    assert read_table(list(result.paths)).column("response").to_pylist() == [
        r.response for r in records
    ]


@given(
    data=st.data(),
    kind=st.sampled_from(sorted(KINDS)),
    size=st.integers(1, 3),
    suffix=st.sampled_from(sorted(SUFFIXES)),
    upper=st.booleans(),
)
@settings(max_examples=40)
def test_every_accepted_suffix_shards_and_reads_back_as_the_records(
    data: st.DataObject, kind: str, size: int, suffix: str, upper: bool
) -> None:
    records = data.draw(st.lists(KINDS[kind], max_size=5))
    name = "part" + (suffix.upper() if upper else suffix)
    with tempfile.TemporaryDirectory() as folder:
        result = write(records, Path(folder) / name, max_rows_per_file=size, record=kind)
        # Every shard keeps the whole suffix, so it names the same format as the destination.
        assert all(p.name.endswith(name[len("part") :]) for p in result.paths)
        assert sum(result.rows_per_file) == len(records)
        with read(list(result.paths)) as reader:
            assert list(reader) == records
        assert reader.report.balanced
        assert list(read_raw(result.paths)) == [record.to_dict() for record in records]
        if FORMATS[SUFFIXES[suffix]][0] in TABLE_KINDS:
            table = read_table(list(result.paths), record=kind)
            whole = write(records, Path(folder) / f"whole{suffix}", record=kind).paths[0]
            assert table.equals(read_table(whole, record=kind), check_metadata=True)


@pytest.mark.parametrize("suffix", sorted(SUFFIXES))
def test_a_shard_name_splits_back_into_its_stem_and_suffix(suffix: str) -> None:
    base, found = split_suffix(Path("d") / shard_name("train", 1, 3, suffix))
    assert (base, found) == (Path("d/train-00001-of-00003"), suffix)


@pytest.mark.parametrize("suffix", sorted(SUFFIXES))
def test_the_name_gives_the_format_and_its_compression(suffix: str) -> None:
    chosen = resolve_format(f"x{suffix}", None)
    assert chosen == SUFFIXES[suffix] == format_of_name(f"X{suffix.upper()}")
    assert compression_for(f"x{suffix}") == FORMATS[chosen][1]


def test_a_suffix_ending_in_another_comes_before_it() -> None:
    # So that ".jsonl.gz" is found whole, never as ".gz" or a name ending in "l.gz".
    for longer in KNOWN_SUFFIXES:
        for shorter in KNOWN_SUFFIXES:
            if longer != shorter and longer.endswith(shorter):
                assert KNOWN_SUFFIXES.index(longer) < KNOWN_SUFFIXES.index(shorter)


def test_an_unknown_suffix_names_the_accepted_ones() -> None:
    assert format_of_name("notes.txt") is None
    with pytest.raises(ConfigurationError, match=r"\.ndjson\.gz.*got 'notes\.txt'"):
        resolve_format("notes.txt", None)
