"""``read_table``: JSONL or Parquet to a validated Arrow table, without a Python object per row.

The fast path never materialises records:

* **JSONL** (``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``, ``.ndjson``) is parsed by pyarrow's
  multi-threaded JSON reader with an explicit schema: every column of the record type's
  fixed schema except ``meta``. The rows must be instructkit's own JSON form
  (``record.to_dict()``, what ``instructkit.write`` produces without a dialect), so ``meta``
  is a JSON *object* on disk but JSON *text* in the table. pyarrow cannot read arbitrary
  objects into a text column, so ``meta`` is left to pyarrow's inference and then:

  - when every row's meta is ``{}`` (inferred as an empty struct), the column is the
    constant ``"{}"``, built in Arrow;
  - otherwise the meta column alone is rebuilt from the file in Python (``orjson`` per line,
    then compact JSON text): correct, but that part costs a Python parse per row.

  Unknown keys (top level or inside messages) surface as extra inferred fields and are
  refused. When pyarrow cannot read the file at all (malformed JSON, a value of the wrong
  JSON type, a duplicate key, invalid UTF-8, metas whose types clash across rows), or with
  ``on_error="skip"``/``"collect"`` when some lines cannot be typed, the file is read line by
  line through the records instead: errors are then located by line, and skipped lines are
  counted, exactly as :func:`instructkit.read` does. A file holding a line with so many
  ``[`` and ``{`` bytes that pyarrow's recursive parser could overflow its stack on it is
  read line by line from the start (see ``_fits_pyarrow``), as is one where pyarrow meets a
  key that is not UTF-8.
* **Parquet** files with instructkit's schema are read with pyarrow, row group by row group
  (each checked against the footer's row count, page checksums verified; damage is a
  ``DataError`` naming the row group), and conformed
  (:func:`~instructkit._arrow.conform_table`; missing, extra or mistyped columns are named).

Then the table is checked, column-wise, with Arrow compute, by the named column rules
(:func:`~instructkit._arrow.validate_table`, whose module lists them). The result is exactly
the rows :func:`~instructkit.from_arrow` accepts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from instructkit._arrow import (
    Findings,
    arrow_schema,
    check_utf8,
    conform_table,
    meta_text,
    record_batches,
    record_type_of,
    resolve_record_type,
    scan_table,
    settle_table,
    storage_type,
)
from instructkit._dialects import native_record_type
from instructkit._errors import (
    ConfigurationError,
    DataError,
    describe_type,
)
from instructkit._io._atomic import watch_shard_sets
from instructkit._io._compression import open_source
from instructkit._io._jsonl import (
    BLANK,
    MAX_LINE_BYTES,
    check_max_line_bytes,
    iter_jsonl,
)
from instructkit._io._parquet import read_parquet_table
from instructkit._io._paths import (
    FORMATS,
    Sources,
    compression_for,
    describe_sources,
    format_of_name,
    source_paths,
)
from instructkit._records import Record
from instructkit._reports import ItemReport, OnError, check_on_error

__all__ = ["read_table"]

_BLOCK_SIZE = 1 << 20
# pyarrow's default block size: on the benchmark files 1-4 MiB blocks parse equally fast and
# 16 MiB ones ~20 % slower (measured on 2 cores). A line longer than a block makes pyarrow
# fail; the block then grows, 4x at a time, until the longest line fits.
_MAX_BLOCK_SIZE = (1 << 31) - 1


def _format_of(path: str, format: str | None) -> str:
    if format is not None:
        if format not in ("jsonl", "parquet"):
            raise ConfigurationError(
                f"expected format 'jsonl' or 'parquet' for read_table, got {format!r}"
            )
        return format
    implied = format_of_name(path)
    # The kind alone: the compression of a JSONL file follows its name (compression_for).
    kind = None if implied is None else FORMATS[implied][0]
    if kind in ("jsonl", "parquet"):
        return kind
    raise ConfigurationError(
        f"expected a .jsonl (optionally .gz or .zst) or .parquet path, got {path!r} "
        "(pass format=; for a JSON array file, use instructkit.read and to_arrow)"
    )


def read_table(
    path: Sources,
    *,
    record: type[Record] | str | None = None,
    format: str | None = None,
    on_error: OnError = "raise",
    report: ItemReport | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> pa.Table:
    """Read JSONL or Parquet of instructkit's own layout into a validated Arrow table.

    The whole file is parsed by pyarrow and checked with Arrow compute, so no Python object
    is made per record (see the module notes for the details and the one exception, ``meta``
    objects in JSONL). The table has exactly :func:`~instructkit.arrow.arrow_schema` of the record
    type, and every row is a valid record.

    Args:
        path: A ``.jsonl`` (``.jsonl.gz``, ``.jsonl.zst``) or ``.parquet`` file, a glob
            pattern or folder (see :func:`~instructkit.read`), or a list of these (such as the
            shards of a sharded :func:`~instructkit.write`): their tables are concatenated in
            order, and must all hold the same record type.
        record: The record type; by default taken from the Parquet footer, or from the keys of
            the first JSONL row (of the first file that has rows).
        format: ``"jsonl"`` or ``"parquet"`` to override the file extension.
        on_error: ``"raise"`` (default) raises for the first invalid row; ``"skip"`` and
            ``"collect"`` leave invalid rows out of the table and count them in ``report``.
        report: An :class:`~instructkit.ItemReport` to fill with the counts: of rows, or of
            lines (blank ones counted as blank) when a JSONL file is read line by line.
        max_line_bytes: The longest JSONL line read, in bytes after decompression (256 MiB
            by default); a longer one raises a :class:`~instructkit.DataError` naming the
            limit and the line, as for :func:`~instructkit.read`.

    Returns:
        The validated table.

    Raises:
        DataError: the file cannot be read, is damaged (for Parquet, the message names the
            row group), or holds another layout; for Parquet, the message names the missing,
            unexpected or mistyped columns.
        MalformedJSONError: a JSONL line is not JSON (with line, column and byte offset).
        RecordValidationError: a row is not a valid record; ``row`` (0-based), ``file`` and the
            field path are set, and ``line`` for JSONL.
        ConfigurationError: bad arguments, or an empty list of files.
        FileNotFoundError: a file does not exist (before any is read).

    Example:
        >>> import pathlib, tempfile
        >>> from instructkit import Instruction, read_table, write
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "train.parquet"
        >>> _ = write([Instruction(instruction="Add 2 and 2.", response="4")], target)
        >>> read_table(target).column("response").to_pylist()
        ['4']
    """
    policy = check_on_error(on_error)
    limit = check_max_line_bytes(max_line_bytes)
    files = [os.fspath(each) for each in source_paths(path)]
    formats = [_format_of(file, format) for file in files]
    kind = resolve_record_type(record) if record is not None else None
    if report is not None and not isinstance(report, ItemReport):
        raise ConfigurationError(f"expected report to be an ItemReport, got {report!r}")
    tally = report if report is not None else ItemReport()
    if tally.source is None:
        tally.source = describe_sources(files)
    for file in files:
        os.stat(file)  # a missing file fails before any is read
    check_shards = watch_shard_sets(files)
    tables: list[pa.Table | None] = []
    rowless: list[int] = []  # JSONL files read before any row told the record type
    for file, kind_format in zip(files, formats, strict=True):
        if kind is None and kind_format == "jsonl":
            kind = _sniff_jsonl(file, limit)
            if kind is None:
                # No rows to tell the type by: read it once another file has told it.
                rowless.append(len(tables))
                tables.append(None)
                continue
        table = _read_file(file, kind_format, kind, policy, tally, limit)
        # The first file with rows decides the record type; the others must hold the same.
        kind = kind or record_type_of(table.schema)
        tables.append(table)
    if kind is None:
        raise DataError(
            "expected at least one JSON row to tell the record type, got none (pass record=)",
            loc="$",
            file=describe_sources(files),
        )
    for index in rowless:
        tables[index] = _read_file(files[index], "jsonl", kind, policy, tally, limit)
    parts = [table for table in tables if table is not None]
    check_shards()  # every file was opened after the call's check: the same set, or raise
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts)


def _read_file(
    file: str,
    kind_format: str,
    kind: type[Record] | None,
    policy: OnError,
    tally: ItemReport,
    limit: int,
) -> pa.Table:
    """One file's validated table; ``kind`` may be ``None`` only for Parquet.

    Raises:
        DataError: as :func:`read_table` says; one about the whole file (not Parquet, not
            the record type's columns) is located at its root, ``$``.
    """
    try:
        return _read_one(file, kind_format, kind, policy, tally, limit)
    except DataError as err:
        if err.loc is not None:
            raise
        raise err.located(loc="$", file=file) from err


def _read_one(
    file: str,
    kind_format: str,
    kind: type[Record] | None,
    policy: OnError,
    tally: ItemReport,
    limit: int,
) -> pa.Table:
    """:func:`_read_file` without the location of whole-file errors."""
    if kind_format == "parquet":
        table = read_parquet_table(file, record=kind)
        found = record_type_of(table.schema)  # the conformed table's metadata names it
        assert found is not None
        with _validating(table) as valid:
            out = _scan_unless_undecodable(table, found)
            if not valid() or out is None:
                check_utf8(table, file)  # raises, naming the column
                raise DataError("expected valid UTF-8 text, got invalid bytes", file=file)
        return settle_table(table, found, out, policy, tally, file, None)
    assert kind is not None  # read_table sniffs JSONL files first
    try:
        parsed = _parse_jsonl_table(file, kind, limit)
        if parsed is not None:
            # The validation of the parsed text runs while the table is conformed and checked.
            with _validating(parsed) as valid:
                table = _conform_jsonl(file, kind, parsed, limit)
                out = None if table is None else _scan_unless_undecodable(table, kind)
                if table is not None and out is not None and valid():
                    return settle_table(table, kind, out, policy, tally, file, _LineFinder(file))
    except UnicodeDecodeError:
        # pyarrow takes a key that is not UTF-8 as a column or field name, and fails only
        # when its name is asked for; the line reader locates the bad bytes.
        pass
    return _read_jsonl_records(file, kind, policy, tally, limit)


def _validate_all(chunks: list[pa.Array]) -> None:
    for chunk in chunks:
        chunk.validate(full=True)


@contextlib.contextmanager
def _validating(table: pa.Table) -> Iterator[Callable[[], bool]]:
    """Arrow's full validation of ``table`` on worker threads, while the caller goes on.

    Neither pyarrow's JSON reader nor its Parquet reader promises valid UTF-8 in string
    columns, and checking it is a large part of the work after parsing. The validation
    releases the GIL, so it runs alongside the caller's next steps (conforming, the checks).
    Yields a function that waits for it and tells whether the table is valid.
    """
    chunks = [chunk for column in table.columns for chunk in column.chunks]
    workers = max(1, min(4, os.cpu_count() or 1))
    groups = [chunks[i :: workers * 2] for i in range(workers * 2)]  # few tasks, even sizes
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.submit(_validate_all, group) for group in groups if group]

        def valid() -> bool:
            try:
                for future in pending:
                    future.result()
            except pa.ArrowInvalid:
                return False
            return True

        yield valid


def _scan_unless_undecodable(table: pa.Table, kind: type[Record]) -> Findings | None:
    """``scan_table``; ``None`` when a check met invalid UTF-8 before the validation did."""
    try:
        return scan_table(table, kind)
    except UnicodeDecodeError:
        return None


# --- JSONL ---------------------------------------------------------------------------------


def _sniff_jsonl(file: str, limit: int) -> type[Record] | None:
    """The record type the first row of a JSONL file has, or ``None`` if it has no rows."""
    source = open_source(file, compression_for(file))
    try:
        for line, _raw, value in iter_jsonl(source, file=file, max_line_bytes=limit):
            if value is BLANK:
                continue
            if isinstance(value, DataError):
                raise value
            kind = native_record_type(value) if isinstance(value, dict) else None
            if kind is None:
                keys = sorted(value) if isinstance(value, dict) else type(value).__name__
                raise DataError(
                    "expected rows in instructkit's own layout (all fields of an Instruction, "
                    f"Conversation or Preference), got {keys} (pass record= to have the "
                    "differences named; read other dialects with instructkit.read)",
                    file=file,
                    line=line,
                    row=0,
                )
            return kind
    finally:
        source.close()
    return None


# pyarrow's JSON parser recurses once per level of nesting and overflows its stack, killing
# the process, some 16,000 to 20,000 levels down (measured with pyarrow 26 on Linux, 8 MiB
# thread stacks). A line with no more [ and { bytes than this cannot come near; a file with
# a line holding more (rare, and never within the limits of instructkit._limits) is read
# line by line instead. Lines longer than this are counted, so it is not set lower.
_PYARROW_SAFE_OPENERS = 8192
_WINDOW = _PYARROW_SAFE_OPENERS // 2


def _long_lines_shallow(data: Any, end: int) -> bool:
    """Whether every line of ``data[:end]`` holds at most ``_PYARROW_SAFE_OPENERS`` openers.

    Only lines longer than that many bytes can hold more, and each of them covers a whole
    aligned window of ``_WINDOW`` bytes without a newline; one ``find`` per window (memchr,
    stopping at the first newline) finds them, so ordinary files cost one short search per
    window rather than a pass over every byte.
    """
    start = 0
    find = data.find
    while start < end:
        stop = start + _WINDOW
        if stop > end:
            # The last, partial window: a long line ending in it covers a full window before
            # it, where it was measured.
            return True
        if find(b"\n", start, stop) >= 0:
            start = stop
            continue
        first = data.rfind(b"\n", 0, start) + 1
        last = find(b"\n", stop, end)
        last = end if last < 0 else last
        if last - first > _PYARROW_SAFE_OPENERS and _openers(data, first, last):
            return False
        start = last + 1
    return True


def _openers(data: Any, first: int, last: int) -> bool:
    """Whether ``data[first:last]`` holds more than ``_PYARROW_SAFE_OPENERS`` openers."""
    line = data[first:last]
    return bool(line.count(b"[") + line.count(b"{") > _PYARROW_SAFE_OPENERS)


_SCAN_CHUNK = 1 << 22


def _fits_pyarrow(file: str, limit: int) -> bool:
    """Whether no line of ``file`` is nested deep enough to crash pyarrow's JSON reader.

    A line longer than ``limit`` (the line cap) is not held to be scanned: the line reader
    stops at it with the cap's error.
    """
    # Read in chunks rather than mapped: the scan touches about one page per window, and
    # mapped pages would count in the process's resident memory, the whole file at the end.
    # One buffer is refilled in place: a fresh 4 MiB object per chunk (and joining the
    # previous chunk's unfinished line to it) cost more in page faults than the scan itself.
    source = open_source(file, compression_for(file))
    try:
        buffer = bytearray(_SCAN_CHUNK)
        kept = 0  # the unfinished last line of the previous chunk, moved to the front
        while True:
            if kept > len(buffer) // 2:
                # A long line: give up past the cap, or when what is already held of it is
                # too deep; else make room for more of it.
                if kept > limit or _openers(buffer, 0, kept):
                    return False
                buffer.extend(bytes(len(buffer)))
            got = _fill(source, buffer, kept)
            end = kept + got
            if got == 0:  # what is left is the last line, without its newline
                return not (end > _PYARROW_SAFE_OPENERS and _openers(buffer, 0, end))
            cut = buffer.rfind(b"\n", kept, end) + 1
            if cut == 0:  # no line ends in this chunk
                kept = end
                continue
            if not _long_lines_shallow(buffer, cut):
                return False
            kept = end - cut
            if kept > limit:
                return False
            buffer[:kept] = buffer[cut:end]
    finally:
        source.close()


def _fill(source: Any, buffer: bytearray, at: int) -> int:
    """Read into ``buffer[at:]``; the number of bytes read (0 at the end)."""
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        with memoryview(buffer) as view:
            got: int = readinto(view[at:])
        return got
    data = source.read(len(buffer) - at)
    buffer[at : at + len(data)] = data
    return len(data)


def _parse_jsonl(file: str, parse: pj.ParseOptions, limit: int) -> pa.Table | None:
    if not _fits_pyarrow(file, limit):
        return None
    block = _BLOCK_SIZE
    # A block holds whole lines: past a line of `limit` bytes and its newline, the line
    # reader reports the line as too long instead of pyarrow taking ever more memory.
    largest = min(_MAX_BLOCK_SIZE, max(_BLOCK_SIZE, limit + 1))
    while True:
        try:
            return pj.read_json(
                file,
                read_options=pj.ReadOptions(block_size=block, use_threads=True),
                parse_options=parse,
            )
        except pa.ArrowInvalid as err:
            if "straddl" in str(err) and block < largest:
                block = min(block * 4, largest)
                continue
            return None
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise
        except (OSError, UnicodeDecodeError, pa.ArrowNotImplementedError):
            # Truncated or corrupt compressed data and the like; the line reader locates it.
            return None


def _parse_jsonl_table(file: str, kind: type[Record], limit: int) -> pa.Table | None:
    """The file parsed by pyarrow; ``None`` if that fails or finds unknown or missing columns."""
    schema = arrow_schema(kind)
    # pyarrow's JSON reader knows no extension types: JSON text is parsed as plain text.
    explicit = pa.schema([f.with_type(storage_type(f.type)) for f in schema if f.name != "meta"])
    parse = pj.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer")
    table = _parse_jsonl(file, parse, limit)
    if table is None:
        return None
    names = table.schema.names
    if set(names) - set(schema.names) or "meta" not in names:
        return None  # unknown or missing columns: the line reader names the row and field
    return table


def _conform_jsonl(file: str, kind: type[Record], table: pa.Table, limit: int) -> pa.Table | None:
    """The parsed table with meta as JSON text and exactly the record type's schema.

    ``None`` when the file must be read line by line instead.
    """
    names = table.schema.names
    meta = table.column("meta")
    if pa.types.is_struct(meta.type) and meta.type.num_fields == 0:
        texts = pc.if_else(pc.is_null(meta), pa.scalar(None, pa.string()), pa.scalar("{}"))
    elif pa.types.is_null(meta.type):
        texts = pa.nulls(table.num_rows, pa.string())
    else:
        found = _meta_texts(file, table.num_rows, limit)
        if found is None:
            return None
        texts = found
    table = table.set_column(names.index("meta"), "meta", texts)
    try:
        return conform_table(table, kind, file=file)
    except DataError:
        return None  # a nested field pyarrow inferred anew; the line reader names it


def _meta_texts(file: str, rows: int, limit: int) -> pa.Array | None:
    """Each row's meta as compact JSON text, parsed line by line (rows with non-empty meta)."""
    texts: list[str | None] = []
    source = open_source(file, compression_for(file))
    try:
        for _line, _raw, value in iter_jsonl(source, file=file, max_line_bytes=limit):
            if value is BLANK:
                continue
            if not isinstance(value, dict):
                return None
            meta = value.get("meta")
            if isinstance(meta, dict):
                try:
                    texts.append(meta_text(meta))
                except DataError:
                    return None
            elif meta is None:
                texts.append(None)
            else:
                # Not an object: keep its JSON text, so the check reports what it is.
                texts.append(orjson.dumps(meta).decode())
    finally:
        source.close()
    if len(texts) != rows:
        return None
    return pa.array(texts, pa.string())


def _read_jsonl_records(
    file: str,
    kind: type[Record],
    policy: OnError,
    report: ItemReport,
    limit: int = MAX_LINE_BYTES,
) -> pa.Table:
    """The slow path: every line through the record layer, errors located by line."""
    batches: list[pa.RecordBatch] = []
    pending: list[Record] = []
    row = 0
    source = open_source(file, compression_for(file))
    try:
        for line, _raw, value in iter_jsonl(source, file=file, max_line_bytes=limit):
            report.seen += 1
            if value is BLANK:
                report.blank += 1
                continue
            index = row
            row += 1
            if isinstance(value, DataError):
                report.reject(value.located(file=file, line=line, row=index), on_error=policy)
                continue
            if not isinstance(value, dict):
                error = DataError(
                    f"expected a JSON object per line, got {describe_type(value)}",
                    loc="$",
                    file=file,
                    line=line,
                    row=index,
                )
                report.reject(error, on_error=policy)
                continue
            try:
                pending.append(kind.model_validate(value))
            except DataError as err:
                report.reject(err.located(file=file, line=line, row=index), on_error=policy)
                continue
            report.valid += 1
            if len(pending) >= 65_536:
                batches.extend(record_batches(pending, record=kind)[1])
                pending = []
    finally:
        source.close()
    batches.extend(record_batches(pending, record=kind)[1])
    return pa.Table.from_batches(batches, schema=arrow_schema(kind))


class _LineFinder:
    """Maps table rows of a JSONL file to 1-based line numbers, by a scan made only on error."""

    def __init__(self, file: str) -> None:
        self.file = file

    def __call__(self, rows: set[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        if not rows:
            return found
        last = max(rows)
        row = -1
        source = open_source(self.file, compression_for(self.file))
        try:
            for line, raw in _raw_lines(source):
                if not raw.strip(b" \t\r"):
                    continue
                row += 1
                if row in rows:
                    found[row] = line
                if row >= last:
                    break
        finally:
            source.close()
        return found


def _raw_lines(source: Any) -> Iterator[tuple[int, bytes]]:
    line = 0
    tail = b""
    first = True
    while True:
        data = source.read(1 << 22)
        if not data:
            break
        if first:
            first = False
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
        parts = (tail + data).split(b"\n")
        tail = parts.pop()
        for raw in parts:
            line += 1
            yield line, raw
    if tail:
        yield line + 1, tail
