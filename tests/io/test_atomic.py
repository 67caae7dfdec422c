"""Atomic files and shard sets: all or nothing, named the Hugging Face Hub way."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from instructkit import ConfigurationError
from instructkit._io._atomic import ShardSet, atomic_open, atomic_path, plan_shards
from instructkit._io._paths import shard_name, split_suffix


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def visible(folder: Path) -> list[str]:
    """The names a listing shows, without the set's manifest and lock."""
    return [name for name in names(folder) if not name.startswith(".")]


def test_atomic_open_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    with atomic_open(target) as f:
        f.write(b"one")
        assert not target.exists()  # nothing under the final name until the end
    assert target.read_bytes() == b"one"

    def interrupted() -> None:
        with atomic_open(target) as f:
            f.write(b"two")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert target.read_bytes() == b"one"
    assert names(tmp_path) == ["a.bin"]


def test_atomic_path_for_writers_that_want_a_name(tmp_path: Path) -> None:
    target = tmp_path / "a.parquet"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".a.parquet.")
        assert tmp.name.endswith(".tmp")
        tmp.write_bytes(b"data")
    assert target.read_bytes() == b"data"

    def failing() -> None:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        failing()
    assert names(tmp_path) == ["a.parquet"]
    assert target.read_bytes() == b"data"


def test_permissions_follow_the_umask_like_a_plain_open(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_open(tmp_path / "a") as f:
            f.write(b"x")
        plain = tmp_path / "b"
        plain.write_bytes(b"x")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "a").stat().st_mode)
    assert mode == stat.S_IMODE(plain.stat().st_mode) == 0o644


def test_split_suffix_keeps_compound_suffixes() -> None:
    assert split_suffix("d/train.jsonl.gz") == (Path("d/train"), ".jsonl.gz")
    assert split_suffix("train.JSONL.ZST") == (Path("train"), ".JSONL.ZST")
    assert split_suffix("x.parquet") == (Path("x"), ".parquet")
    assert split_suffix("notes.txt") == (Path("notes"), ".txt")
    assert split_suffix(".jsonl") == (Path(".jsonl"), "")


def test_shard_names_and_plans() -> None:
    assert shard_name("train", 3, 4, ".parquet") == "train-00003-of-00004.parquet"
    assert shard_name("t", 0, 123456, ".jsonl") == "t-000000-of-123456.jsonl"
    with pytest.raises(ConfigurationError):
        shard_name("t", 4, 4, ".jsonl")
    assert plan_shards(0, 3) == [(0, 0)]
    assert plan_shards(6, 3) == [(0, 3), (3, 6)]
    assert plan_shards(7, 3) == [(0, 3), (3, 6), (6, 7)]
    with pytest.raises(ConfigurationError):
        plan_shards(5, 0)


def test_a_shard_set_appears_all_at_once(tmp_path: Path) -> None:
    with ShardSet(tmp_path / "train.jsonl", max_rows_per_file=2) as shards:
        for index in range(3):
            shards.add().write_bytes(b"%d" % index)
        assert all(name.endswith(".tmp") for name in names(tmp_path))
    assert visible(tmp_path) == [f"train-0000{i}-of-00003.jsonl" for i in range(3)]
    assert names(tmp_path)[:2] == [".train.jsonl.lock", ".train.jsonl.shards.json"]
    assert [p.read_bytes() for p in shards.paths] == [b"0", b"1", b"2"]
    with pytest.raises(ConfigurationError):
        shards.add()


def test_a_failed_shard_set_leaves_everything_as_it_was(tmp_path: Path) -> None:
    with ShardSet(tmp_path / "train.jsonl", max_rows_per_file=2) as shards:
        shards.add().write_bytes(b"old")
    before = names(tmp_path)

    def failing() -> None:
        with ShardSet(tmp_path / "train.jsonl", max_rows_per_file=2) as again:
            again.add().write_bytes(b"new")
            again.add().write_bytes(b"new")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing()
    assert names(tmp_path) == before
    assert (tmp_path / visible(tmp_path)[0]).read_bytes() == b"old"


def test_a_long_write_is_flushed_to_disk_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The final fsync of a big file should find little left to do: what is written is
    # flushed in the background as the writing goes on.
    import instructkit._io._atomic as atomic

    flushed_sizes: list[int] = []
    real_sync = getattr(os, "fdatasync", os.fsync)

    def recording_sync(fd: int) -> None:
        flushed_sizes.append(os.fstat(fd).st_size)
        real_sync(fd)

    monkeypatch.setattr(atomic, "_SYNC_INTERVAL", 0.005)
    monkeypatch.setattr(os, "fdatasync" if hasattr(os, "fdatasync") else "fsync", recording_sync)
    target = tmp_path / "big.bin"
    with atomic_open(target) as f:
        f.write(b"x" * 100)
        f.flush()
        deadline = time.monotonic() + 5
        while not any(size >= 100 for size in flushed_sizes) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert any(size >= 100 for size in flushed_sizes)
        f.write(b"y")
    assert target.read_bytes() == b"x" * 100 + b"y"


def test_a_failed_background_flush_fails_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel reports a failed write-back once; if the background flush saw it, the
    # final fsync may not, so the error must surface from the writer itself.
    import instructkit._io._atomic as atomic

    def failing_sync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic, "_SYNC_INTERVAL", 0.001)
    monkeypatch.setattr(os, "fdatasync" if hasattr(os, "fdatasync") else "fsync", failing_sync)
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    def write_slowly() -> None:
        with atomic_open(target) as f:
            f.write(b"new")
            time.sleep(0.05)

    with pytest.raises(OSError, match="Input/output error"):
        write_slowly()
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["a.bin"]
