"""Parquet files of records: what a file holds, and two ways to read it.

Used by :func:`instructkit.read` and :func:`~instructkit.read_table` for ``.parquet`` paths,
and usable on its own (writing is :mod:`instructkit._io._parquet_writer`):

* :func:`parquet_info` -- what a file holds (rows, schema, the footer metadata the writer
  records), cheaply.
* :func:`iter_parquet_records` -- the fast typed path for files with instructkit's schema:
  record batches straight to validated records. A file with other columns is refused with an
  error that names the missing, unexpected or mistyped columns.
* :func:`iter_parquet_rows` -- ``(row_index, row_dict)`` pairs, without validation, for
  reading any layout through a dialect (:func:`~instructkit.parse_row`). For files with
  instructkit's own schema the rows are in the records' JSON form (``meta`` decoded from its
  JSON text to an object), so they equal ``record.to_dict()``, exactly like native JSONL rows.
* :func:`read_parquet_table` -- the whole file as an Arrow table conformed to a record
  type's schema (used by :func:`~instructkit.read_table`).

Row indices are 0-based positions in the file; errors carry them as ``row=``.

:func:`batch_records` and :func:`batch_row_items` are the two paths over any record batches:
the readers above run them on a file's checked batches, and :func:`instructkit.read` on the
batches of a ``datasets.Dataset`` or an Arrow table, so those read exactly like a Parquet file
of the same columns.

Every reader here goes through one checked source of batches: pages are written with a
CRC-32 checksum and verified on reading, and each row group must give exactly the footer's
count of rows. So a damaged file is a :class:`~instructkit.DataError` naming the file and
the row group, never fewer or different rows. :func:`parquet_records` and
:func:`parquet_row_items` are the readers :func:`instructkit.read` uses: they also hand over
each rejected row (or bad row) with its values, for a rejects file.

One module although it is a little over 600 lines: every reader here shares that one
checked source of batches, and splitting the readers from it would only move the seam.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from instructkit._arrow import (
    MESSAGE_COLUMNS,
    META_DIALECT,
    META_SCHEMA_VERSION,
    META_VERSION,
    conform_table,
    decode_json_typed,
    holds_json,
    json_value,
    merge_parts,
    meta_value,
    record_type_of,
    records_from_batch,
    resolve_record_type,
    storage_type,
    strip_nulls,
)
from instructkit._errors import ConfigurationError, DataError
from instructkit._records import Record
from instructkit._reports import ItemReport, OnError, check_on_error

__all__ = [
    "NATIVE_DIALECT",
    "ParquetInfo",
    "batch_records",
    "batch_row_items",
    "check_positive",
    "decoded_metadata",
    "iter_parquet_records",
    "iter_parquet_rows",
    "own_record_type",
    "parquet_info",
    "parquet_records",
    "parquet_row_items",
    "read_parquet_table",
]

META_JSON_COLUMNS = "instructkit.json_columns"
"""Footer key of dialect files: the JSON list of columns stored as JSON text."""

NATIVE_DIALECT = "instructkit"
"""The dialect name recorded for files with instructkit's own schema."""

_READ_BATCH = 8_192


@dataclass(frozen=True)
class ParquetInfo:
    """What a Parquet file holds, from its footer alone.

    Attributes:
        path: The file.
        num_rows: Rows in the file.
        num_row_groups: Row groups in the file.
        schema: The Arrow schema.
        record_type: The record type the columns hold when they are instructkit's own schema
            (from the footer metadata, else from the column names), else ``None``.
        dialect: The dialect recorded by instructkit's writer (``"instructkit"`` for the own
            schema), or ``None`` for files written elsewhere.
        schema_version: The recorded ``instructkit.schema_version``, if any.
        library_version: The instructkit version that wrote the file, if recorded.
        metadata: The footer's whole key-value metadata, decoded.
    """

    path: Path
    num_rows: int
    num_row_groups: int
    schema: pa.Schema
    record_type: type[Record] | None
    dialect: str | None
    schema_version: int | None
    library_version: str | None
    metadata: dict[str, str] = field(default_factory=dict)


def _name(path: str | os.PathLike[str]) -> str:
    return os.fspath(path)


_UNREADABLE = (pa.ArrowException, OSError, UnicodeDecodeError)
"""What pyarrow raises for damaged data: its own errors, ``OSError`` for a page whose
checksum does not match, a footer or page header it cannot decode and the like, and
``UnicodeDecodeError`` for a column name in the footer that is not UTF-8."""

_NOT_DATA = (FileNotFoundError, IsADirectoryError, PermissionError)
"""``OSError`` subclasses about the file system rather than the bytes: passed on as they are."""


def _open(path: str | os.PathLike[str]) -> pq.ParquetFile:
    try:
        # Pages written with a checksum (instructkit writes one for every page) are verified
        # as they are read; pages without one are read as they are.
        return pq.ParquetFile(path, page_checksum_verification=True)
    except _UNREADABLE as err:
        if isinstance(err, _NOT_DATA):
            raise
        raise DataError(
            f"expected a Parquet file, got unreadable data ({err})", file=_name(path)
        ) from err


def parquet_info(path: str | os.PathLike[str]) -> ParquetInfo:
    """Describe a Parquet file from its footer, without reading its rows.

    Args:
        path: The file.

    Returns:
        The description.

    Raises:
        DataError: the file is not a readable Parquet file.
        FileNotFoundError: there is no such file.
    """
    handle = _open(path)
    try:
        footer = handle.metadata
        try:
            schema = handle.schema_arrow
        except _UNREADABLE as err:
            # A damaged footer may decode, yet hold a schema Arrow cannot read.
            raise DataError(
                f"expected a Parquet file, got a schema that cannot be read ({err})",
                file=_name(path),
            ) from err
        metadata = decoded_metadata(footer.metadata)
        return ParquetInfo(
            path=Path(path),
            num_rows=footer.num_rows,
            num_row_groups=footer.num_row_groups,
            schema=schema,
            record_type=own_record_type(schema, metadata),
            dialect=metadata.get(META_DIALECT),
            schema_version=_schema_version(metadata),
            library_version=metadata.get(META_VERSION),
            metadata=metadata,
        )
    finally:
        handle.close()


def decoded_metadata(raw: dict[bytes, bytes] | None) -> dict[str, str]:
    """Key-value metadata (a footer's or a schema's) as text, without the Arrow schema."""
    return {
        key.decode("utf-8", "replace"): value.decode("utf-8", "replace")
        for key, value in (raw or {}).items()
        if key != b"ARROW:schema"
    }


def _schema_version(metadata: dict[str, str]) -> int | None:
    text = metadata.get(META_SCHEMA_VERSION)
    return int(text) if text and text.isdecimal() else None


def own_record_type(schema: pa.Schema, metadata: dict[str, str]) -> type[Record] | None:
    """The record type of a file or table with instructkit's own schema, else ``None``.

    Our own schema: written by us without a dialect (the schema version is recorded), or
    written elsewhere with exactly our column names (``datasets`` keeps them).
    """
    own = _schema_version(metadata) is not None or metadata.get(META_DIALECT) is None
    return record_type_of(schema) if own else None


def check_positive(name: str, value: object) -> int:
    """Return ``value`` if it is a positive int (not a bool).

    Raises:
        ConfigurationError: anything else, naming the keyword ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"expected {name} to be a positive integer, got {value!r}")
    return value


# --- reading -------------------------------------------------------------------------------


def _native_kind(info: ParquetInfo, record: type[Record] | str | None, file: str) -> type[Record]:
    if record is not None:
        return resolve_record_type(record)
    if info.record_type is not None:
        return info.record_type
    if info.dialect not in (None, NATIVE_DIALECT):
        raise DataError(
            f"expected a file with instructkit's own schema, got one written in dialect "
            f"{info.dialect!r} (read its rows through that dialect)",
            file=file,
        )
    raise DataError(
        "expected the columns of an Instruction, Conversation or Preference file, got "
        f"{info.schema.names} (pass record= to have the differences named, or read the rows "
        "through a dialect)",
        file=file,
    )


def iter_parquet_records(
    path: str | os.PathLike[str],
    *,
    record: type[Record] | str | None = None,
    on_error: OnError = "raise",
    report: ItemReport | None = None,
    batch_size: int = _READ_BATCH,
    start: int = 0,
) -> Iterator[Any]:
    """Read a Parquet file with instructkit's schema as validated records, streaming.

    The schema is checked once, from the footer, before any row is read; then record
    batches are validated into records one batch at a time (memory stays at about one row
    group). Each row group must give as many rows as the footer says, and page checksums are
    verified, so a damaged file is an error rather than fewer or different records.

    Args:
        path: The file.
        record: The record type; by default taken from the footer metadata or the column names.
        on_error: ``"raise"`` (default) stops at the first invalid row; ``"skip"`` and
            ``"collect"`` leave it out and count it in ``report``.
        report: An :class:`~instructkit.ItemReport` to fill (``row`` of each rejection is
            the 0-based row in the file).
        batch_size: Rows per batch read.
        start: The first row to read (0-based; a resumed read starts later).

    Yields:
        The records, in file order.

    Raises:
        DataError: the file is not Parquet, is damaged (the message names the row group), or
            its columns are not a record type's (the message names the missing, unexpected
            or mistyped columns).
        RecordValidationError: a row is invalid (``on_error="raise"``), with ``row`` and
            the field path.
    """
    for _, item in parquet_records(
        path, record=record, on_error=on_error, report=report, batch_size=batch_size, start=start
    ):
        yield item


def parquet_records(
    path: str | os.PathLike[str],
    *,
    record: type[Record] | str | None = None,
    on_error: OnError = "raise",
    report: ItemReport | None = None,
    batch_size: int = _READ_BATCH,
    rejected: Callable[[DataError, dict[str, Any]], None] | None = None,
    start: int = 0,
) -> Iterator[tuple[int, Record]]:
    """:func:`iter_parquet_records` with each record's row index, and the rejected rows.

    The one typed read path: :func:`instructkit.read` takes it for files with instructkit's
    own schema whatever its keywords, so a file gives the same records and rejections with
    or without a rejects file.

    Args:
        path: The file.
        record: As for :func:`iter_parquet_records`.
        on_error: As for :func:`iter_parquet_records`.
        report: As for :func:`iter_parquet_records`.
        batch_size: Rows per batch read.
        rejected: Called with each rejected row's error and the row (as stored, ``meta``
            decoded where it can be), before ``on_error`` applies.
        start: The first row to read (0-based; a resumed read starts later).

    Yields:
        ``(row_index, record)``, the index 0-based in the file.
    """
    policy = check_on_error(on_error)
    check_positive("batch_size", batch_size)
    file = _name(path)
    info = parquet_info(path)
    kind = _native_kind(info, record, file)
    # Check the types on an empty table first, so a bad file fails before any row is read.
    conform_table(pa.Table.from_batches([], info.schema), kind, file=file)
    handle = _open(path)
    try:
        yield from batch_records(
            _batches(handle, batch_size, file, start),
            kind,
            file=file,
            on_error=policy,
            report=report,
            rejected=rejected,
            start=start,
        )
    finally:
        handle.close()


def batch_records(
    batches: Iterable[pa.RecordBatch],
    kind: type[Record],
    *,
    file: str,
    on_error: OnError,
    report: ItemReport | None,
    rejected: Callable[[DataError, dict[str, Any]], None] | None,
    start: int,
) -> Iterator[tuple[int, Record]]:
    """The typed path over any record batches of ``kind``'s columns (a file's, or a table's).

    Each batch is conformed to the schema and validated into records; ``start`` is the first
    batch's row index. See :func:`parquet_records` for the rest.
    """
    policy = on_error
    tally = report if report is not None else ItemReport(source=file)
    if tally.source is None:
        tally.source = file
    for batch in batches:
        conformed = conform_table(batch, kind, file=file)
        # Collected first, then replayed in row order: the records before a bad row are
        # yielded before it raises, and `rejected` sees every bad row with its values.
        probe = ItemReport()
        records = records_from_batch(
            conformed, kind, start=start, on_error="collect", report=probe, file=file
        )
        if not probe.rejected:
            tally.seen += len(records)
            tally.valid += len(records)
            for offset, item in enumerate(records):
                yield start + offset, item
        else:
            bad = {r.row: r.error for r in probe.rejections}
            kept = iter(records)
            for offset in range(batch.num_rows):
                tally.seen += 1
                error = bad.get(start + offset)
                if error is None:
                    tally.valid += 1
                    yield start + offset, next(kept)
                    continue
                if rejected is not None:
                    rejected(error, _stored_row(conformed, offset))
                tally.reject(error, on_error=policy)
        start += batch.num_rows


def _stored_row(table: pa.Table | pa.RecordBatch, offset: int) -> dict[str, Any]:
    """Row ``offset`` as stored, for a rejects file: text that is not UTF-8 comes as bytes."""
    row: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        value = column.slice(offset, 1)
        try:
            row[name] = value.to_pylist()[0]
        except UnicodeDecodeError:
            row[name] = value.cast(_as_binary(value.type)).to_pylist()[0]
    if isinstance(row.get("meta"), str):
        with contextlib.suppress(DataError):
            row["meta"] = meta_value(row["meta"])
    return row


def _as_binary(kind: pa.DataType) -> pa.DataType:
    """``kind`` with its text (at any depth) as bytes, which need not be UTF-8."""
    kind = storage_type(kind)
    if pa.types.is_string(kind):
        return pa.binary()
    if pa.types.is_large_string(kind):
        return pa.large_binary()
    if pa.types.is_list(kind):
        return pa.list_(_as_binary(kind.value_type))
    if pa.types.is_large_list(kind):
        return pa.large_list(_as_binary(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_as_binary(f.type)) for f in kind])
    return kind


def _group_rows(handle: pq.ParquetFile, file: str) -> list[int]:
    """The footer's row count of each row group, checked against its count for the file."""
    footer = handle.metadata
    counts = [footer.row_group(index).num_rows for index in range(footer.num_row_groups)]
    if sum(counts) != footer.num_rows:
        raise DataError(
            f"expected the row groups to hold the footer's {footer.num_rows} rows, got "
            f"{sum(counts)} in their own counts (the footer is damaged)",
            file=file,
        )
    return counts


def _damaged(file: str, group: int, first: int, expected: int, what: str) -> DataError:
    last = f"-{first + expected - 1}" if expected > 1 else ""
    return DataError(
        f"expected row group {group} (rows {first}{last}) to be readable Parquet data with the "
        f"footer's {expected} rows, got {what}",
        file=file,
    )


def _batches(
    handle: pq.ParquetFile, batch_size: int, file: str, skip: int = 0
) -> Iterator[pa.RecordBatch]:
    """Every row of the file from row ``skip`` on, row group by row group, checked.

    pyarrow trusts the pages: a damaged page header can make a column end early, and then
    it returns no rows and no error. So each row group must give exactly the footer's count
    of rows, and anything pyarrow raises (a page checksum that does not match, a header it
    cannot decode) becomes a :class:`DataError` naming the row group. Whole row groups
    before ``skip`` are not read at all (a resumed read).
    """
    first = 0
    for group, expected in enumerate(_group_rows(handle, file)):
        if skip >= expected:
            skip -= expected
            first += expected
            continue
        got = 0
        try:
            for batch in handle.iter_batches(
                batch_size=batch_size, row_groups=[group], use_threads=True
            ):
                got += batch.num_rows
                if got > expected:
                    break
                if skip:
                    # The rows before the resumed position, in the first row group read.
                    taken = min(skip, batch.num_rows)
                    skip -= taken
                    batch = batch.slice(taken)
                    if not batch.num_rows:
                        continue
                yield batch
        except _UNREADABLE as err:
            if isinstance(err, _NOT_DATA):
                raise
            raise _damaged(file, group, first, expected, f"unreadable data ({err})") from err
        if got != expected:
            found = f"more than {expected}" if got > expected else str(got)
            raise _damaged(file, group, first, expected, f"{found} rows (the file is damaged)")
        first += expected


def _group_table(handle: pq.ParquetFile, file: str) -> pa.Table:
    """The whole file as one table, each row group checked as :func:`_batches` does."""
    tables = []
    first = 0
    for group, expected in enumerate(_group_rows(handle, file)):
        try:
            table = handle.read_row_group(group, use_threads=True)
        except _UNREADABLE as err:
            if isinstance(err, _NOT_DATA):
                raise
            raise _damaged(file, group, first, expected, f"unreadable data ({err})") from err
        if table.num_rows != expected:
            found = f"{table.num_rows} rows (the file is damaged)"
            raise _damaged(file, group, first, expected, found)
        tables.append(table)
        first += expected
    if not tables:
        # Not schema.empty_table(): that cannot build extension types (the JSON columns).
        return pa.Table.from_batches([], handle.schema_arrow)
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def iter_parquet_rows(
    path: str | os.PathLike[str],
    *,
    batch_size: int = _READ_BATCH,
    start: int = 0,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Read a Parquet file's rows as plain dicts, without validation, streaming.

    Rows of a file with instructkit's own schema come in the records' JSON form (``meta``
    parsed from its JSON text), so they equal ``record.to_dict()``. Rows of any other file
    are as pyarrow gives them, except that ``None``-valued keys are left out, at every level:
    Arrow cannot tell a missing key from a null one (a column or struct field exists for every
    row once any row has it), so both read as "absent". Columns that instructkit's dialect
    writer stored as JSON text (footer key ``instructkit.json_columns``) are decoded.

    Args:
        path: The file.
        batch_size: Rows per batch read.
        start: The first row to read (0-based; a resumed read starts later).

    Yields:
        ``(row_index, row)``, the index 0-based in the file.

    Raises:
        DataError: the file is not readable Parquet or is damaged, a row is not valid UTF-8,
            or a JSON text column does not hold valid JSON (with ``row=``).
    """
    for index, row, error in parquet_row_items(path, batch_size=batch_size, start=start):
        if error is not None:
            raise error
        yield index, row


def parquet_row_items(
    path: str | os.PathLike[str],
    *,
    batch_size: int = _READ_BATCH,
    start: int = 0,
) -> Iterator[tuple[int, dict[str, Any], DataError | None]]:
    """:func:`iter_parquet_rows`, with a bad row given as its error instead of raised.

    Args:
        path: The file.
        batch_size: Rows per batch read.
        start: The first row to read (0-based; a resumed read starts later).

    Yields:
        ``(row_index, row, error)``: ``error`` is ``None`` for a good row; for a bad one
        (not valid UTF-8, JSON text that does not parse) it is the located error, and ``row``
        is the row as stored.

    Raises:
        DataError: the file is not readable Parquet, or is damaged.
    """
    check_positive("batch_size", batch_size)
    file = _name(path)
    info = parquet_info(path)
    handle = _open(path)
    try:
        yield from batch_row_items(
            _batches(handle, batch_size, file, start),
            info.schema,
            info.metadata,
            file=file,
            start=start,
        )
    finally:
        handle.close()


def batch_row_items(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    metadata: dict[str, str],
    *,
    file: str,
    start: int,
) -> Iterator[tuple[int, dict[str, Any], DataError | None]]:
    """:func:`parquet_row_items` over any record batches of ``schema`` (a file's, or a table's).

    ``metadata`` is the file's footer (or the schema's) metadata, decoded
    (:func:`decoded_metadata`); ``start`` is the first batch's row index.
    """
    record_type = own_record_type(schema, metadata)
    native = record_type is not None and "meta" in schema.names
    message_columns = MESSAGE_COLUMNS[record_type] if record_type else ()
    json_columns: list[str] = []
    if not native and META_JSON_COLUMNS in metadata:
        try:
            listed = json.loads(metadata[META_JSON_COLUMNS])
        except ValueError as err:
            raise DataError(
                f"expected a JSON list in the footer's {META_JSON_COLUMNS}", file=file
            ) from err
        json_columns = [name for name in listed if name in schema.names]
    # Values typed as JSON (by instructkit's dialect writer, or by `datasets` for its Json()
    # feature) are decoded, nested or not.
    typed = {f.name: f.type for f in schema if holds_json(f.type)}
    for batch in batches:
        for offset, row, error in _batch_rows(batch, start, file):
            if error is not None:
                yield start + offset, row, error
                continue
            stored = row
            try:
                if native:
                    row = dict(row)
                    meta = row["meta"]
                    # A struct (`datasets` writes meta objects of one shape so) or text.
                    row["meta"] = strip_nulls(meta) if isinstance(meta, dict) else meta_value(meta)
                    for name in message_columns:
                        merge_parts(row[name], name)
                else:
                    row = strip_nulls(row)
                    for name in json_columns:
                        if name in row:
                            row[name] = json_value(row[name], name)
                    for name, kind in typed.items():
                        if name in row:
                            row[name] = decode_json_typed(row[name], kind, (name,))
            except DataError as err:
                yield start + offset, stored, err.located(row=start + offset, file=file)
                continue
            yield start + offset, row, None
        start += batch.num_rows


def _batch_rows(
    batch: pa.RecordBatch, start: int, file: str
) -> Iterator[tuple[int, dict[str, Any], DataError | None]]:
    """The rows of a batch; a row whose text is not valid UTF-8 as stored, with its error."""
    if _valid(batch):
        for offset, row in enumerate(batch.to_pylist()):
            yield offset, row, None
        return
    for offset in range(batch.num_rows):
        one = batch.slice(offset, 1)
        try:
            one.validate(full=True)
        except pa.ArrowInvalid as err:
            error = DataError(
                f"expected valid UTF-8 text, got invalid bytes ({err})",
                row=start + offset,
                file=file,
            )
            yield offset, _stored_row(one, 0), error
            continue
        yield offset, one.to_pylist()[0], None


def _valid(batch: pa.RecordBatch) -> bool:
    try:
        batch.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def read_parquet_table(
    path: str | os.PathLike[str],
    *,
    record: type[Record] | str | None = None,
) -> pa.Table:
    """Read a whole Parquet file with instructkit's schema as a conformed Arrow table.

    No validation beyond the schema; :func:`~instructkit.read_table` adds the checks.

    Args:
        path: The file.
        record: The record type; by default taken from the footer or the column names.

    Returns:
        The table, with exactly :func:`~instructkit.arrow.arrow_schema` of the record type.

    Raises:
        DataError: the file is not readable Parquet or is damaged (the row group named), or
            its columns do not match (named).
    """
    file = _name(path)
    info = parquet_info(path)
    kind = _native_kind(info, record, file)
    conform_table(pa.Table.from_batches([], info.schema), kind, file=file)
    handle = _open(path)
    try:
        table = _group_table(handle, file)
    finally:
        handle.close()
    return conform_table(table, kind, file=file)
