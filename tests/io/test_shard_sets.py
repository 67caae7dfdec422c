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
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import instructkit._io._atomic as atomic
from instructkit import (
    ConfigurationError,
    Instruction,
    ShardSetError,
    read,
    read_raw,
    read_table,
    write,
)

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
    if not paths:
        return []  # no set at all
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
    with suppress(Killed):
        write(new, dest, max_rows_per_file=2)
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


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_set_replaced_while_it_is_read_is_refused(tmp_path: Path, suffix: str) -> None:
    dest = tmp_path / f"train{suffix}"
    paths = list(write(batch("old", 6), dest, max_rows_per_file=2).paths)
    reader = read(paths)
    assert next(reader).instruction == "old 0"
    write(batch("new", 6), dest, max_rows_per_file=2)  # the same three names
    with pytest.raises(ShardSetError, match="while it is read") as caught:
        list(reader)
    assert caught.value.file == os.fspath(tmp_path / f".train{suffix}.shards.json")


def test_shards_of_two_writes_are_refused_by_name(tmp_path: Path) -> None:
    dest = tmp_path / "train.jsonl"
    result = write(batch("a", 5), dest, max_rows_per_file=2)
    # A shard the manifest does not name: copied in, or left by a write of another tool.
    stray = tmp_path / "train-00003-of-00004.jsonl"
    stray.write_bytes(result.paths[0].read_bytes())
    with pytest.raises(ShardSetError, match="left from another write") as caught:
        read([*result.paths, stray])
    assert caught.value.file == os.fspath(stray)
    assert list(read(result.paths)) == batch("a", 5)
    # Without a manifest, shards must at least agree on their count.
    (tmp_path / ".train.jsonl.shards.json").unlink()
    with pytest.raises(ShardSetError, match="expected shards of one set"):
        read_table([result.paths[0], stray])
    assert len(list(read_raw(result.paths))) == 5


def test_an_incomplete_commit_is_refused_at_the_call(tmp_path: Path) -> None:
    dest = tmp_path / "train.jsonl"
    result = write(batch("a", 3), dest, max_rows_per_file=2)
    manifest = tmp_path / ".train.jsonl.shards.json"
    manifest.write_text(manifest.read_text().replace('"complete": true', '"complete": false'))
    with pytest.raises(ShardSetError, match="interrupted") as caught:
        read(result.paths)
    assert caught.value.file == os.fspath(manifest)
    manifest.write_text("[]")
    with pytest.raises(ShardSetError, match="expected a shard set manifest"):
        read_table(result.paths)


KILLER = """
import os, signal, sys
import instructkit._io._atomic as atomic
from instructkit import Instruction, write

def die_at(step):
    if step == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)

atomic._commit_step = die_at
rows = [Instruction(instruction=f"new {n}", response="new") for n in range(5)]
write(rows, sys.argv[1], max_rows_per_file=2)
"""


@posix_only
def test_a_writer_killed_outright_leaves_a_set_the_next_write_repairs(tmp_path: Path) -> None:
    # Killed after its first rename: the worst moment, one shard new and the others old.
    dest = tmp_path / "train.jsonl"
    old = write(batch("old", 8), dest, max_rows_per_file=2)
    done = subprocess.run(
        [sys.executable, "-c", KILLER, os.fspath(dest), "renamed 0"],
        capture_output=True,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    (workspace,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert workspace.is_dir()  # the dead writer could not clean up
    for paths in (old.paths, listed(tmp_path, ".jsonl")):
        with pytest.raises(ShardSetError, match="interrupted"):
            read(paths)
    result = write(batch("again", 3), dest, max_rows_per_file=2)
    assert not workspace.exists()  # its lock died with its writer: stale, so removed
    assert list(read(result.paths)) == batch("again", 3)
    assert visible(tmp_path) == [p.name for p in result.paths]


WRITER = """
import sys
from instructkit import Instruction, write

tag, rows, rounds = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
records = [Instruction(instruction=f"{tag} {n}", response=tag) for n in range(rows)]
for _ in range(rounds):
    write(records, sys.argv[1], max_rows_per_file=2)
"""


@posix_only
def test_two_processes_writing_one_set_never_leave_a_mix(tmp_path: Path) -> None:
    dest = tmp_path / "train.jsonl"
    write(batch("a", 5), dest, max_rows_per_file=2)
    sets = {"a": texts(batch("a", 5)), "b": texts(batch("b", 8))}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, os.fspath(dest), tag, str(rows), "10"])
        for tag, rows in (("a", 5), ("b", 8))
    ]
    seen = set()
    try:
        while any(writer.poll() is None for writer in writers):
            try:
                paths = atomic.committed_shards(dest) or []
                got = [record.instruction for record in read(paths)]
            except (ShardSetError, FileNotFoundError):
                seen.add("refused")
                continue
            assert got in sets.values()  # never shards of both
            seen.add(got[0].split()[0])
    finally:
        for writer in writers:
            assert writer.wait(timeout=120) == 0
    final = [record.instruction for record in read(atomic.committed_shards(dest) or [])]
    assert final in sets.values()
    assert visible(tmp_path) == [p.name for p in atomic.committed_shards(dest) or []]
    assert hidden(tmp_path) == [".train.jsonl.lock", ".train.jsonl.shards.json"]


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
@pytest.mark.parametrize("name", ["a.jsonl", "a.json.gz", "a.parquet"])
def test_a_rewritten_file_keeps_its_permissions(tmp_path: Path, name: str) -> None:
    dest = tmp_path / name
    with umask(0o022):
        write(batch("a", 2), dest)
        assert mode(dest) == 0o644  # a new file: 0o666 less the umask, as open() gives
        dest.chmod(0o600)
        write(batch("b", 2), dest)
    assert mode(dest) == 0o600
    assert list(read(dest)) == batch("b", 2)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_a_rewritten_shard_set_keeps_its_permissions(tmp_path: Path) -> None:
    dest = tmp_path / "train.jsonl"
    with umask(0o022):
        first = write(batch("a", 4), dest, max_rows_per_file=2)
        for path in first.paths:
            path.chmod(0o640)
        again = write(batch("b", 7), dest, max_rows_per_file=2)  # new names: 4 shards
    assert [mode(path) for path in again.paths] == [0o640] * 4


@posix_only
def test_temporaries_of_killed_writes_are_removed_by_the_next_write(tmp_path: Path) -> None:
    import fcntl

    dest = tmp_path / "train.jsonl"
    stale_file = tmp_path / ".train.jsonl.0123456789ab.tmp"
    stale_file.write_bytes(b"half a line")
    stale_folder = tmp_path / ".train.jsonl.ba9876543210.tmp"
    stale_folder.mkdir()
    (stale_folder / "00000.jsonl").write_bytes(b"{}\n")
    live = tmp_path / ".train.jsonl.aaaaaaaaaaaa.tmp"
    live.write_bytes(b"being written")
    others = [
        tmp_path / ".train.jsonl.backup.tmp",  # not our pattern
        tmp_path / ".other.jsonl.0123456789ab.tmp",  # another destination's
    ]
    for other in others:
        other.write_bytes(b"not ours")
    link = tmp_path / ".train.jsonl.cccccccccccc.tmp"
    link.symlink_to(stale_file)  # never followed, never removed
    handle = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)  # a live writer holds the lock of its temporary
        write(batch("a", 3), dest)
        assert not stale_file.exists()
        assert not stale_folder.exists()
        assert live.exists()
        assert all(other.exists() for other in others)
        assert link.is_symlink()
        write(batch("a", 3), dest, max_rows_per_file=2)  # a sharded write cleans up too
        assert live.exists()
    finally:
        os.close(handle)
    write(batch("a", 3), dest)
    assert not live.exists()  # its writer is gone


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
@pytest.mark.parametrize("name", ["a.jsonl", "a.parquet"])
def test_a_symbolic_link_is_written_through(tmp_path: Path, name: str) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    target = storage / name
    link = tmp_path / name
    link.symlink_to(target)  # dangling: the write creates the target, as open() would
    write(batch("a", 2), link)
    assert link.is_symlink()
    assert target.is_file()
    write(batch("b", 2), link)
    assert link.is_symlink()
    assert os.readlink(link) == os.fspath(target)
    assert list(read(target)) == batch("b", 2)
    assert sorted(p.name for p in storage.iterdir()) == [name]  # no temporary left


@given(
    writes=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=7),  # rows
            st.integers(min_value=1, max_value=3),  # max_rows_per_file
            st.sampled_from([None, "written", "announced", "renamed 0", "cleared", "committed"]),
        ),
        min_size=1,
        max_size=4,
    )
)
@settings(max_examples=15)
def test_after_any_writes_and_kills_readers_see_the_last_committed_set_or_refuse(
    writes: list[tuple[int, int, str | None]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        dest = Path(folder) / "train.jsonl"
        committed: list[str] = []
        broken = False  # an announced commit that did not finish
        for number, (rows, limit, kill) in enumerate(writes):
            records = batch(f"w{number}", rows)

            def die_at(step: str, kill: str | None = kill) -> None:
                if step == kill:
                    raise Killed

            original: Callable[[str], None] = atomic._commit_step
            atomic._commit_step = die_at
            try:
                write(records, dest, max_rows_per_file=limit)
            except Killed:
                pass
            finally:
                atomic._commit_step = original
            if kill is None or kill == "committed":
                committed, broken = texts(records), False
            elif kill != "written":
                broken = True
            try:
                got: list[str] | str = outcome(atomic.committed_shards(dest) or [])
            except ShardSetError:
                got = "refused"
            assert got == ("refused" if broken else committed)
            assert outcome(listed(Path(folder), ".jsonl")) in (committed, "refused")


def test_files_written_into_the_workspace_by_others_are_committed_as_shards(
    tmp_path: Path,
) -> None:
    # How Ray workers' shards become a set: written in the workspace, adopted in order.
    records = batch("w", 5)
    parts = [records[:2], records[2:]]
    with atomic.ShardSet(tmp_path / "train.jsonl", max_rows_per_file=None) as shards:
        for index, part in enumerate(parts):
            done = shards.workspace() / f"worker-{index}.jsonl"
            write(part, done)
            shards.adopt(done)
    assert [p.name for p in shards.paths] == [
        "train-00000-of-00002.jsonl",
        "train-00001-of-00002.jsonl",
    ]
    with read(list(shards.paths)) as reader:
        assert list(reader) == records
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_only_files_in_the_workspace_are_adopted(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.jsonl"
    write(batch("o", 1), outside)
    with atomic.ShardSet(tmp_path / "train.jsonl", max_rows_per_file=None) as shards:
        with pytest.raises(ConfigurationError, match="expected a file in the shard set's"):
            shards.adopt(outside)
        shards.abort()
    assert outside.exists()
    assert not list(tmp_path.glob("train-*"))
    with pytest.raises(ConfigurationError, match="already finished"):
        shards.workspace()
