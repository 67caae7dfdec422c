"""The public writing verb, :func:`write`, and what it returns, :class:`WriteResult`.

Records become rows here (instructkit's own layout straight from the records' fields, or a
dialect's rows), then bytes: JSON Lines and JSON arrays are written here, through
:mod:`instructkit._io._compression`'s writers; Parquet is handed to
:mod:`instructkit._io._parquet_writer`. Every file is written atomically
(:mod:`instructkit._io._atomic`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Final

import orjson

from instructkit._dialects import to_row
from instructkit._errors import (
    ConfigurationError,
    RecordValidationError,
    describe_type,
    format_loc,
)
from instructkit._io._atomic import ShardSet, atomic_open, check_max_rows
from instructkit._io._compression import open_compressed_writer
from instructkit._io._jsonl import write_jsonl_lines
from instructkit._io._keywords import (
    NATIVE,
    RECORD_TYPES,
    RecordType,
    check_dialect,
    convert_record,
    record_type,
)
from instructkit._io._parquet_writer import write_parquet
from instructkit._io._paths import FORMATS, Compression, resolve_format
from instructkit._progress import Progress, check_progress, describe_file, track
from instructkit._records import Message, Record, ToolCall
from instructkit._reports import LossReport

__all__ = ["WriteResult", "write"]


# -- writing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write` wrote.

    Attributes:
        paths: The files, in order (one unless sharded).
        rows: Records written in all.
        rows_per_file: Records in each file, matching ``paths``.
        format: The format written (a key of :data:`FORMATS`).
        dialect: The dialect of the rows (``"instructkit"`` for the native layout).
    """

    paths: tuple[Path, ...]
    rows: int
    rows_per_file: tuple[int, ...]
    format: str
    dialect: str


def _nonfinite(value: Any, path: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    # Where a NaN or infinity hides in JSON-like data; JSON writers would turn it into null.
    if type(value) is float:
        return None if math.isfinite(value) else path
    if type(value) is dict:
        for key, item in value.items():
            found = _nonfinite(item, (*path, key))
            if found is not None:
                return found
    elif type(value) is list:
        for index, item in enumerate(value):
            found = _nonfinite(item, (*path, index))
            if found is not None:
                return found
    return None


def _check_meta(record: Record) -> None:
    meta = getattr(record, "meta", None)
    if meta:
        where = _nonfinite(meta, ("meta",))
        if where is not None:
            raise RecordValidationError(
                "expected finite numbers in meta (JSON has no NaN or Infinity), got "
                f"{_get(record.to_dict(), where)!r}",
                loc=format_loc(where),
            )


def _get(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


_NESTED_TYPES: Final = (Message, ToolCall)


def _fields_of(value: Any) -> dict[str, Any]:
    # orjson's hook for what it cannot write itself: the messages and tool calls in a record.
    if type(value) in _NESTED_TYPES or isinstance(value, Record):
        fields: dict[str, Any] = value.__dict__
        return fields
    raise TypeError(f"cannot write {describe_type(value)} as JSON")


def _dumps_row(row: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(row)
    except TypeError:
        # orjson stops at integers beyond 64 bits; the standard library writes them exactly.
        return json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _encoder(
    dialect: str | None,
    *,
    target: RecordType | None,
    layout: str | None,
    column_map: Mapping[str, str] | None,
    role_map: Mapping[str, str] | None,
    strict: bool,
    losses: LossReport | None,
    line_end: bool,
) -> Callable[[Iterable[Any]], Iterator[bytes]]:
    r"""A generator function: records in, their rows' JSON bytes out (``\n``-ended if asked).

    A generator rather than a function per record: resuming one costs less than a call, and
    this runs once per record written.
    """
    option = orjson.OPT_APPEND_NEWLINE if line_end else 0
    newline = b"\n" if line_end else b""

    def check(item: Any) -> Record:
        if not isinstance(item, Record):
            raise ConfigurationError(
                f"expected instructkit records to write, got {describe_type(item)}"
            )
        record: Record = item
        if target is not None and type(record) is not target:
            record = convert_record(record, target, strict=strict, losses=losses)
        _check_meta(record)
        return record

    if dialect is None or (dialect == NATIVE and not column_map and not role_map):
        # A record's __dict__ holds its fields in order as plain JSON values, nested records
        # (messages, tool calls) aside, which _fields_of hands over the same way: orjson then
        # writes record.to_dict() byte for byte (tests check it) without building the dicts,
        # several times faster than pydantic's serializer.
        dumps = orjson.dumps

        def native(items: Iterable[Any]) -> Iterator[bytes]:
            for item in items:
                # The usual case inline: one of the record types, no conversion.
                kind = type(item)
                if kind in RECORD_TYPES and (target is None or kind is target):
                    fields = item.__dict__
                    if fields["meta"]:
                        _check_meta(item)
                else:
                    fields = check(item).__dict__
                try:
                    line = dumps(fields, default=_fields_of, option=option)
                except TypeError:  # an integer beyond 64 bits in meta, which orjson refuses
                    record = check(item)
                    line = type(record).__pydantic_serializer__.to_json(record) + newline
                yield line

        return native

    name = dialect

    def dialect_rows(items: Iterable[Any]) -> Iterator[bytes]:
        for item in items:
            row = to_row(
                check(item),
                dialect=name,
                column_map=column_map,
                role_map=role_map,
                layout=layout,
                strict=strict,
                losses=losses,
            )
            yield _dumps_row(row) + newline

    return dialect_rows


def _write_text(
    out: Any,
    kind: str,
    encode: Callable[[Iterable[Any]], Iterator[bytes]],
    items: Iterator[Any],
    limit: int | None,
) -> int:
    """Encode and write up to ``limit`` of ``items``; return how many were written."""
    rows = encode(items if limit is None else islice(items, limit))
    if kind == "jsonl":
        return write_jsonl_lines(out, rows)
    count = 0
    out.write(b"[")
    for row in rows:
        out.write(b",\n" if count else b"\n")
        out.write(row)
        count += 1
    out.write(b"\n]\n" if count else b"]\n")
    return count


def write(
    records: Iterable[Record],
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    dialect: str | None = None,
    record: RecordType | str | None = None,
    layout: str | None = None,
    column_map: Mapping[str, str] | None = None,
    role_map: Mapping[str, str] | None = None,
    strict: bool = False,
    losses: LossReport | None = None,
    max_rows_per_file: int | None = None,
    compression: str | None = None,
    compression_level: int | None = None,
    row_group_size: int | None = None,
    metadata: Mapping[str, str] | None = None,
    progress: Progress = False,
) -> WriteResult:
    r"""Write records to a JSON Lines, JSON or Parquet file, atomically and deterministically.

    The records are consumed one at a time (an iterator is never materialised). Nothing
    appears at ``path`` until everything is written: the output goes to a temporary file in
    the same folder, is flushed and fsynced, and is then renamed over ``path``; on any
    exception ``path`` keeps its previous content (or stays absent). The same records give
    the same bytes. JSON Lines have one record per line, UTF-8 without needless escaping,
    each line ending in ``\n``; a JSON file is an array with one record per line.

    Args:
        records: The records (any iterable).
        path: The destination; its name gives the format unless ``format`` is set.
        format: As for :func:`read`.
        dialect: ``None`` (default) writes instructkit's own lossless layout,
            ``record.to_dict()``; a name from :func:`~instructkit.dialects.dialect_names` writes
            that dialect's rows (see :func:`~instructkit.to_row`).
        record: Convert every record to this type first (``Instruction``,
            ``Conversation`` or ``Preference``, class or name); for Parquet it also names
            the schema when ``records`` is empty.
        layout: The dialect's layout, for dialects with several.
        column_map: The dialect's column name -> the name to write.
        role_map: As for :func:`~instructkit.to_row`.
        strict: Raise :class:`~instructkit.LossyConversionError` instead of losing anything.
        losses: A :class:`~instructkit.LossReport` counting what conversions lost.
        max_rows_per_file: Split the output into files of at most this many records, named
            like ``train-00000-of-00004.jsonl`` next to ``path`` (the count is known only at
            the end, so shards are renamed into place together once all are written; older
            shards of the same name with another count are removed). At least one file is
            always written.
        compression: Parquet only: the codec (``"zstd"`` by default). For text, compression
            follows the name (``.jsonl.gz``, ``.jsonl.zst``) or ``format``.
        compression_level: The codec's level (gzip 0-9, default 6; zstd default 3; Parquet
            codecs their own default).
        row_group_size: Parquet only: at most this many rows per row group.
        metadata: Parquet only: extra footer key-value metadata.
        progress: ``True`` shows the records written on stderr (out of ``len(records)`` when
            it has one): a tqdm bar when tqdm is installed, else a plain line a few times a
            second. A callable is called with ``(records so far, total or None)`` (see
            ``docs/io.md``).

    Returns:
        A :class:`WriteResult` with the paths and row counts.

    Raises:
        ConfigurationError: a bad keyword, or an item that is not a record.
        LossyConversionError: ``strict`` and a dialect or record conversion would lose data.
        RecordValidationError: ``record`` asks for a conversion a record does not allow.

    Example:
        >>> import pathlib, tempfile
        >>> from instructkit import Instruction, write
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> records = [Instruction(instruction=f"Say {n}.", response=str(n)) for n in range(5)]
        >>> result = write(records, folder / "train.jsonl", max_rows_per_file=2)
        >>> for written, rows in zip(result.paths, result.rows_per_file):
        ...     print(written.name, rows)
        train-00000-of-00003.jsonl 2
        train-00001-of-00003.jsonl 2
        train-00002-of-00003.jsonl 1
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigurationError(f"expected a file path, got {describe_type(path)}")
    chosen = resolve_format(path, format)
    kind, text_compression = FORMATS[chosen]
    name = check_dialect(dialect, allow_auto=False)
    target = record_type(record)
    limit = check_max_rows(max_rows_per_file)
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise ConfigurationError(f"expected an iterable of records, got {describe_type(records)}")
    records = track(
        records,
        check_progress(progress),
        desc=f"write {describe_file(path)}",
        unit="records",
    )
    if kind == "parquet":
        return _write_parquet(
            records,
            path,
            format=chosen,
            dialect=name,
            target=target,
            layout=layout,
            column_map=column_map,
            role_map=role_map,
            strict=strict,
            losses=losses,
            max_rows=limit,
            compression=compression,
            compression_level=compression_level,
            row_group_size=row_group_size,
            metadata=metadata,
        )
    _check_parquet_only(
        chosen, compression=compression, row_group_size=row_group_size, metadata=metadata
    )
    encode = _encoder(
        name,
        target=target,
        layout=layout,
        column_map=column_map,
        role_map=role_map,
        strict=strict,
        losses=losses,
        line_end=kind == "jsonl",
    )
    paths, counts = _write_text_files(
        iter(records),
        path,
        kind=kind,
        encode=encode,
        compression=text_compression,
        compression_level=compression_level,
        limit=limit,
    )
    return WriteResult(paths, sum(counts), counts, chosen, name or NATIVE)


def _check_parquet_only(
    chosen: str,
    *,
    compression: str | None,
    row_group_size: int | None,
    metadata: Mapping[str, str] | None,
) -> None:
    """Refuse the Parquet-only keywords of :func:`write` for the text format ``chosen``."""
    for keyword, value in (
        ("compression", compression),
        ("row_group_size", row_group_size),
        ("metadata", metadata),
    ):
        if value is not None:
            hint = (
                " (text compression follows the file name: .jsonl.gz, .jsonl.zst)"
                if keyword == "compression"
                else ""
            )
            raise ConfigurationError(
                f"expected {keyword}=None for format {chosen!r} (Parquet only){hint}, got {value!r}"
            )


def _write_text_files(
    items: Iterator[Any],
    path: str | os.PathLike[str],
    *,
    kind: str,
    encode: Callable[[Iterable[Any]], Iterator[bytes]],
    compression: Compression | None,
    compression_level: int | None,
    limit: int | None,
) -> tuple[tuple[Path, ...], tuple[int, ...]]:
    """Write ``items`` as JSON Lines or a JSON array: one file, or shards of ``limit`` rows.

    Returns:
        The files written, in order, and the rows in each.
    """
    if limit is None:
        with atomic_open(path) as raw:
            out = open_compressed_writer(raw, compression, compression_level)
            count = _write_text(out, kind, encode, items, None)
            out.close()
        return (Path(path),), (count,)
    counts: list[int] = []
    with ShardSet(path, max_rows_per_file=limit) as shards:
        pending = _Peekable(items)
        while not counts or pending.has_more():
            with open(shards.add(), "wb", buffering=1 << 20) as raw:
                out = open_compressed_writer(raw, compression, compression_level)
                counts.append(_write_text(out, kind, encode, pending, limit))
                out.close()
    return tuple(shards.paths), tuple(counts)


class _Peekable(Iterator[Any]):
    def __init__(self, items: Iterator[Any]) -> None:
        self._items = items
        self._head: list[Any] = []

    def has_more(self) -> bool:
        if not self._head:
            for item in self._items:
                self._head.append(item)
                break
        return bool(self._head)

    def __next__(self) -> Any:
        if self._head:
            return self._head.pop()
        return next(self._items)


def _write_parquet(
    records: Iterable[Record],
    path: str | os.PathLike[str],
    *,
    format: str,
    dialect: str | None,
    target: RecordType | None,
    layout: str | None,
    column_map: Mapping[str, str] | None,
    role_map: Mapping[str, str] | None,
    strict: bool,
    losses: LossReport | None,
    max_rows: int | None,
    compression: str | None,
    compression_level: int | None,
    row_group_size: int | None,
    metadata: Mapping[str, str] | None,
) -> WriteResult:
    items: Iterable[Record] = records
    if target is not None:
        items = (convert_record(r, target, strict=strict, losses=losses) for r in records)
    options: dict[str, Any] = {}
    if compression is not None:
        options["compression"] = compression
    if row_group_size is not None:
        options["row_group_size"] = row_group_size
    written = write_parquet(
        items,
        path,
        record=target,
        dialect=None if dialect == NATIVE and not column_map and not role_map else dialect,
        column_map=column_map,
        role_map=role_map,
        layout=layout,
        strict=strict,
        losses=losses,
        compression_level=compression_level,
        max_rows_per_file=max_rows,
        metadata=metadata,
        **options,
    )
    counts = tuple(written.rows_per_file)
    return WriteResult(tuple(written.paths), sum(counts), counts, format, dialect or NATIVE)
