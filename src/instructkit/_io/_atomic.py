"""Atomic file writing and shard naming, shared by every writer (JSONL, JSON, Parquet).

A writer never touches its destination until the output is complete: it writes a hidden
temporary file in the destination's own folder (so the final rename stays on one file
system), flushes and fsyncs it, and then moves it over the destination with
:func:`os.replace`. If anything goes wrong first (an exception, a bad record, ``Ctrl-C``) the
temporary file is removed and the destination keeps its previous content, or stays absent.
A process killed outright (``SIGKILL``, ``os._exit``) cannot clean up, so it may leave a
``.<name>.<random>.tmp`` file next to the destination, but never a partial destination; the
next write to the same destination removes it. A writer holds an exclusive ``flock`` on its
temporary for as long as it exists, so "stale" is exact: a temporary of our naming pattern
whose lock can be taken belongs to no live writer (the kernel drops a killed process's
locks). Where ``fcntl`` is missing (Windows) nothing is locked and nothing is cleaned.

A rewritten destination keeps its permission bits; a new one gets ``0o666`` less the umask,
like :func:`open`. A destination that is a symbolic link is written through: the link stays
and its target is replaced atomically (the temporary file lives next to the target).

One module although it is a little over 600 lines: the single-file commit, the sharded-set
commit (manifest and lock) and the readers' check of a set share one naming scheme and one
locking discipline, and are only correct together.

API (all paths may be ``str`` or :class:`os.PathLike`):

* ``with atomic_open(path) as f:`` -- ``f`` is a binary file to write to.
* ``with atomic_path(path) as tmp:`` -- ``tmp`` is a :class:`~pathlib.Path` of a fresh, empty
  temporary file for a writer that wants a file name (``pyarrow.parquet.write_table(t, tmp)``).
  The writer must have closed the file when the ``with`` block ends.
* Shard names (``train-00000-of-00004.parquet``) and suffixes come from
  :mod:`instructkit._io._paths`, the table every reader also uses.
* ``plan_shards(total, max_rows_per_file)`` -- ``[(start, stop), ...]`` when the row count
  is known in advance.
* ``ShardSet(path, max_rows_per_file=...)`` -- sharded output when the row count is *not*
  known (streaming): each ``shards.add()`` returns the temporary path of the next shard (in a
  hidden temporary folder); when the ``with`` block ends without error the set is committed,
  and ``shards.paths`` lists the final ``-NNNNN-of-NNNNN`` files. On error every temporary
  shard is removed and no final name is touched::

      with ShardSet("out/train.parquet", max_rows_per_file=100_000) as shards:
          for batch in batches:
              write_batch(batch, shards.add())
      shards.paths  # [Path("out/train-00000-of-00002.parquet"), ...]

* ``watch_shard_sets(paths)`` -- what readers call: checks that the shard files among
  ``paths`` belong to one committed set, and returns a function that checks, after each
  file has been opened, that no other set was committed meanwhile.

Several files cannot be renamed at once, so a set is committed through a manifest,
``.<stem><suffix>.shards.json`` (``.train.parquet.shards.json``), replaced by one rename at
each end of the commit, with ``.<stem><suffix>.lock`` held so that two writers' commits never
interleave:

1. every shard is written and fsynced in the temporary folder;
2. the lock is taken and the manifest is replaced by one naming the new set, marked
   incomplete -- from here on, readers refuse the destination;
3. the shards are renamed to their final names, and the shards of the same stem and suffix
   that are not part of the new set (an older set with another count) are removed;
4. the manifest is replaced by one marked complete, and the lock is released.

A reader sees the set the manifest names as complete, or raises :class:`ShardSetError`: for
an incomplete manifest (a commit under way, or killed; writing again repairs it), for a
shard file the manifest does not name (left from another write), and for a manifest that
changed while the files were being read. Shard files without a manifest (written by other
tools) are only checked for agreeing on their count.

One module although it is over 600 lines: the single-file writes and the shard sets share
the temporaries, their locks and the clean-up of killed writes, and the set's commit is one
protocol with the readers' check of it (:func:`watch_shard_sets`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from instructkit._errors import ConfigurationError, ShardSetError
from instructkit._io._paths import (
    SHARD_DIGITS,
    SHARD_NUMBERS,
    parse_shard_name,
    shard_name,
    split_suffix,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ShardSet",
    "atomic_open",
    "atomic_path",
    "check_max_rows",
    "committed_shards",
    "plan_shards",
    "remove_stale_temps",
    "watch_shard_sets",
]


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(r"\." + re.escape(name) + r"\.[0-9a-f]{12}\.tmp\Z")


def _try_lock(fd: int, *, wait: bool = False) -> bool | None:
    """Take an exclusive ``flock`` on ``fd``.

    Returns:
        ``True`` if taken, ``False`` if another open file holds it, ``None`` where this
        platform or file system cannot lock.
    """
    if fcntl is None:  # pragma: no cover - Windows
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError:  # pragma: no cover - a file system without locks
        return None
    return True


def _same_file(path: Path | str, fd: int) -> bool:
    try:
        found = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (found.st_dev, found.st_ino) == (mine.st_dev, mine.st_ino)


def _claim_temp(folder: Path, name: str, *, directory: bool = False) -> tuple[Path, int | None]:
    """Create and lock a fresh temporary file (or folder) for the destination ``name``.

    Returns:
        The temporary's path and a file descriptor holding its lock; closing the descriptor
        (or the process dying) releases it, and only then may another write clean it up.
        A file always has a descriptor (open for writing); a folder has none where folders
        cannot be opened (Windows), which cannot lock either.
    """
    # os.open with mode 0o666 lets the umask decide permissions, as for a plain open();
    # tempfile.mkstemp would make the final file 0600, a surprise for shared datasets.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        candidate = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            if directory:
                os.mkdir(candidate, 0o777)
                if fcntl is None:  # pragma: no cover - Windows
                    return candidate, None
                fd = os.open(candidate, os.O_RDONLY)
            else:
                fd = os.open(candidate, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits colliding
            continue
        # Another write cleaning stale temporaries may have taken this one between its
        # creation and our lock (it is removed then): start again with a new name.
        if _try_lock(fd) is False or not _same_file(candidate, fd):  # pragma: no cover
            os.close(fd)
            continue
        return candidate, fd


def remove_stale_temps(folder: Path, name: str) -> list[Path]:
    """Remove the temporaries of killed writes to ``folder / name``.

    A temporary is removed when its name follows our pattern (``.<name>.<12 hex>.tmp``), it
    is a regular file or folder (never a link), and its lock can be taken: a live writer
    holds the lock of its temporary until it is renamed or removed.

    Returns:
        The temporaries removed.
    """
    if fcntl is None:  # pragma: no cover - Windows: no lock tells a live writer's apart
        return []
    pattern = _temp_pattern(name)
    removed = []
    try:
        entries = [entry for entry in os.scandir(folder) if pattern.match(entry.name)]
    except OSError:  # pragma: no cover - the folder is missing: the write will say so
        return []
    for entry in entries:
        try:
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue  # a link, or gone already
        try:
            if _try_lock(fd) is not True or not _same_file(entry.path, fd):
                continue
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                _remove(Path(entry.path))
            removed.append(Path(entry.path))
        finally:
            os.close(fd)
    return removed


def _destination(path: str | os.PathLike[str]) -> Path:
    """The file a write to ``path`` replaces: the target, if ``path`` is a symbolic link."""
    dest = Path(path)
    # Replacing the link would silently move the data off the storage it points to.
    return Path(os.path.realpath(dest)) if dest.is_symlink() else dest


def _keep_mode(tmp: Path, dest: Path) -> None:
    """Give ``tmp`` the permission bits of the ``dest`` it is about to replace, if any."""
    try:
        mode = stat.S_IMODE(os.stat(dest).st_mode)
    except OSError:
        return  # a new file: the umask decided, as for open()
    os.chmod(tmp, mode)


def _fsync_file(path: Path) -> None:
    # Windows can only fsync a handle opened for writing.
    fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; directories cannot be opened on Windows.
    if os.name == "nt":  # pragma: no cover
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - exotic file systems
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


_SYNC_INTERVAL = 0.2
"""Seconds between the background flushes of a temporary file being written."""


@contextlib.contextmanager
def _flushing_to_disk(path: Path) -> Iterator[None]:
    """Flush ``path`` to disk in a background thread while the block writes it.

    The final fsync of a large file would otherwise wait for all of it at the end (a second
    or more per gigabyte, with the CPU idle). fsync runs without the GIL, so flushing what is
    already written every few tenths of a second overlaps the disk with the encoding, and
    the final fsync finds little left. A block shorter than the interval never flushes
    early. An error from a background flush is raised when the block ends: the kernel
    reports a failed write-back once, so the final fsync might not see it again.
    """
    stop = threading.Event()
    failures: list[OSError] = []
    fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    sync = getattr(os, "fdatasync", os.fsync)

    def flush_now_and_then() -> None:
        while not stop.wait(_SYNC_INTERVAL):
            try:
                sync(fd)
            except OSError as err:
                failures.append(err)
                return

    thread = threading.Thread(target=flush_now_and_then, name="instructkit-fsync", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        os.close(fd)
    if failures:
        raise failures[0]


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Write ``path`` atomically through a binary file object.

    Args:
        path: The destination. Its folder must exist. A symbolic link is written through.

    Yields:
        A binary file open for writing (a temporary file next to ``path``).

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_open(target) as f:
        ...     _ = f.write(b"hello")
        >>> target.read_bytes()
        b'hello'
    """
    dest = _destination(path)
    remove_stale_temps(dest.parent, dest.name)
    tmp, lock = _claim_temp(dest.parent, dest.name)
    assert lock is not None  # a file always has one
    try:
        with os.fdopen(os.dup(lock), "wb", buffering=1 << 20) as handle, _flushing_to_disk(tmp):
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _keep_mode(tmp, dest)
        os.replace(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        os.close(lock)
    _fsync_dir(dest.parent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Write ``path`` atomically through a temporary file name.

    The caller writes (and closes) the yielded file by name; when the block ends without an
    exception, the file is fsynced and moved over ``path``.

    Args:
        path: The destination. Its folder must exist. A symbolic link is written through.

    Yields:
        The path of an empty temporary file in ``path``'s folder.
    """
    dest = _destination(path)
    remove_stale_temps(dest.parent, dest.name)
    tmp, lock = _claim_temp(dest.parent, dest.name)
    assert lock is not None  # a file always has one
    try:
        with _flushing_to_disk(tmp):
            yield tmp
        _fsync_file(tmp)
        _keep_mode(tmp, dest)
        os.replace(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        os.close(lock)
    _fsync_dir(dest.parent)


def check_max_rows(max_rows_per_file: object) -> int | None:
    """Return ``max_rows_per_file`` if it is ``None`` or a positive int.

    Raises:
        ConfigurationError: anything else.
    """
    if max_rows_per_file is None:
        return None
    if (
        isinstance(max_rows_per_file, bool)
        or not isinstance(max_rows_per_file, int)
        or max_rows_per_file < 1
    ):
        raise ConfigurationError(
            f"expected max_rows_per_file to be a positive integer or None, "
            f"got {max_rows_per_file!r}"
        )
    return max_rows_per_file


def plan_shards(total: int, max_rows_per_file: int) -> list[tuple[int, int]]:
    """Split ``total`` rows into ``(start, stop)`` ranges of at most ``max_rows_per_file``.

    Zero rows still give one (empty) shard, so a write always produces a file.

    Example:
        >>> plan_shards(5, 2)
        [(0, 2), (2, 4), (4, 5)]
    """
    size = check_max_rows(max_rows_per_file)
    assert size is not None
    if total <= 0:
        return [(0, 0)]
    return [(start, min(start + size, total)) for start in range(0, total, size)]


_MANIFEST_KIND = "instructkit shard set"


def _manifest_path(folder: Path, stem: str, suffix: str) -> Path:
    return folder / f".{stem}{suffix}.shards.json"


def _commit_step(step: str) -> None:
    """Called between the steps of a shard set's commit; tests replace it to kill a write."""


def _shard_pattern(stem: str, suffix: str) -> re.Pattern[str]:
    return re.compile(re.escape(stem) + SHARD_NUMBERS + re.escape(suffix) + r"\Z")


class ShardSet:
    """Sharded, all-or-nothing output for a stream of unknown length.

    Use it as a context manager; see the module docstring for an example and for how a set
    is committed.

    Args:
        path: The unsharded destination (``out/train.parquet``); shards are named from its
            stem and suffix in the same folder.
        max_rows_per_file: The writer's shard size (recorded for callers; the writer decides
            when to call :meth:`add`).

    Attributes:
        paths: The final shard paths, filled in when the set is committed.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_rows_per_file: int | None) -> None:
        self.max_rows_per_file = check_max_rows(max_rows_per_file)
        base, self.suffix = split_suffix(path)
        self.folder = base.parent
        self.stem = base.name
        self._temps: list[Path] = []
        self._workspace: Path | None = None
        self._lock: int | None = None
        self.paths: list[Path] = []
        self._done = False

    def add(self) -> Path:
        """Create the next shard's (empty) temporary file and return its path."""
        tmp = self.workspace() / f"{len(self._temps):0{SHARD_DIGITS}d}{self.suffix}"
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        self._temps.append(tmp)
        return tmp

    def workspace(self) -> Path:
        """The set's hidden temporary folder, created on first use.

        Other processes (workers on a file system the caller shares) may write finished
        shards into it and hand them to :meth:`adopt`; whatever is left in it when the set
        ends is removed with it.
        """
        if self._done:
            raise ConfigurationError("expected an open ShardSet, got one already finished")
        if self._workspace is None:
            name = f"{self.stem}{self.suffix}"
            remove_stale_temps(self.folder, name)
            self._workspace, self._lock = _claim_temp(self.folder, name, directory=True)
        return self._workspace

    def adopt(self, file: str | os.PathLike[str]) -> Path:
        """Take a finished file in :meth:`workspace` as the next shard.

        Returns:
            The shard's temporary path (the file has been moved there).

        Raises:
            ConfigurationError: ``file`` is not in the set's workspace (a rename from
                elsewhere might cross file systems, and would not be atomic).
        """
        source = Path(file)
        if source.parent != self.workspace():
            raise ConfigurationError(
                f"expected a file in the shard set's workspace {self.workspace()}, got {source}"
            )
        tmp = self.add()
        os.replace(source, tmp)
        return tmp

    def __enter__(self) -> ShardSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def abort(self) -> None:
        """Remove every temporary shard and release the set's temporary folder."""
        self._done = True
        if self._workspace is not None:
            shutil.rmtree(self._workspace, ignore_errors=True)
            self._workspace = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
        self._temps = []

    def commit(self) -> list[Path]:
        """Commit the set: see the module docstring for the steps.

        Returns:
            The final paths, in shard order.
        """
        if self._done:
            return self.paths
        try:
            for tmp in self._temps:
                _fsync_file(tmp)
            _commit_step("written")
            self.paths = self._publish()
        finally:
            self.abort()
        return self.paths

    def _publish(self) -> list[Path]:
        count = len(self._temps)
        names = [shard_name(self.stem, index, count, self.suffix) for index in range(count)]
        finals = [self.folder / name for name in names]
        manifest = _manifest_path(self.folder, self.stem, self.suffix)
        lock_path = self.folder / f".{self.stem}{self.suffix}.lock"
        lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            # Two writers' renames must not interleave; readers never take this lock.
            _try_lock(lock, wait=True)
            pattern = _shard_pattern(self.stem, self.suffix)
            old = sorted(entry.name for entry in self.folder.iterdir() if pattern.match(entry.name))
            modes = _modes(self.folder, old)
            set_id = secrets.token_hex(8)
            _write_manifest(manifest, set_id, names, complete=False)
            _commit_step("announced")
            for index, (tmp, final) in enumerate(zip(self._temps, finals, strict=True)):
                mode = modes.get(final.name, modes.get(old[0]) if old else None)
                if mode is not None:
                    os.chmod(tmp, mode)
                os.replace(tmp, final)
                _commit_step(f"renamed {index}")
            for name in old:
                if name not in names:
                    _remove(self.folder / name)
            _commit_step("cleared")
            _fsync_dir(self.folder)
            _write_manifest(manifest, set_id, names, complete=True)
            _commit_step("committed")
        finally:
            os.close(lock)
        return finals


def _modes(folder: Path, names: Sequence[str]) -> dict[str, int]:
    modes = {}
    for name in names:
        with contextlib.suppress(OSError):
            modes[name] = stat.S_IMODE(os.stat(folder / name).st_mode)
    return modes


def _write_manifest(path: Path, set_id: str, names: Sequence[str], *, complete: bool) -> None:
    content = {"kind": _MANIFEST_KIND, "set": set_id, "complete": complete, "shards": names}
    with atomic_open(path) as handle:
        handle.write(json.dumps(content, indent=1).encode() + b"\n")


def _read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path``, or ``None`` if there is none.

    Raises:
        ShardSetError: the file is not a manifest of ours.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        content = json.loads(data)
    except ValueError:
        content = None
    if (
        not isinstance(content, dict)
        or content.get("kind") != _MANIFEST_KIND
        or not isinstance(content.get("set"), str)
        or not isinstance(content.get("complete"), bool)
        or not isinstance(content.get("shards"), list)
    ):
        raise ShardSetError(
            "expected a shard set manifest (an object with kind, set, complete and shards), "
            f"got {data[:60]!r}",
            file=os.fspath(path),
        )
    return content


def committed_shards(path: str | os.PathLike[str]) -> list[Path] | None:
    """The shards of the set last committed for the unsharded destination ``path``.

    Returns:
        The paths the manifest names, in order, or ``None`` when there is no manifest.

    Raises:
        ShardSetError: the last commit is incomplete (killed, or still under way).
    """
    base, suffix = split_suffix(path)
    manifest_path = _manifest_path(base.parent, base.name, suffix)
    manifest = _read_manifest(manifest_path)
    if manifest is None:
        return None
    _check_complete(manifest, manifest_path)
    return [base.parent / name for name in manifest["shards"]]


def _check_complete(manifest: dict[str, Any], path: Path) -> None:
    if not manifest["complete"]:
        raise ShardSetError(
            "expected a complete shard set, got one whose commit is under way or was "
            "interrupted (write the set again to repair it)",
            file=os.fspath(path),
        )


def watch_shard_sets(paths: Sequence[str | os.PathLike[str]]) -> Callable[[], None]:
    """Check that the shard files among ``paths`` form committed sets, and keep checking.

    Files named like shards (``train-00001-of-00004.jsonl``) are grouped by folder, stem and
    suffix. A group with a manifest must be named by it, and the manifest must be complete;
    a group without one must agree on the shard count. Other files are not checked.

    Args:
        paths: The files a reader was given, in order.

    Returns:
        A function to call after each file has been opened (and at the end): it raises if a
        manifest changed since this call, since the file may then belong to another set. A
        file opened before a new set's first rename belongs to the old set, and the new
        manifest is in place before that rename, so a reader that finds the manifest unchanged
        after opening a file has opened one of the set it checked.

    Raises:
        ShardSetError: the files mix sets, or a set's commit is incomplete.
    """
    groups: dict[tuple[Path, str, str], list[tuple[Path, int, int]]] = {}
    for each in paths:
        path = Path(each)
        parsed = parse_shard_name(path)
        if parsed is not None:
            stem, suffix, index, count = parsed
            groups.setdefault((path.parent, stem, suffix), []).append((path, index, count))
    watched: list[tuple[Path, str | None]] = []
    for (folder, stem, suffix), members in groups.items():
        manifest_path = _manifest_path(folder, stem, suffix)
        manifest = _read_manifest(manifest_path)
        if manifest is None:
            first = members[0][0]
            for path, _, count in members:
                if count != members[0][2]:
                    raise ShardSetError(
                        f"expected shards of one set (all of {first.name}'s count, "
                        f"{members[0][2]}), got a shard of {count}: {path.name} is left from "
                        "another write",
                        file=os.fspath(path),
                    )
            watched.append((manifest_path, None))
            continue
        _check_complete(manifest, manifest_path)
        named = set(manifest["shards"])
        for path, _, _ in members:
            if path.name not in named:
                raise ShardSetError(
                    f"expected a shard of the set last written ({len(named)} files, named in "
                    f"{manifest_path.name}), got {path.name}, left from another write",
                    file=os.fspath(path),
                )
        watched.append((manifest_path, manifest["set"]))

    def check() -> None:
        for manifest_path, set_id in watched:
            manifest = _read_manifest(manifest_path)
            now = None if manifest is None else manifest["set"]
            if now != set_id or (manifest is not None and not manifest["complete"]):
                raise ShardSetError(
                    "expected the shard set to stay the same while it is read, got another "
                    "set written meanwhile (read it again)",
                    file=os.fspath(manifest_path),
                )

    return check
