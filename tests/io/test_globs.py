"""Glob patterns and folders in read, read_raw and read_table: sorted, checked, located."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instructkit import ShardSetError, read, read_raw, read_table, write
from instructkit._io._paths import source_paths
from record_fixtures import numbered_instructions

READERS = [read, read_raw, read_table]


def _count(reader: Any, source: Any) -> int:
    got = reader(source)
    return got.num_rows if reader is read_table else len(list(got))


@settings(max_examples=20)
@given(st.lists(st.text("abcXY-_0123456789", min_size=1, max_size=6), min_size=1, unique=True))
def test_a_folder_and_a_glob_read_in_sorted_order(stems: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        names = sorted(f"{stem}.jsonl" for stem in stems)  # by the whole name's text
        expected = numbered_instructions(len(names))  # one record per file, in that order
        # Written in another order than sorted, so the listing order cannot pass for it.
        for index, name in sorted(enumerate(names), key=lambda p: p[1][::-1]):
            write([expected[index]], os.path.join(folder, name))
        assert list(read(folder)) == expected
        assert list(read(os.path.join(folder, "*.jsonl"))) == expected
        listed = [os.path.join(folder, name) for name in names]
        assert read_table(Path(folder)).to_pylist() == read_table(listed).to_pylist()


def test_a_folder_holds_its_own_readable_files_only(tmp_path: Path) -> None:
    write(numbered_instructions(2), tmp_path / "b.jsonl")
    write(numbered_instructions(2, start=2), tmp_path / "a.parquet")
    (tmp_path / "notes.txt").write_text("not data")
    (tmp_path / ".hidden.jsonl").write_text("not json\n")
    (tmp_path / "sub").mkdir()
    write(numbered_instructions(1, start=9), tmp_path / "sub" / "c.jsonl")
    assert [os.path.basename(p) for p in source_paths(tmp_path)] == ["a.parquet", "b.jsonl"]
    assert list(read(tmp_path)) == numbered_instructions(2, start=2) + numbered_instructions(2)
    # `**` reaches into folders; hidden names stay out.
    found = source_paths(str(tmp_path / "**" / "*.jsonl"))
    assert [os.path.relpath(p, tmp_path) for p in found] == [
        "b.jsonl",
        os.path.join("sub", "c.jsonl"),
    ]


def test_a_glob_of_a_sharded_write_leaves_its_manifest_and_lock_out(tmp_path: Path) -> None:
    records = numbered_instructions(10)
    result = write(records, tmp_path / "train.jsonl.gz", max_rows_per_file=3)
    assert (tmp_path / ".train.jsonl.gz.shards.json").exists()
    assert list(source_paths(str(tmp_path / "*"))) == [str(p) for p in result.paths]
    for reader in READERS:
        assert _count(reader, str(tmp_path / "train-*.jsonl.gz")) == 10
        assert _count(reader, tmp_path) == 10


@pytest.mark.parametrize("reader", READERS)
def test_a_glob_missing_a_shard_is_refused(tmp_path: Path, reader: Any) -> None:
    result = write(numbered_instructions(10), tmp_path / "train.parquet", max_rows_per_file=3)
    result.paths[2].unlink()
    pattern = str(tmp_path / "train-*.parquet")
    with pytest.raises(ShardSetError, match="expected all 4 shards") as caught:
        reader(pattern)
    assert caught.value.file == str(result.paths[2])
    assert pattern in str(caught.value)
    # Named one by one, the shards present are still read (as before).
    assert _count(reader, [result.paths[0], result.paths[1]]) == 6


@pytest.mark.parametrize("reader", READERS)
def test_a_pattern_or_folder_without_files_names_itself(tmp_path: Path, reader: Any) -> None:
    pattern = str(tmp_path / "nothing-*.jsonl")
    with pytest.raises(FileNotFoundError, match="glob pattern") as caught:
        reader(pattern)
    assert caught.value.filename == pattern
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no data")
    with pytest.raises(FileNotFoundError, match="folder") as folder:
        reader(tmp_path / "empty")
    assert folder.value.filename == str(tmp_path / "empty")


def test_an_existing_name_with_brackets_is_a_file_not_a_pattern(tmp_path: Path) -> None:
    path = tmp_path / "train[1].jsonl"
    write(numbered_instructions(2), path)
    assert source_paths(path) == (path,)
    assert list(read(path)) == numbered_instructions(2)


def test_a_list_expands_each_item_in_the_list_order(tmp_path: Path) -> None:
    write(numbered_instructions(1), tmp_path / "a.jsonl")
    write(numbered_instructions(1, start=1), tmp_path / "b.jsonl")
    write(numbered_instructions(1, start=2), tmp_path / "c.jsonl")
    got = list(read([tmp_path / "c.jsonl", str(tmp_path / "[ab].jsonl")]))
    assert got == numbered_instructions(1, start=2) + numbered_instructions(
        1
    ) + numbered_instructions(1, start=1)
