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

Then the table is checked, column-wise, with Arrow compute:

* required texts present and non-empty (instruction, response, system/name/id when set,
  tool-call id and name, tool_call_id), ``input`` present;
* roles in the known set; content ``None`` only on an assistant turn with tool calls, ``""``
  only on tool turns and assistant turns with tool calls;
* ``tool_calls`` only on assistant turns, ``reasoning`` only on assistant turns,
  ``tool_call_id`` on (and only on) tool turns; weights in [0, 1] (NaN refused);
* at least one message in ``messages``, ``chosen`` and ``rejected``; lists never null;
* the cross-turn rules: system and developer turns only before the first user turn (a
  running count of user turns over all turns of a column); tool-call ids unique within a
  transcript, and every tool turn answering a call issued by an earlier turn of its
  transcript, once (group-bys and joins over just the tool turns and calls); for a
  preference, each of ``prompt + chosen`` and ``prompt + rejected``;
* valid UTF-8 everywhere (Arrow's full validation, on worker threads while the rest runs).

The checks cost about a tenth of pyarrow's parse, so they avoid work where they can: a
message field is extracted and the roles are hashed once per column; a rule about a field
that is null in every turn (``name``, ``reasoning``, ``weight``, ``tool_call_id``, tool
calls in data without any) builds no mask, as Arrow knows each column's null count.

Two checks look at values in Python, once per *distinct* value rather than per row: that
tool-call arguments and tool schemas are valid JSON text, and that ``meta`` texts other
than ``"{}"`` are JSON objects. Only rows found bad are then turned into records, to report
the record layer's own message for them. The result is exactly the rows
:func:`~instructkit.from_arrow` accepts.
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
    MESSAGE_TYPE,
    TOOL_CALL_TYPE,
    arrow_schema,
    conform_table,
    meta_text,
    meta_value,
    record_batches,
    record_type_of,
    records_from_batch,
    resolve_record_type,
    retype,
    storage_type,
)
from instructkit._dialects import native_record_type
from instructkit._errors import (
    ConfigurationError,
    DataError,
    RecordValidationError,
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
from instructkit._policy import ItemReport, OnError, check_on_error
from instructkit._records import ROLES, Conversation, Instruction, Preference, Record

__all__ = ["read_table", "validate_table"]

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
        path: A ``.jsonl`` (``.jsonl.gz``, ``.jsonl.zst``) or ``.parquet`` file, or a list of
            them (such as the shards of a sharded :func:`~instructkit.write`): their tables
            are concatenated in order, and must all hold the same record type.
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
                _check_utf8(table, file)  # raises, naming the column
                raise DataError("expected valid UTF-8 text, got invalid bytes", file=file)
        return _settle(table, found, out, policy, tally, file, None)
    assert kind is not None  # read_table sniffs JSONL files first
    try:
        parsed = _parse_jsonl_table(file, kind, limit)
        if parsed is not None:
            # The validation of the parsed text runs while the table is conformed and checked.
            with _validating(parsed) as valid:
                table = _conform_jsonl(file, kind, parsed, limit)
                out = None if table is None else _scan_unless_undecodable(table, kind)
                if table is not None and out is not None and valid():
                    return _settle(table, kind, out, policy, tally, file, _LineFinder(file))
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


def _scan_unless_undecodable(table: pa.Table, kind: type[Record]) -> _Findings | None:
    """:func:`_scan`; ``None`` when a check met invalid UTF-8 before the validation did."""
    try:
        return _scan(table, kind)
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
    while start < end:
        stop = min(start + _WINDOW, end)
        if data.find(b"\n", start, stop) >= 0 or stop - start < _WINDOW:
            start = stop
            continue
        first = data.rfind(b"\n", 0, start) + 1
        last = data.find(b"\n", stop, end)
        last = end if last < 0 else last
        if last - first > _PYARROW_SAFE_OPENERS:  # else too short to hold that many
            line = data[first:last]
            if line.count(b"[") + line.count(b"{") > _PYARROW_SAFE_OPENERS:
                return False
        start = last + 1
    return True


def _fits_pyarrow(file: str, limit: int) -> bool:
    """Whether no line of ``file`` is nested deep enough to crash pyarrow's JSON reader.

    A line longer than ``limit`` (the line cap) is not held to be scanned: the line reader
    stops at it with the cap's error.
    """
    # Read in chunks rather than mapped: the scan touches about one page per window, and
    # mapped pages would count in the process's resident memory, the whole file at the end.
    source = open_source(file, compression_for(file))
    try:
        tail = b""
        while True:
            chunk = source.read(1 << 22)
            if not chunk:
                return _long_lines_shallow(tail, len(tail))
            data = tail + chunk
            cut = data.rfind(b"\n") + 1
            if not _long_lines_shallow(data, cut):
                return False
            tail = data[cut:]
            if len(tail) > limit:
                return False
            if len(tail) > _PYARROW_SAFE_OPENERS and not _long_lines_shallow(tail, len(tail)):
                return False
    finally:
        source.close()


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


# --- validation ----------------------------------------------------------------------------


def _check_utf8(table: pa.Table, file: str) -> None:
    for name in table.schema.names:
        try:
            table.column(name).validate(full=True)
        except pa.ArrowInvalid as err:
            raise DataError(
                f"expected valid UTF-8 text in column {name!r}, got invalid bytes ({err})",
                file=file,
            ) from err


_ROLE_VALUES = pa.array(ROLES, pa.string())
_MSG = {MESSAGE_TYPE.field(i).name: i for i in range(MESSAGE_TYPE.num_fields)}
_CALL = {TOOL_CALL_TYPE.field(i).name: i for i in range(TOOL_CALL_TYPE.num_fields)}
_STORED_MESSAGE = storage_type(MESSAGE_TYPE)  # the checks see the storage types (see _scan)


def _rows(mask: Any) -> pa.Array:
    """Indices where a boolean mask is true (nulls count as false)."""
    return pc.indices_nonzero(pc.fill_null(mask, False))


def _typed(value: int, kind: pa.DataType) -> pa.Scalar:
    # A Python int would be an int64 scalar, and the kernel would first cast a whole int32
    # array to int64 to compare it.
    return pa.scalar(value, kind)


def _empty(values: Any) -> Any:
    lengths = pc.binary_length(values)
    return pc.equal(lengths, _typed(0, lengths.type))


def _missing_or_empty(values: Any) -> Any:
    return pc.or_(pc.is_null(values), pc.fill_null(_empty(values), False))


def _set_but_empty(values: Any) -> Any:
    return pc.fill_null(_empty(values), False)


def _bad_json_texts(values: Any, *, objects: bool = False) -> Any:
    """Mask of values (texts) that are not valid JSON (or not JSON objects), via distinct values."""
    distinct = pc.unique(pc.drop_null(values))
    bad: list[str] = []
    for text in distinct.to_pylist():
        if objects:
            if text == "{}":
                continue
            try:
                meta_value(text)
            except DataError:
                bad.append(text)
            continue
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            bad.append(text)
    if not bad:
        return None
    return pc.is_in(values, value_set=pa.array(bad, pa.string()))


class _Findings:
    """Row indices (table-wide) that fail some check, with the first check's label."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, pa.Array]] = []
        # Rows whose messages hold content parts: the record layer checks those parts.
        self.suspects: list[pa.Array] = []

    def add(self, label: str, rows: Any) -> None:
        if len(rows):
            if isinstance(rows, pa.ChunkedArray):
                rows = rows.combine_chunks()
            self.parts.append((label, rows.cast(pa.int64())))

    def check_suspects(self, table: pa.Table, kind: type[Record]) -> None:
        """Check the rows holding content parts through the records; add the bad ones."""
        if not self.suspects:
            return
        chunks = [c.cast(pa.int64()) for r in self.suspects for c in pa.chunked_array(r).chunks]
        rows = pc.unique(pa.concat_arrays(chunks))
        probe = ItemReport()
        records_from_batch(table.take(rows), kind, on_error="collect", report=probe)
        failed = [rejection.row for rejection in probe.rejections if rejection.row is not None]
        if failed:
            self.add("content parts", pc.take(rows, pa.array(failed, pa.int64())))

    def bad_rows(self) -> list[int]:
        if not self.parts:
            return []
        joined = pa.concat_arrays([rows for _, rows in self.parts])
        return sorted(pc.unique(joined).to_pylist())

    def label(self, row: int) -> str:
        for label, rows in self.parts:
            if pc.any(pc.equal(rows, row)).as_py():
                return label
        return "a rule"


def _any_set(values: Any) -> bool:
    """Whether any value is non-null: free, Arrow keeps each chunk's null count."""
    return bool(values.null_count < len(values))


def _check_text_columns(table: pa.Table, kind: type[Record], out: _Findings) -> None:
    required = {"instruction": False, "input": True, "response": False}
    if kind is Instruction:
        for name, allow_empty in required.items():
            column = table.column(name)
            mask = pc.is_null(column) if allow_empty else _missing_or_empty(column)
            out.add(f"$.{name} present and non-empty", _rows(mask))
        out.add("$.system non-empty", _rows(_set_but_empty(table.column("system"))))
    out.add("$.id non-empty", _rows(_set_but_empty(table.column("id"))))
    meta = table.column("meta")
    out.add("$.meta present", _rows(pc.is_null(meta)))
    bad_meta = _bad_json_texts(meta, objects=True)
    if bad_meta is not None:
        out.add("$.meta a JSON object", _rows(bad_meta))
    if kind is not Instruction:
        tools = table.column("tools")
        out.add("$.tools a list", _rows(pc.is_null(tools)))
        flat = pc.list_flatten(tools)
        if len(flat):
            parents = pc.list_parent_indices(tools)
            out.add("$.tools[] present", pc.take(parents, _rows(pc.is_null(flat))))
            bad = _bad_json_texts(flat)
            if bad is not None:
                out.add("$.tools[] JSON text", pc.take(parents, _rows(bad)))


_ROLE_CODE = {role: index for index, role in enumerate(ROLES)}
_EARLY_CODES = (_ROLE_CODE["system"], _ROLE_CODE["developer"])
# The rule "system and developer turns only before the first user turn" tests for the two
# smallest role codes with one comparison.
assert sorted(_EARLY_CODES) == [0, 1]


class _Turns:
    """The flattened messages of one list column, with the per-turn facts the checks share.

    Built once per column and shared by the per-turn rules and the cross-turn rules, so each
    field is extracted, and each role string hashed, once.
    """

    def __init__(self, column: Any) -> None:
        self.column = column
        values = pc.list_flatten(column)
        self.count = len(values)
        if values.null_count:
            # A null message: pc.struct_field folds the struct's nulls into every field, so
            # the rules (role required, ...) see a missing value there.
            fields = [pc.struct_field(values, [i]) for i in range(MESSAGE_TYPE.num_fields)]
        else:
            # No null message (what the JSON reader and to_arrow give): the children as they
            # are, without the per-field bitmap merge pc.struct_field allocates.
            fields = [
                pa.chunked_array(
                    [chunk.field(i) for chunk in values.chunks], _STORED_MESSAGE.field(i).type
                )
                for i in range(MESSAGE_TYPE.num_fields)
            ]
        self.role = fields[_MSG["role"]]
        self.content = fields[_MSG["content"]]
        self.parts = fields[_MSG["parts"]]
        self.tool_calls = fields[_MSG["tool_calls"]]
        self.tool_call_id = fields[_MSG["tool_call_id"]]
        self.name = fields[_MSG["name"]]
        self.reasoning = fields[_MSG["reasoning"]]
        self.weight = fields[_MSG["weight"]]
        # Each turn's role as its index in ROLES, null when missing or unknown: the strings
        # are hashed once, and every role test below compares small integers.
        self.code = pc.index_in(self.role, value_set=_ROLE_VALUES)
        # Tool calls are rare in most data; with none at all, their rules are skipped.
        self.calls = pc.list_flatten(self.tool_calls)
        self.call_count = len(self.calls)
        self._parents: Any = None
        self._starts: Any = None
        self._users_before: pa.Array | None = None

    def is_role(self, role: str) -> Any:
        return pc.fill_null(pc.equal(self.code, _typed(_ROLE_CODE[role], self.code.type)), False)

    def is_early(self) -> Any:
        """System and developer turns."""
        last = _typed(max(_EARLY_CODES), self.code.type)
        return pc.fill_null(pc.less_equal(self.code, last), False)

    @property
    def parents(self) -> Any:
        """Each turn's row (int64), made only when a rule needs it."""
        if self._parents is None:
            self._parents = pc.list_parent_indices(self.column).cast(pa.int64())
        return self._parents

    @property
    def starts(self) -> Any:
        """Each row's first turn, as an index among all flattened turns."""
        if self._starts is None:
            lengths = self.lengths()
            self._starts = pc.subtract(pc.cumulative_sum(lengths), lengths)
        return self._starts

    def lengths(self) -> Any:
        """Each row's number of turns (0 for a null list)."""
        return pc.fill_null(pc.list_value_length(self.column), 0).cast(pa.int64())

    def positions(self, index: Any, rows: Any) -> Any:
        """0-based positions within their lists of the turns at flat ``index`` (of ``rows``)."""
        return pc.subtract(index, pc.take(self.starts, rows))

    def users_before(self) -> pa.Array:
        """``counts[k]``: how many of the first ``k`` flattened turns are user turns.

        One more entry than turns, so that the count at the end of the last row exists too;
        the user turns of a row before a turn are then a difference of two lookups.
        """
        if self._users_before is None:
            running = pc.cumulative_sum(self.is_role("user").cast(pa.int64()))
            if isinstance(running, pa.ChunkedArray):
                running = running.combine_chunks()
            self._users_before = pa.concat_arrays([pa.array([0], pa.int64()), running])
        return self._users_before

    def early_after_user(self) -> pa.Array:
        """Rows with a system or developer turn after a user turn of the same list."""
        early = pc.indices_nonzero(self.is_early())
        if not len(early):
            return early
        counts = self.users_before()
        rows = pc.take(self.parents, early)
        before = pc.subtract(pc.take(counts, early), pc.take(counts, pc.take(self.starts, rows)))
        return rows.filter(pc.greater(before, 0))

    def users_per_row(self) -> Any:
        """How many user turns each row's list holds."""
        counts = self.users_before()
        starts = self.starts
        return pc.subtract(pc.take(counts, pc.add(starts, self.lengths())), pc.take(counts, starts))


def _any_of(masks: list[Any]) -> Any:
    combined = masks[0]
    for mask in masks[1:]:
        combined = pc.or_(combined, mask)
    return combined


def _check_turns(turns: _Turns, field: str, out: _Findings) -> None:
    """Per-turn rules, one combined mask (the record layer words the message later).

    A rule about a field that is null in every turn cannot fail, and Arrow knows each
    column's null count for free, so such rules (``name``, ``reasoning``, ``weight``,
    ``tool_call_id``, tool calls in data without any) build no mask at all.
    """
    if not turns.count:
        return
    assistant = turns.is_role("assistant")
    tool = turns.is_role("tool")
    not_assistant = pc.invert(assistant)
    masks = [pc.is_null(turns.code)]  # a missing or unknown role
    if turns.tool_calls.null_count:
        masks.append(pc.is_null(turns.tool_calls))
    calling = None  # assistant turns with tool calls: None when no turn has any
    if turns.call_count:
        has_calls = pc.fill_null(pc.greater(pc.list_value_length(turns.tool_calls), 0), False)
        calling = pc.and_(assistant, has_calls)
        masks.append(pc.and_(has_calls, not_assistant))
    # content: None only when calling; "" only when calling or on a tool turn
    content = turns.content
    if content.null_count:
        missing = pc.is_null(content)
        if _any_set(turns.parts):
            # Content given as parts: the records check those turns (rare; see suspects).
            given = pc.is_valid(turns.parts)
            out.suspects.append(pc.take(turns.parents, _rows(given)))
            missing = pc.and_(missing, pc.invert(given))
        masks.append(missing if calling is None else pc.and_(missing, pc.invert(calling)))
    empty = _set_but_empty(content)
    if pc.any(empty).as_py():
        allowed = tool if calling is None else pc.or_(tool, calling)
        masks.append(pc.and_(empty, pc.invert(allowed)))
    if _any_set(turns.name):
        masks.append(_set_but_empty(turns.name))
    if _any_set(turns.reasoning):
        masks.append(pc.and_(pc.is_valid(turns.reasoning), not_assistant))
    answers = turns.tool_call_id
    if answers.null_count:
        masks.append(pc.and_(tool, pc.is_null(answers)))
    if _any_set(answers):
        masks.append(pc.and_(pc.is_valid(answers), pc.invert(tool)))
        masks.append(_set_but_empty(answers))
    weight = turns.weight
    if _any_set(weight):
        in_range = pc.fill_null(
            pc.and_(pc.greater_equal(weight, 0.0), pc.less_equal(weight, 1.0)), False
        )
        masks.append(pc.and_(pc.is_valid(weight), pc.invert(in_range)))
    found = _rows(_any_of(masks))
    if len(found):
        out.add(f"$.{field}[] turn rules", pc.take(turns.parents, found))
    if turns.call_count:
        calls = turns.calls
        arguments = pc.struct_field(calls, [_CALL["arguments"]])
        masks = [
            _missing_or_empty(pc.struct_field(calls, [_CALL["id"]])),
            _missing_or_empty(pc.struct_field(calls, [_CALL["name"]])),
            pc.is_null(arguments),
        ]
        bad_json = _bad_json_texts(arguments)
        if bad_json is not None:
            masks.append(pc.fill_null(bad_json, False))
        found = _rows(_any_of(masks))
        if len(found):
            owners = pc.take(turns.parents, pc.list_parent_indices(turns.tool_calls))
            out.add(f"$.{field}[].tool_calls[] rules", pc.take(owners, found))


def _arange(count: int) -> pa.Array:
    """``0, 1, ..., count - 1`` built in Arrow (no Python int per item, no numpy)."""
    return pc.subtract(pc.cumulative_sum(pa.nulls(count, pa.int64()).fill_null(1)), 1)


class _ToolLinks:
    """The tool-call facts of the cross-turn rules, gathered per list column, checked once.

    Every turn belongs to a transcript (``tid``: the row, or ``2 * row + side`` for the two
    transcripts of a preference) at a position. Only tool turns (with the call id they
    answer) and tool calls (with their id) are kept, usually a small part of all turns,
    and the group-bys and joins run once over the whole table.
    """

    def __init__(self, per_row: int) -> None:
        self.per_row = per_row
        self.tools: list[pa.Table] = []
        self.calls: list[pa.Table] = []

    def _tid(self, rows: Any, side: int) -> Any:
        return rows if self.per_row == 1 else pc.add(pc.multiply(rows, 2), side)

    def add(self, turns: _Turns, side: int = 0, shift: Any = None) -> None:
        """Add a column's tool turns and calls; ``shift``: per row, added to positions."""
        answers = turns.tool_call_id
        if _any_set(answers):  # else no tool turn answers anything: nothing to link
            index = pc.indices_nonzero(pc.and_(turns.is_role("tool"), pc.is_valid(answers)))
            if len(index):
                rows = pc.take(turns.parents, index)
                self.tools.append(
                    pa.table(
                        {
                            "tid": self._tid(rows, side),
                            "pos": self._positions(turns, index, rows, shift),
                            "answers": pc.take(answers, index),
                        }
                    )
                )
        if turns.call_count:
            calls = turns.calls
            ids = pc.struct_field(calls, [_CALL["id"]])
            valid = pc.is_valid(ids)
            owner = pc.list_parent_indices(turns.tool_calls).cast(pa.int64()).filter(valid)
            rows = pc.take(turns.parents, owner)
            self.calls.append(
                pa.table(
                    {
                        "tid": self._tid(rows, side),
                        "call_pos": self._positions(turns, owner, rows, shift),
                        "answers": ids.filter(valid),
                    }
                )
            )

    @staticmethod
    def _positions(turns: _Turns, index: Any, rows: Any, shift: Any) -> Any:
        positions = turns.positions(index, rows)
        return positions if shift is None else pc.add(positions, pc.take(shift, rows))

    def bad_rows(self) -> pa.Array:
        bad: list[Any] = []
        # One chunk each: the gathered columns come from takes over the table's many chunks,
        # and Acero's group-bys and joins pay per batch.
        calls = pa.concat_tables(self.calls).combine_chunks() if self.calls else None
        if calls is not None and calls.num_rows:
            # A call id used twice in one transcript.
            repeated = calls.group_by(["tid", "answers"]).aggregate([("call_pos", "count")])
            bad.append(repeated.filter(pc.greater(repeated["call_pos_count"], 1))["tid"])
        tools = pa.concat_tables(self.tools).combine_chunks() if self.tools else None
        if tools is not None and tools.num_rows:
            # A call answered twice, or a tool turn answering no earlier call.
            twice = tools.group_by(["tid", "answers"]).aggregate([("pos", "count")])
            bad.append(twice.filter(pc.greater(twice["pos_count"], 1))["tid"])
            if calls is None or not calls.num_rows:
                bad.append(tools["tid"])
            else:
                linked = tools.join(calls, ["tid", "answers"], join_type="left outer")
                unanswered = pc.or_(
                    pc.is_null(linked["call_pos"]),
                    pc.fill_null(pc.greater_equal(linked["call_pos"], linked["pos"]), True),
                )
                bad.append(linked.filter(unanswered)["tid"])
        chunks = [chunk.cast(pa.int64()) for column in bad for chunk in column.chunks]
        if not chunks:
            return pa.array([], pa.int64())
        tids = pc.unique(pa.concat_arrays(chunks))
        if self.per_row == 1:
            return tids
        return pc.unique(pc.divide(tids, self.per_row))


def _check_cross_turn(
    table: pa.Table, kind: type[Record], found: dict[str, _Turns], out: _Findings
) -> None:
    """The rules that span turns: system placement and tool-call linkage."""
    label = "cross-turn rules"
    links = _ToolLinks(2 if kind is Preference else 1)
    if kind is Conversation:
        turns = found["messages"]
        out.add(label, turns.early_after_user())
        links.add(turns)
    else:
        # Two transcripts per row, prompt + chosen and prompt + rejected: the prompt's turns
        # belong to both, and the positions of the other turns follow the prompt's.
        prompt = found["prompt"]
        out.add(label, prompt.early_after_user())
        prompt_users = prompt.users_per_row() if prompt.count else None
        prompt_length = prompt.lengths()
        for side, name in enumerate(("chosen", "rejected")):
            turns = found[name]
            out.add(label, turns.early_after_user())
            if prompt_users is not None and turns.count:
                # An early turn after a user turn of the prompt.
                rows = pc.take(turns.parents, pc.indices_nonzero(turns.is_early()))
                out.add(label, rows.filter(pc.greater(pc.take(prompt_users, rows), 0)))
            links.add(prompt, side)
            links.add(turns, side, prompt_length)
    out.add(label, links.bad_rows())


def _check_lists(table: pa.Table, kind: type[Record], out: _Findings) -> None:
    names = ("messages",) if kind is Conversation else ("prompt", "chosen", "rejected")
    found: dict[str, _Turns] = {}
    for name in names:
        column = table.column(name)
        out.add(f"$.{name} a list", _rows(pc.is_null(column)))
        if name != "prompt":
            length = pc.list_value_length(column)
            out.add(f"$.{name} non-empty", _rows(pc.equal(length, 0)))
        turns = _Turns(column)
        _check_turns(turns, name, out)
        found[name] = turns
    _check_cross_turn(table, kind, found, out)


def validate_table(
    table: pa.Table,
    record: type[Record] | str | None = None,
    *,
    on_error: OnError = "raise",
    report: ItemReport | None = None,
    file: str | None = None,
    line_of: Callable[[set[int]], dict[int, int]] | None = None,
) -> pa.Table:
    """Check every row of a table with Arrow compute; return it (without bad rows if skipping).

    Args:
        table: A table of a record type's columns (conformed first; see
            :func:`~instructkit._arrow.conform_table`).
        record: The record type; by default from the schema.
        on_error: ``"raise"`` raises for the first bad row; ``"skip"`` and ``"collect"`` drop
            bad rows and count them in ``report``.
        report: An :class:`~instructkit.ItemReport` to fill.
        file: The file name, for errors.
        line_of: Maps rows to 1-based lines, for errors (JSONL).

    Returns:
        The table with exactly the rows that are valid records.

    Raises:
        RecordValidationError: the first bad row, located (``on_error="raise"``).
        DataError: the table's columns are not a record type's.
    """
    policy = check_on_error(on_error)
    if record is not None:
        kind = resolve_record_type(record)
    else:
        found = record_type_of(table.schema)
        if found is None:
            raise DataError(
                f"expected the columns of an Instruction, Conversation or Preference table, "
                f"got {table.schema.names}",
                file=file,
            )
        kind = found
    table = conform_table(table, kind, file=file)
    return _settle(table, kind, _scan(table, kind), policy, report, file, line_of)


def _scan(table: pa.Table, kind: type[Record]) -> _Findings:
    """Every check, column-wise; the rows that fail some check."""
    out = _Findings()
    # Compute functions take no extension types: check JSON text as the text it is stored as
    # (a cast that shares the buffers).
    table = pa.Table.from_arrays(
        [retype(column, storage_type(column.type)) for column in table.columns],
        names=table.column_names,
    )
    # Whole columns at once: compute functions loop over the chunks in C++, while a Python
    # loop over pyarrow's ~1 MiB JSON blocks would pay the call overhead a thousand times.
    _check_text_columns(table, kind, out)
    if kind is not Instruction:
        _check_lists(table, kind, out)
    return out


def _settle(
    table: pa.Table,
    kind: type[Record],
    out: _Findings,
    policy: OnError,
    report: ItemReport | None,
    file: str | None,
    line_of: Callable[[set[int]], dict[int, int]] | None,
) -> pa.Table:
    """Apply the ``on_error`` policy to the rows ``out`` found bad."""
    tally = report if report is not None else ItemReport()
    out.check_suspects(table, kind)
    bad = out.bad_rows()
    if bad and policy == "raise":
        # The read stops at the first bad row: the rows after it were never looked at, so
        # they are not counted, and the report balances with the one rejection.
        tally.seen += bad[0] + 1
        tally.valid += bad[0]
    else:
        tally.seen += table.num_rows
        tally.valid += table.num_rows - len(bad)
    if not bad:
        return table
    targets = bad[:1] if policy == "raise" else bad
    lines = line_of(set(targets)) if line_of is not None else {}
    for row in targets:
        error = _describe(table, kind, row, out, file, lines.get(row))
        tally.reject(error, on_error=policy)
    keep = pc.invert(pc.is_in(_arange(table.num_rows), value_set=pa.array(bad, pa.int64())))
    return table.filter(keep)


def _describe(
    table: pa.Table,
    kind: type[Record],
    row: int,
    out: _Findings,
    file: str | None,
    line: int | None,
) -> DataError:
    # The record layer words the message, so read_table and from_arrow say the same thing.
    probe = ItemReport()
    records_from_batch(table.slice(row, 1), kind, start=row, on_error="collect", report=probe)
    if probe.rejections and probe.rejections[0].error is not None:
        return probe.rejections[0].error.located(file=file, line=line, row=row)
    return RecordValidationError(  # pragma: no cover - the checks mirror the record rules
        f"expected a row that keeps {out.label(row)}, got one that breaks it",
        file=file,
        line=line,
        row=row,
    )
