"""Atomic file writing and shard naming, shared by every writer (JSONL, JSON, Parquet).

A writer never touches its destination until the output is complete: it writes a hidden
temporary file in the destination's own folder (so the final rename stays on one file
system), flushes and fsyncs it, and then moves it over the destination with
:func:`os.replace`. If anything goes wrong first (an exception, a bad record, ``Ctrl-C``) the
temporary file is removed and the destination keeps its previous content, or stays absent.
A process killed outright (``SIGKILL``, ``os._exit``) cannot clean up, so it may leave a
``.<name>.<random>.tmp`` file next to the destination, but never a partial destination.

API (all paths may be ``str`` or :class:`os.PathLike`):

* ``with atomic_open(path) as f:`` -- ``f`` is a binary file to write to.
* ``with atomic_path(path) as tmp:`` -- ``tmp`` is a :class:`~pathlib.Path` of a fresh, empty
  temporary file for a writer that wants a file name (``pyarrow.parquet.write_table(t, tmp)``).
  The writer must have closed the file when the ``with`` block ends.
* ``split_suffix(path)`` -- ``(folder / stem, suffix)`` with multi-part suffixes kept whole:
  ``train.jsonl.gz`` -> ``("train", ".jsonl.gz")``.
* ``shard_name(stem, index, count, suffix)`` -- ``"train-00000-of-00004.parquet"``.
* ``plan_shards(total, max_rows_per_file)`` -- ``[(start, stop), ...]`` when the row count
  is known in advance.
* ``ShardSet(path, max_rows_per_file=...)`` -- sharded output when the row count is *not*
  known (streaming): each ``shards.add()`` returns the temporary path of the next shard; when
  the ``with`` block ends without error, all shards are renamed to their final
  ``-NNNNN-of-NNNNN`` names together, and ``shards.paths`` lists them. On error every
  temporary shard is removed and no final name is touched::

      with ShardSet("out/train.parquet", max_rows_per_file=100_000) as shards:
          for batch in batches:
              write_batch(batch, shards.add())
      shards.paths  # [Path("out/train-00000-of-00002.parquet"), ...]

  Committing a set also removes older shards of the same stem and suffix with a different
  count (``train-0000N-of-00005.parquet`` after writing 4), so a folder never mixes two
  writes; shards are renamed first and stale ones removed last.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from instructkit._errors import ConfigurationError

__all__ = [
    "KNOWN_SUFFIXES",
    "ShardSet",
    "atomic_open",
    "atomic_path",
    "check_max_rows",
    "plan_shards",
    "shard_name",
    "split_suffix",
]

KNOWN_SUFFIXES: tuple[str, ...] = (
    ".jsonl.gz",
    ".jsonl.zst",
    ".json.gz",
    ".json.zst",
    ".jsonl",
    ".json",
    ".parquet",
)
"""Multi-part suffixes first, so ``split_suffix`` keeps ``.jsonl.gz`` whole."""

_SHARD_DIGITS = 5


def _fresh_temp(folder: Path, name: str) -> tuple[Path, int]:
    # os.open with mode 0o666 lets the umask decide permissions, as for a plain open();
    # tempfile.mkstemp would make the final file 0600, a surprise for shared datasets.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        candidate = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return candidate, os.open(candidate, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits colliding
            continue


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
        path: The destination. Its folder must exist.

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
    dest = Path(path)
    tmp, fd = _fresh_temp(dest.parent, dest.name)
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as handle, _flushing_to_disk(tmp):
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(dest.parent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Write ``path`` atomically through a temporary file name.

    The caller writes (and closes) the yielded file by name; when the block ends without an
    exception, the file is fsynced and moved over ``path``.

    Args:
        path: The destination. Its folder must exist.

    Yields:
        The path of an empty temporary file in ``path``'s folder.
    """
    dest = Path(path)
    tmp, fd = _fresh_temp(dest.parent, dest.name)
    os.close(fd)
    try:
        with _flushing_to_disk(tmp):
            yield tmp
        _fsync_file(tmp)
        os.replace(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(dest.parent)


def split_suffix(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """Split ``path`` into its path without suffix and its (possibly multi-part) suffix.

    Args:
        path: A file path.

    Returns:
        ``(stem_path, suffix)``; the suffix is one of :data:`KNOWN_SUFFIXES` when the name ends
        with one (compared case-insensitively), otherwise the last dot suffix (or ``""``).

    Example:
        >>> split_suffix("data/train.jsonl.gz")
        (PosixPath('data/train'), '.jsonl.gz')
    """
    p = Path(path)
    lower = p.name.lower()
    for suffix in KNOWN_SUFFIXES:
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return p.with_name(p.name[: -len(suffix)]), p.name[-len(suffix) :]
    return p.with_name(p.stem), p.suffix


def shard_name(stem: str, index: int, count: int, suffix: str) -> str:
    """The file name of shard ``index`` (0-based) of ``count``, the Hugging Face Hub way.

    Args:
        stem: The name without suffix (``"train"``).
        index: 0-based shard number.
        count: Total number of shards.
        suffix: The suffix, with its dot (``".parquet"``).

    Returns:
        The name, with five-digit (or wider, past 99,999 shards) numbers.

    Example:
        >>> shard_name("train", 0, 4, ".parquet")
        'train-00000-of-00004.parquet'
    """
    if not 0 <= index < count:
        raise ConfigurationError(f"expected 0 <= index < count, got index {index}, count {count}")
    width = max(_SHARD_DIGITS, len(str(count)))
    return f"{stem}-{index:0{width}d}-of-{count:0{width}d}{suffix}"


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


class ShardSet:
    """Sharded, all-or-nothing output for a stream of unknown length.

    Use it as a context manager; see the module docstring for an example.

    Args:
        path: The unsharded destination (``out/train.parquet``); shards are named from its
            stem and suffix in the same folder.
        max_rows_per_file: The writer's shard size (recorded for callers; the writer decides
            when to call :meth:`add`).

    Attributes:
        paths: The final shard paths, filled in when the set is committed.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_rows_per_file: int) -> None:
        self.max_rows_per_file = check_max_rows(max_rows_per_file)
        base, self.suffix = split_suffix(path)
        self.folder = base.parent
        self.stem = base.name
        self._temps: list[Path] = []
        self.paths: list[Path] = []
        self._done = False

    def add(self) -> Path:
        """Create the next shard's (empty) temporary file and return its path."""
        if self._done:
            raise ConfigurationError("expected an open ShardSet, got one already finished")
        tmp, fd = _fresh_temp(self.folder, f"{self.stem}{self.suffix}")
        os.close(fd)
        self._temps.append(tmp)
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
        """Remove every temporary shard; no final name is touched."""
        self._done = True
        for tmp in self._temps:
            _remove(tmp)
        self._temps = []

    def commit(self) -> list[Path]:
        """Fsync every shard, rename them to their final names, and remove stale shards.

        Returns:
            The final paths, in shard order.
        """
        if self._done:
            return self.paths
        try:
            for tmp in self._temps:
                _fsync_file(tmp)
        except BaseException:
            self.abort()
            raise
        self._done = True
        count = len(self._temps)
        finals = [
            self.folder / shard_name(self.stem, index, count, self.suffix) for index in range(count)
        ]
        for tmp, final in zip(self._temps, finals, strict=True):
            os.replace(tmp, final)
        self._temps = []
        _fsync_dir(self.folder)
        self.paths = finals
        self._remove_stale()
        return finals

    def _remove_stale(self) -> None:
        pattern = re.compile(
            re.escape(self.stem) + r"-(\d{5,})-of-(\d{5,})" + re.escape(self.suffix) + r"\Z"
        )
        keep = {p.name for p in self.paths}
        for entry in self.folder.iterdir():
            found = pattern.match(entry.name)
            if found and entry.name not in keep:
                _remove(entry)
