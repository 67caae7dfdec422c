"""File names: the one table of formats, compressions and suffixes, and shard names.

Every reader and writer asks this module what a name means, so a suffix accepted for
reading is also one a sharded write keeps whole (``train.ndjson.gz`` shards as
``train-00000-of-00002.ndjson.gz``, not ``train.ndjson-00000-of-00002.gz``), and the files
that write makes are files the readers accept.

* :data:`FORMATS` -- the ``format=`` values, each ``(kind, compression)``;
* :data:`SUFFIXES` -- every file suffix a reader accepts, and the format it implies;
* :func:`resolve_format`, :func:`format_of_name`, :func:`compression_for`, :func:`split_suffix`,
  :func:`shard_name`, :data:`SHARD_NUMBERS`;
* :func:`parse_shard_name`;
* :func:`source_paths` and :func:`describe_sources` -- the files a reader was given, with
  glob patterns and folders expanded (in sorted order, so every machine reads the same order).
"""

from __future__ import annotations

import errno
import glob
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal

from instructkit._errors import ConfigurationError, ShardSetError, describe_type

__all__ = [
    "FORMATS",
    "KNOWN_SUFFIXES",
    "SHARD_DIGITS",
    "SHARD_NUMBERS",
    "SUFFIXES",
    "Compression",
    "PathArg",
    "Sources",
    "compression_for",
    "describe_sources",
    "format_of_name",
    "parse_shard_name",
    "resolve_format",
    "shard_name",
    "source_paths",
    "split_suffix",
]

Compression = Literal["gzip", "zstd"]

FORMATS: Final[dict[str, tuple[str, Compression | None]]] = {
    "jsonl": ("jsonl", None),
    "jsonl.gz": ("jsonl", "gzip"),
    "jsonl.zst": ("jsonl", "zstd"),
    "json": ("json", None),
    "json.gz": ("json", "gzip"),
    "json.zst": ("json", "zstd"),
    "parquet": ("parquet", None),
}
"""Accepted ``format=`` values: ``(kind, compression)`` for each."""

_COMPRESSION_SUFFIXES: Final[dict[str, Compression]] = {".gz": "gzip", ".zst": "zstd"}

SUFFIXES: Final[dict[str, str]] = {f".{name}": name for name in FORMATS} | {
    ".ndjson": "jsonl",
    ".ndjson.gz": "jsonl.gz",
    ".ndjson.zst": "jsonl.zst",
}
"""Every suffix a reader accepts (lower case) -> the format (a key of :data:`FORMATS`)."""

KNOWN_SUFFIXES: Final[tuple[str, ...]] = tuple(sorted(SUFFIXES, key=len, reverse=True))
""":data:`SUFFIXES`, longest first, so a multi-part suffix (``.jsonl.gz``) matches whole."""

SHARD_DIGITS: Final = 5
"""The least width of a shard's index and count (``-00000-of-00004``)."""

SHARD_NUMBERS: Final = rf"-(\d{{{SHARD_DIGITS},}})-of-(\d{{{SHARD_DIGITS},}})"
"""What follows the stem in a shard's name: its index and the count (a regex)."""


def resolve_format(path: str | os.PathLike[str], format: str | None) -> str:
    """The ``format=`` value for ``path``: the given one, checked, or the one its name implies.

    Raises:
        ConfigurationError: an unknown format, or a name that implies none.
    """
    if format is not None:
        if format not in FORMATS:
            raise ConfigurationError(
                f"expected format to be one of {list(FORMATS)}, got {format!r}"
            )
        return format
    implied = format_of_name(path)
    if implied is not None:
        return implied
    raise ConfigurationError(
        f"expected a file name ending in one of {sorted(SUFFIXES)} (or format=), "
        f"got {os.fspath(path)!r}"
    )


def format_of_name(path: str | os.PathLike[str]) -> str | None:
    """The format ``path``'s name implies (a key of :data:`FORMATS`), or ``None``.

    Example:
        >>> format_of_name("train.NDJSON.gz"), format_of_name("notes.txt")
        ('jsonl.gz', None)
    """
    name = os.fspath(path).lower()
    for suffix in KNOWN_SUFFIXES:
        if name.endswith(suffix):
            return SUFFIXES[suffix]
    return None


def compression_for(name: str) -> Compression | None:
    """The compression implied by a file name's last suffix (``.gz``, ``.zst``), or ``None``."""
    lower = name.lower()
    for suffix, compression in _COMPRESSION_SUFFIXES.items():
        if lower.endswith(suffix):
            return compression
    return None


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
        >>> split_suffix("data/train.ndjson.zst")
        (PosixPath('data/train'), '.ndjson.zst')
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
    width = max(SHARD_DIGITS, len(str(count)))
    return f"{stem}-{index:0{width}d}-of-{count:0{width}d}{suffix}"


def parse_shard_name(path: str | os.PathLike[str]) -> tuple[str, str, int, int] | None:
    """``(stem, suffix, index, count)`` if ``path``'s name is a shard's, else ``None``.

    Example:
        >>> parse_shard_name("data/train-00001-of-00004.jsonl.gz")
        ('train', '.jsonl.gz', 1, 4)
    """
    base, suffix = split_suffix(Path(path).name)
    found = re.fullmatch("(.+)" + SHARD_NUMBERS, base.name)
    if found is None:
        return None
    return found.group(1), suffix, int(found.group(2)), int(found.group(3))


PathArg = str | os.PathLike[str]
Sources = PathArg | Sequence[PathArg]
"""What the readers take: one file, or a list of files read one after another."""


def source_paths(path: object) -> tuple[PathArg, ...]:
    """The files a reader was given: a path, a glob pattern, a folder, or a list of these.

    A path that exists is taken as it is. Otherwise a path holding ``*``, ``?`` or ``[`` is a
    glob pattern (``**`` matches folders at any depth); a folder means the files directly in
    it whose names end in a suffix the readers accept (:data:`SUFFIXES`). Both expand to
    their files in sorted order (by the path's text, so every machine reads the same order),
    leaving out hidden names (starting with ``.``: the manifests and temporaries of sharded
    writes). A list's items are expanded in turn, in the list's order.

    Raises:
        ConfigurationError: neither a path nor a non-empty list or tuple of paths.
        FileNotFoundError: a pattern or folder gives no file (the pattern is its
            ``filename``).
        ShardSetError: a pattern or folder gives some shards of a set but not all of them
            (names ``train-00000-of-00004.jsonl`` to ``-00003-``), naming the first missing.
    """
    if isinstance(path, (str, os.PathLike)):
        return _expand(path)
    if isinstance(path, (list, tuple)):
        if not path:
            raise ConfigurationError("expected at least one file to read, got an empty list")
        found: list[PathArg] = []
        for index, item in enumerate(path):
            if not isinstance(item, (str, os.PathLike)):
                raise ConfigurationError(
                    f"expected a file path at index {index} of the list, got {describe_type(item)}"
                )
            found.extend(_expand(item))
        return tuple(found)
    # Not any iterable: a set or a directory listing has no meaningful order, and the order
    # of the files is the order of the records.
    raise ConfigurationError(
        "expected a file path or a list of file paths (in the order to read them), "
        f"got {describe_type(path)}"
    )


_MAGIC: Final = re.compile(r"[*?[]")


def _expand(path: PathArg) -> tuple[PathArg, ...]:
    """One item given to a reader: the file itself, or the files of a pattern or folder."""
    text = os.fspath(path)
    if os.path.isdir(text):
        names = sorted(
            entry.path
            for entry in os.scandir(text)
            if not entry.name.startswith(".")
            and entry.is_file()
            and format_of_name(entry.name) is not None
        )
        if not names:
            raise FileNotFoundError(
                errno.ENOENT,
                "expected a folder holding files ending in one of "
                f"{sorted(SUFFIXES)}, got none in the folder",
                text,
            )
    elif not os.path.exists(text) and _MAGIC.search(text):
        # glob leaves out hidden names unless the pattern spells the dot; folders matched by
        # the pattern are not files to read.
        names = sorted(name for name in glob.glob(text, recursive=True) if os.path.isfile(name))
        if not names:
            raise FileNotFoundError(
                errno.ENOENT, "expected files matching the glob pattern, got none", text
            )
    else:
        return (path,)
    _check_whole_sets(names, text)
    return tuple(names)


def _check_whole_sets(names: list[str], pattern: str) -> None:
    """Shards found by a pattern or folder must be whole sets: a missing one is an error.

    A listing cannot tell a shard deleted (or not yet copied) from one never written, and
    reading the rest would give fewer records without a word.
    """
    sets: dict[tuple[str, str, str, int], set[int]] = {}
    for name in names:
        parsed = parse_shard_name(name)
        if parsed is not None:
            stem, suffix, index, count = parsed
            key = (os.path.dirname(name), stem, suffix, count)
            sets.setdefault(key, set()).add(index)
    for (folder, stem, suffix, count), indices in sets.items():
        for index in range(count):
            if index not in indices:
                missing = os.path.join(folder, shard_name(stem, index, count, suffix))
                raise ShardSetError(
                    f"expected all {count} shards of the set matched by {pattern!r}, got "
                    f"{len(indices)}: {os.path.basename(missing)} is missing",
                    file=missing,
                )


def describe_sources(paths: Sequence[PathArg]) -> str:
    """A name for what is read, for report summaries: the file, or the first and a count."""
    first = os.fspath(paths[0])
    if len(paths) == 1:
        return first
    more = len(paths) - 1
    return f"{first} and {more} more file{'s' if more > 1 else ''}"
