"""Sharded sets are committed as a whole: readers see one set or raise, never a mix.

Also the other promises of atomic writing: permissions kept, temporaries of killed writers
cleaned up, symbolic links written through.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import instructkit._atomic as atomic
from instructkit import Instruction, ShardSetError, read, read_raw, read_table, write

posix_only = pytest.mark.skipif(atomic.fcntl is None, reason="needs fcntl locks and SIGKILL")


def batch(tag: str, count: int) -> list[Instruction]:
    return [Instruction(instruction=f"{tag} {n}", response=tag) for n in range(count)]


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class Killed(BaseException):
    """Stands for the process dying: nothing catches it on the way out."""


def listed(folder: Path, suffix: str) -> list[Path]:
    # What a tool that globs the folder (as datasets does for "train-*") would read.
    return sorted(folder.glob(f"train-*{suffix}"))


def outcome(paths: list[Path]) -> list[str] | str:
    """The instructions all three readers agree on, or "refused" if they all raise."""
    results: list[list[str] | str] = []
    for reader in (
        lambda: [record.instruction for record in read(paths)],
        lambda: [row["instruction"] for row in read_raw(paths)],
        lambda: read_table(paths).column("instruction").to_pylist(),
    ):
        try:
            results.append(reader())
        except (ShardSetError, FileNotFoundError):
            results.append("refused")
    assert all(result == results[0] for result in results), results
    return results[0]


def texts(records: list[Instruction]) -> list[str]:
    return [record.instruction for record in records]


# Every file system change of a commit: os.replace of the manifest (twice) and of each shard,
# and the named steps between them (after "cleared" the stale shards are gone).
STEPS = ["written", "announced", "renamed 0", "renamed 1", "renamed 2", "cleared", "committed"]


KILLS = [
    # (suffix, rows of the old set, where the new write dies); 6 old rows give the same
    # shard names as the new set's 5, 8 rows give other names.
    *[(".jsonl", rows, f"step {step}") for rows in (6, 8) for step in STEPS],
    *[(".jsonl", 6, f"replace {n}") for n in range(5)],
    *[(".parquet", 8, f"step {step}") for step in STEPS[1:4]],
]


@pytest.mark.parametrize(("suffix", "old_count", "kill"), KILLS)
def test_a_commit_killed_at_any_step_reads_as_the_old_set_or_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, old_count: int, kill: str
) -> None:
    dest = tmp_path / f"train{suffix}"
    old, new = batch("old", old_count), batch("new", 5)
    old_paths = list(write(old, dest, max_rows_per_file=2).paths)
    how, _, which = kill.partition(" ")
    if how == "step":

        def die_at(step: str) -> None:
            if step == which:
                raise Killed

        monkeypatch.setattr(atomic, "_commit_step", die_at)
    else:
        calls = iter(range(100))
        real_replace = os.replace

        def replace_then_die(src: Any, dst: Any) -> None:
            if next(calls) == int(which):
                raise Killed
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace_then_die)
    try:
        write(new, dest, max_rows_per_file=2)
    except Killed:
        pass
    monkeypatch.undo()
    for paths in (old_paths, listed(tmp_path, suffix)):
        assert outcome(paths) in (texts(old), texts(new), "refused")
    # What a reader of the destination sees: the old set until the new one is announced,
    # then a refusal until it is committed.
    try:
        seen = outcome(atomic.committed_shards(dest) or [])
    except ShardSetError:
        seen = "refused"
    before = kill in ("step written", "replace 0")
    assert seen == (texts(old) if before else texts(new) if kill == "step committed" else "refused")
    # Writing again repairs whatever the kill left.
    result = write(new, dest, max_rows_per_file=2)
    assert outcome(list(result.paths)) == texts(new)
    assert visible(tmp_path) == [p.name for p in result.paths]
    assert hidden(tmp_path) == [f".train{suffix}.lock", f".train{suffix}.shards.json"]
