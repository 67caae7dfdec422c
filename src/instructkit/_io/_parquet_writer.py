"""Parquet files of records: streaming, atomic, deterministic writing.

Used by :func:`instructkit.write` for ``.parquet`` paths, and usable on its own (reading is
:mod:`instructkit._io._parquet`):

* :func:`write_parquet` -- records to a Parquet file (or shards), in row groups, so an
  iterator of any length is written with bounded memory. With ``dialect=None`` (the default)
  the file has instructkit's own fixed schema (:func:`~instructkit.arrow.arrow_schema`); with a
  dialect name, each record goes through :func:`~instructkit.to_row` and the columns are
  that dialect's. The footer's key-value metadata records ``instructkit.version``,
  ``instructkit.record``, ``instructkit.schema_version`` (own schema only) and
  ``instructkit.dialect``. Pages carry a CRC-32 checksum, which the readers verify.

One module although it is over 600 lines: most of it is :class:`_DialectTables`, which
types a dialect's open-ended JSON rows into columns, and it serves only this writer.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from instructkit._arrow import (
    ARROW_SCHEMA_VERSION,
    META_DIALECT,
    META_HUGGINGFACE,
    META_RECORD,
    META_SCHEMA_VERSION,
    META_VERSION,
    arrow_schema,
    huggingface_metadata,
    json_text,
    record_batches,
    record_type_of,
    resolve_record_type,
    retype,
    storage_type,
    type_of_record,
)
from instructkit._dialects import get_dialect, to_row
from instructkit._errors import ConfigurationError, DataError, with_article
from instructkit._io._atomic import ShardSet, atomic_path, check_max_rows
from instructkit._io._parquet import NATIVE_DIALECT, check_positive
from instructkit._records import Record
from instructkit._reports import LossReport
from instructkit._version import __version__

__all__ = [
    "DEFAULT_ROW_GROUP_BYTES",
    "DEFAULT_ROW_GROUP_SIZE",
    "ParquetWritten",
    "write_parquet",
    "write_parquet_table",
]

DEFAULT_ROW_GROUP_SIZE = 100_000
"""At most this many rows per row group."""

DEFAULT_ROW_GROUP_BYTES = 64 * 1024 * 1024
"""A row group also ends once its uncompressed Arrow data reaches this size, so long chats
don't make huge row groups (readers hold a whole row group in memory). Groups of this size
also let the background writer overlap with the conversion of the next group: with 128 MiB
groups, writing 100,000 chats took ~15 % longer (measured on 2 cores)."""

_CHUNK = 8_192
# Records are turned into Arrow in chunks of this many, and chunks are gathered into a row
# group; it bounds the Python objects alive at once independently of the row-group size.

_COMPRESSIONS = ("zstd", "snappy", "gzip", "brotli", "lz4", "none")


_VALUE_ARGUMENTS = frozenset({"trl"})
"""Dialects whose tool-call ``arguments`` are JSON values (TRL) rather than JSON text in a
string (OpenAI): there ``arguments`` is open-ended JSON."""

_OPEN_KEYS = frozenset({"chat_template_kwargs", "meta"})
"""Keys whose values are open-ended JSON wherever they appear in a dialect row."""

_TURN_LISTS = frozenset(
    {"messages", "prompt", "completion", "chosen", "rejected"}
    | {"preferred_output", "non_preferred_output"}
)
"""Columns (or keys) that hold lists of turns in the dialects' rows."""

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_WORDS = {
    "bool": "a boolean",
    "int": "an integer",
    "float": "a float",
    "str": "a string",
    "dict": "an object",
    "list": "an array",
}

_FLOAT_EXACT = 2**53
"""Integers up to this size (either sign) are exact as 64-bit floats."""

_SCALARS: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
}


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, Mapping):
        return "dict"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


class _Node:
    """One position of a dialect row (a column, a struct field, the items of a list)."""

    __slots__ = ("exact", "fields", "item", "json", "kind", "path", "row")

    def __init__(self, path: str, *, json: bool) -> None:
        self.path = path
        self.json = json  # open-ended: stored as JSON text, whatever the value is
        self.kind: str | None = None  # the value kind seen first (None: only nulls so far)
        self.row = -1  # the row it was first seen in
        self.item: _Node | None = None
        self.fields: dict[str, _Node] = {}
        self.exact = True  # every integer seen here is exact as a float (|n| <= 2**53)

    def arrow_type(self) -> pa.DataType:
        if self.json:
            return pa.json_()
        if self.kind == "list":
            return pa.list_(self.item.arrow_type() if self.item is not None else pa.string())
        if self.kind == "dict":
            return pa.struct([pa.field(k, f.arrow_type()) for k, f in self.fields.items()])
        # Only nulls (or empty lists) in the first rows: text, a type every reader takes.
        return _SCALARS.get(self.kind or "str", pa.string())

    def settle(self) -> None:
        """Fix the types once the first rows are seen."""
        if self.kind == "dict" and not self.fields:
            # Only empty objects: Parquet has no struct without fields, and an object whose
            # keys are unknown is open-ended anyway.
            self.json = True
        for child in (self.item, *self.fields.values()):
            if child is not None:
                child.settle()

    def holds_json(self) -> bool:
        if self.json:
            return True
        if self.item is not None and self.item.holds_json():
            return True
        return any(f.holds_json() for f in self.fields.values())


class _DialectTables:
    """Dialect rows to tables with one fixed schema, open-ended JSON stored as JSON text.

    Nothing open-ended is inferred. These positions hold JSON of any shape, so they are typed
    with Arrow's JSON extension type and each value is written as its compact JSON text
    (``null`` kept apart from an absent key): every column the dialect does not define
    (``meta`` entries written as columns, ``chat_template_kwargs``), each entry of a
    ``tools`` list (tool schemas), and tool-call ``arguments`` where the dialect gives them
    as JSON values (TRL). The rest is the dialect's own structure (messages, tool calls):
    its types are taken from the first chunk of rows and then fixed, and a value of another
    type than the one first seen at its position, a field first seen after that chunk, or an
    integer beyond 64 bits is refused with an error naming the rows, since Arrow would
    change it (promote, merge or drop). What is written reads back identically, up to
    absent-versus-null keys in the structure (Arrow cannot tell them apart).
    """

    def __init__(self, file: str, *, dialect: str, column_map: Mapping[str, str] | None) -> None:
        self.file = file
        names = dict(column_map or {})
        self.columns = {names.get(c, c) for c in get_dialect(dialect).columns}
        self.tools = {"tools", names.get("tools", "tools")}
        self.json_keys = _OPEN_KEYS | ({"arguments"} if dialect in _VALUE_ARGUMENTS else set())
        self.nodes: dict[str, _Node] = {}
        self.turn: _Node | None = None
        self.schema: pa.Schema | None = None

    def _child(self, parent: _Node | None, key: str) -> _Node:
        if parent is None:
            return _Node(key, json=key not in self.columns or key in self.json_keys)
        return _Node(f"{parent.path}.{key}", json=key in self.json_keys)

    def _item(self, parent: _Node) -> _Node:
        name = parent.path.rsplit(".", 1)[-1]
        tools = name in self.tools
        if not tools and name in _TURN_LISTS:
            # The turn lists of a row (prompt, chosen, rejected, ...) share one message type,
            # so a turn reads back the same whichever column holds it: a key that only one
            # column's turns have would come back as null in that column alone, and TRL
            # finds a shared prompt by comparing turns across columns.
            if self.turn is None:
                self.turn = _Node(parent.path + "[]", json=False)
            return self.turn
        return _Node(parent.path + "[]", json=tools)

    def _observe(self, node: _Node, value: Any, row: int) -> None:
        if value is None or node.json:
            return
        kind = _value_kind(value)
        if node.kind is None:
            if self.schema is not None and kind != "str":
                self._clash(node, "null (typed as text)", kind, row)
            node.kind, node.row = kind, row
        elif node.kind != kind and not self._widens(node, kind):
            self._clash(node, _WORDS.get(node.kind, node.kind), kind, row)
        if kind == "int" and not -_FLOAT_EXACT <= value <= _FLOAT_EXACT:
            node.exact = False
        if kind == "list":
            if node.item is None:
                node.item = self._item(node)
            for item in value:
                self._observe(node.item, item, row)
        elif kind == "dict":
            for key, item in value.items():
                child = node.fields.get(key)
                if child is None:
                    child = self._child(node, key)
                    if self.schema is not None:
                        if item is None and not child.json:
                            continue  # reads back as absent, like a null
                        raise DataError(
                            f"expected only the fields fixed by the first rows, got a new "
                            f"field {child.path!r} (write with dialect=None for a lossless "
                            "file)",
                            row=row,
                            file=self.file,
                        )
                    node.fields[key] = child
                self._observe(child, item, row)
        elif kind == "int" and not _INT64_MIN <= value <= _INT64_MAX:
            raise DataError(
                f"expected integers within 64 bits at {node.path!r}, got {value} (write with "
                "dialect=None for a lossless file)",
                row=row,
                file=self.file,
            )
        elif kind not in _SCALARS:
            raise DataError(
                f"expected JSON values at {node.path!r}, got a {kind}", row=row, file=self.file
            )

    def _widens(self, node: _Node, kind: str) -> bool:
        # Integers and floats at one position (weights written 1 and 0.5) share a float64
        # column while every integer is exact as a float: each reads back equal (1 == 1.0),
        # which is what JSON numbers mean. Once the schema is fixed, a float column still
        # takes exact integers, but an integer column takes no float.
        if {node.kind, kind} != {"int", "float"} or not node.exact:
            return False
        if node.kind == "int" and self.schema is not None:
            return False
        node.kind = "float"
        return True

    def _clash(self, node: _Node, first: str, kind: str, row: int) -> None:
        raise DataError(
            f"expected one type at {node.path!r} in every row, got {first} in row {node.row} "
            f"and {_WORDS.get(kind, kind)} in row {row} (Arrow stores one type per field; "
            "write with dialect=None for a lossless file)",
            row=row,
            file=self.file,
        )

    def _encode(self, node: _Node, value: Any, present: bool, row: int) -> Any:
        if node.json:
            if not present:
                return None  # absent stays apart from a JSON null
            try:
                return json_text(value, f"$.{node.path}", "JSON values")
            except DataError as err:
                raise err.located(row=row, file=self.file) from err
        if value is None or not node.holds_json():
            return value
        if node.kind == "list":
            assert node.item is not None
            return [self._encode(node.item, item, True, row) for item in value]
        return {
            key: self._encode(child, value.get(key), key in value, row)
            for key, child in node.fields.items()
        }

    def table(self, rows: list[dict[str, Any]], start: int) -> pa.Table:
        for offset, row in enumerate(rows):
            for key, value in row.items():
                node = self.nodes.get(key)
                if node is None:
                    node = self._child(None, key)
                    if self.schema is not None:
                        raise DataError(
                            f"expected only the columns fixed by the first rows, got a new "
                            f"column {key!r} (write with dialect=None for a lossless file)",
                            row=start + offset,
                            file=self.file,
                        )
                    self.nodes[key] = node
                self._observe(node, value, start + offset)
        if self.schema is None:
            for node in self.nodes.values():
                node.settle()
            self.schema = pa.schema(
                [pa.field(name, node.arrow_type()) for name, node in self.nodes.items()]
            )
        arrays = []
        for column in self.schema:
            node = self.nodes[column.name]
            name = column.name
            if node.holds_json():
                values = [
                    self._encode(node, row.get(name), name in row, start + offset)
                    for offset, row in enumerate(rows)
                ]
            else:
                values = [row.get(name) for row in rows]
            try:
                array = pa.array(values, type=storage_type(column.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
                raise DataError(  # pragma: no cover - the observation above rules this out
                    f"expected column {name!r} to hold {column.type}, got values that do not "
                    f"fit ({err})",
                    row=start,
                    file=self.file,
                ) from err
            arrays.append(retype(array, column.type))
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _footer(
    kind: type[Record] | None, dialect: str, native: bool, extra: Mapping[str, str] | None
) -> dict[str, str]:
    meta: dict[str, str] = {}
    if extra:
        for key, value in extra.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ConfigurationError(
                    f"expected metadata to map str to str, got {key!r}: {value!r}"
                )
            if key.startswith("instructkit."):
                raise ConfigurationError(
                    f"expected metadata keys outside the reserved 'instructkit.' prefix, "
                    f"got {key!r}"
                )
            meta[key] = value
    meta[META_VERSION] = __version__
    if kind is not None:
        meta[META_RECORD] = kind.__name__
    if native:
        meta[META_SCHEMA_VERSION] = str(ARROW_SCHEMA_VERSION)
    meta[META_DIALECT] = dialect
    return meta


class _Worker:
    """Runs Parquet writes in order on one background thread.

    pyarrow encodes and compresses a row group without holding the GIL, so while the worker
    writes one row group the caller's thread turns the next records into Arrow: on two
    cores, writing from records then takes about as long as the slower of the two halves
    instead of their sum. The queue holds at most one waiting row group (bounded memory),
    and the order of writes, hence the bytes, is the same as without the thread.
    """

    def __init__(self) -> None:
        self.tasks: queue.Queue[Callable[[], object] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def submit(self, task: Callable[[], object]) -> None:
        self.check()
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="instructkit-parquet")
            self.thread.daemon = True
            self.thread.start()
        self.tasks.put(task)

    def _run(self) -> None:
        while True:
            task = self.tasks.get()
            if task is None:
                return
            if self.error is None:
                try:
                    task()
                except BaseException as err:  # handed to the caller's thread by check()
                    self.error = err

    def check(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def join(self) -> None:
        """Wait for every submitted write; raise the first error one of them raised."""
        if self.thread is not None:
            self.tasks.put(None)
            self.thread.join()
            self.thread = None
        self.check()


class _GroupedWriter:
    """Gathers Arrow chunks into row groups and writes them to one or more files."""

    def __init__(
        self,
        *,
        compression: str,
        compression_level: int | None,
        row_group_size: int,
        row_group_bytes: int,
        max_rows_per_file: int | None,
        next_path: Any,
        footer: dict[str, str],
    ) -> None:
        self.compression = compression
        self.compression_level = compression_level
        self.row_group_size = row_group_size
        self.row_group_bytes = row_group_bytes
        self.max_rows = max_rows_per_file
        self.next_path = next_path
        self.footer = footer
        self.schema: pa.Schema | None = None
        self.writer: pq.ParquetWriter | None = None
        self.file_rows = 0
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.pending_bytes = 0.0
        self.rows = 0
        self.rows_per_file: list[int] = []
        self.worker = _Worker()

    def _open(self) -> pq.ParquetWriter:
        assert self.schema is not None
        # The features `datasets` reads: JSON columns as its Json() feature.
        self.footer[META_HUGGINGFACE] = huggingface_metadata(self.schema)
        return pq.ParquetWriter(
            self.next_path(),
            self.schema.with_metadata(self.footer),
            compression=self.compression,
            compression_level=self.compression_level,
            # The Hub, DuckDB and polars all read the spec's nested list layout.
            use_compliant_nested_type=True,
            # A CRC-32 of every page, which the readers here verify: damage inside a page
            # is then an error instead of different values.
            write_page_checksum=True,
        )

    def add(self, table: pa.Table) -> None:
        if self.schema is None:
            self.schema = table.schema
        if not table.num_rows:
            return
        # Bytes per row, measured once per incoming chunk, so that row groups end by size
        # at row granularity (and the same records always give the same groups).
        row_bytes = max(1.0, table.nbytes / table.num_rows)
        while table.num_rows:
            room = self.row_group_size - self.pending_rows
            if self.max_rows is not None:
                room = min(room, self.max_rows - self.file_rows - self.pending_rows)
            room_by_bytes = math.ceil((self.row_group_bytes - self.pending_bytes) / row_bytes)
            head = table.slice(0, max(1, min(room, room_by_bytes)))
            table = table.slice(head.num_rows)
            self.pending.append(head)
            self.pending_rows += head.num_rows
            self.pending_bytes += head.num_rows * row_bytes
            file_full = (
                self.max_rows is not None and self.file_rows + self.pending_rows >= self.max_rows
            )
            if (
                self.pending_rows >= self.row_group_size
                or self.pending_bytes >= self.row_group_bytes
                or file_full
            ):
                self.flush()
            if file_full:
                self.close_file()

    def flush(self) -> None:
        if not self.pending_rows:
            return
        if self.writer is None:
            self.writer = self._open()
        group = pa.concat_tables(self.pending).replace_schema_metadata(self.footer)
        writer = self.writer
        self.worker.submit(lambda: writer.write_table(group, row_group_size=group.num_rows))
        self.file_rows += group.num_rows
        self.rows += group.num_rows
        self.pending, self.pending_rows, self.pending_bytes = [], 0, 0.0

    def close_file(self) -> None:
        if self.writer is not None:
            self.worker.submit(self.writer.close)
            self.writer = None
            self.rows_per_file.append(self.file_rows)
        self.file_rows = 0

    def finish(self, empty_schema: pa.Schema) -> None:
        self.flush()
        if self.rows == 0 and self.writer is None:
            # No rows at all: still write one valid file with the schema.
            if self.schema is None:
                self.schema = empty_schema
            self.writer = self._open()
        self.close_file()
        self.worker.join()

    def abort(self) -> None:
        # The caller is already raising the first error; a later one from the worker adds
        # nothing, and the temporary file is removed either way.
        with contextlib.suppress(BaseException):
            self.worker.join()
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class ParquetWritten(NamedTuple):
    """What :func:`write_parquet` wrote: the files, in order, and the rows in each.

    The writer counted the rows as it wrote them, so nobody re-opens the footers to know.
    """

    paths: list[Path]
    rows_per_file: list[int]


def write_parquet(
    records: Iterable[Record],
    path: str | os.PathLike[str],
    *,
    record: type[Record] | str | None = None,
    dialect: str | None = None,
    column_map: Mapping[str, str] | None = None,
    role_map: Mapping[str, str] | None = None,
    layout: str | None = None,
    strict: bool = False,
    losses: LossReport | None = None,
    compression: str = "zstd",
    compression_level: int | None = None,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES,
    max_rows_per_file: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> ParquetWritten:
    """Write records to Parquet, atomically, streaming in row groups.

    The output is deterministic: the same records (and options) give the same bytes. The
    destination is replaced only once the whole file is written; on any error it keeps its
    previous content (or stays absent).

    Args:
        records: Records of one type (any iterable; only one row group is held at a time).
        path: The destination, e.g. ``train.parquet``.
        record: The record type; needed only when ``records`` may be empty.
        dialect: ``None`` for instructkit's own schema (lossless), or a dialect name from
            :func:`~instructkit.dialects.dialect_names` to write that dialect's columns.
        column_map: Passed to :func:`~instructkit.to_row` (dialects only).
        role_map: Passed to :func:`~instructkit.to_row` (dialects only).
        layout: Passed to :func:`~instructkit.to_row` (dialects only).
        strict: Raise instead of losing data in a dialect conversion.
        losses: Where a dialect conversion counts what it lost.
        compression: ``"zstd"`` (default), ``"snappy"``, ``"gzip"``, ``"brotli"``, ``"lz4"``
            or ``"none"``.
        compression_level: The codec's level, or ``None`` for its default.
        row_group_size: At most this many rows per row group.
        row_group_bytes: A row group also ends once its uncompressed data reaches this size.
        max_rows_per_file: Split the output into shards of at most this many rows, named
            like ``train-00000-of-00004.parquet`` next to ``path``.
        metadata: Extra footer key-value metadata (``str`` to ``str``; keys starting with
            ``instructkit.`` are reserved).

    Returns:
        The files written (one, unless sharded) and the rows in each.

    Raises:
        ConfigurationError: bad options, mixed record types, or no records and no
            ``record``.
        LossyConversionError: ``strict`` and a dialect cannot carry a record.
        DataError: dialect rows whose columns change type or gain fields after the first
            chunk of rows, or that Arrow cannot store exactly (the message names the field).

    Example:
        >>> import pathlib, tempfile
        >>> from instructkit import Instruction
        >>> from instructkit._io._parquet import iter_parquet_records
        >>> from instructkit._io._parquet_writer import write_parquet
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "train.parquet"
        >>> _ = write_parquet([Instruction(instruction="Add 2 and 2.", response="4")], target)
        >>> [r.response for r in iter_parquet_records(target)]
        ['4']
    """
    codec = compression.lower() if isinstance(compression, str) else compression
    if codec not in _COMPRESSIONS:
        raise ConfigurationError(
            f"expected compression to be one of {list(_COMPRESSIONS)}, got {compression!r}"
        )
    check_positive("row_group_size", row_group_size)
    check_positive("row_group_bytes", row_group_bytes)
    max_rows = check_max_rows(max_rows_per_file)
    kind_hint = resolve_record_type(record) if record is not None else None
    dialect_name = NATIVE_DIALECT if dialect is None else get_dialect(dialect).name
    file = os.fspath(path)
    # The own dialect without renames is exactly the fixed schema; with renames it is
    # written like any other dialect, from its rows.
    native = dialect_name == NATIVE_DIALECT and not column_map and not role_map

    tables: Iterator[pa.Table]
    if native:
        kind, batches = record_batches(records, record=kind_hint, batch_size=_CHUNK)
        footer = _footer(kind, dialect_name, native, metadata)
        empty_schema = arrow_schema(kind)
        tables = (pa.Table.from_batches([b]) for b in batches)
    else:
        kind, tables = _dialect_tables(
            records,
            record=kind_hint,
            dialect=dialect_name,
            column_map=column_map,
            role_map=role_map,
            layout=layout,
            strict=strict,
            losses=losses,
            file=file,
        )
        footer = _footer(kind, dialect_name, native, metadata)
        empty_schema = pa.schema([])

    options: dict[str, Any] = {
        "compression": codec,
        "compression_level": compression_level,
        "row_group_size": row_group_size,
        "row_group_bytes": row_group_bytes,
        "footer": footer,
    }
    if max_rows is None:
        with atomic_path(path) as tmp:
            writer = _GroupedWriter(max_rows_per_file=None, next_path=lambda: tmp, **options)
            _drain(writer, tables, empty_schema)
        return ParquetWritten([Path(path)], writer.rows_per_file)
    with ShardSet(path, max_rows_per_file=max_rows) as shards:
        writer = _GroupedWriter(max_rows_per_file=max_rows, next_path=shards.add, **options)
        _drain(writer, tables, empty_schema)
    return ParquetWritten(list(shards.paths), writer.rows_per_file)


def write_parquet_table(
    table: pa.Table,
    path: str | os.PathLike[str],
    *,
    compression: str = "zstd",
    compression_level: int | None = None,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    metadata: Mapping[str, str] | None = None,
) -> int:
    """Write a table of records, already in its record type's schema, as one Parquet file.

    The file is what :func:`write_parquet` writes for the same records (schema, footer,
    compression, page checksums), but it is written in place, not atomically: this is for a
    shard's temporary file, made atomic by the :class:`~instructkit._io._atomic.ShardSet`
    that adopts it (as the shards Ray workers write).

    Args:
        table: A table whose schema is :func:`~instructkit.arrow.arrow_schema` of its record
            type (as :func:`~instructkit._arrow.conform_table` returns it).
        path: The file to create.
        compression: As for :func:`write_parquet`.
        compression_level: As for :func:`write_parquet`.
        row_group_size: As for :func:`write_parquet`.
        metadata: As for :func:`write_parquet`.

    Returns:
        The rows written.

    Raises:
        ConfigurationError: bad options, or a table of no record type's schema.
    """
    codec = compression.lower() if isinstance(compression, str) else compression
    if codec not in _COMPRESSIONS:
        raise ConfigurationError(
            f"expected compression to be one of {list(_COMPRESSIONS)}, got {compression!r}"
        )
    check_positive("row_group_size", row_group_size)
    kind = record_type_of(table.schema)
    if kind is None or not table.schema.equals(arrow_schema(kind)):
        raise ConfigurationError(
            "expected a table with the schema of a record type (conform it first), "
            f"got columns {table.schema.names}"
        )
    writer = _GroupedWriter(
        compression=codec,
        compression_level=compression_level,
        row_group_size=row_group_size,
        row_group_bytes=DEFAULT_ROW_GROUP_BYTES,
        max_rows_per_file=None,
        next_path=lambda: path,
        footer=_footer(kind, NATIVE_DIALECT, True, metadata),
    )
    _drain(writer, iter([table]), arrow_schema(kind))
    return writer.rows


def _dialect_tables(
    records: Iterable[Record],
    *,
    record: type[Record] | None,
    dialect: str,
    column_map: Mapping[str, str] | None,
    role_map: Mapping[str, str] | None,
    layout: str | None,
    strict: bool,
    losses: LossReport | None,
    file: str,
) -> tuple[type[Record], Iterator[pa.Table]]:
    """The record type and the Arrow tables of a dialect's rows, a chunk of records at a time.

    The first chunk is read at once, to know the record type before any table is written.

    Raises:
        ConfigurationError: no records and no ``record``; a record of another type (when the
            tables are iterated).
    """
    iterator = iter(records)
    first = list(islice(iterator, _CHUNK))
    if first:
        kind = type_of_record(first[0])
    elif record is not None:
        kind = record
    else:
        raise ConfigurationError(
            "expected record= (Instruction, Conversation or Preference) for an empty "
            "input, got no records and no record="
        )
    converter = _DialectTables(file, dialect=dialect, column_map=column_map)

    def dialect_tables() -> Iterator[pa.Table]:
        chunk, start = first, 0
        while chunk:
            rows = []
            for index, item in enumerate(chunk):
                if not isinstance(item, kind):
                    raise ConfigurationError(
                        f"expected every record to be {with_article(kind.__name__)}, got "
                        f"{with_article(type(item).__name__)} at index {start + index}"
                    )
                rows.append(
                    to_row(
                        item,
                        dialect=dialect,
                        column_map=column_map,
                        role_map=role_map,
                        layout=layout,
                        strict=strict,
                        losses=losses,
                    )
                )
            yield converter.table(rows, start)
            start += len(chunk)
            chunk = list(islice(iterator, _CHUNK))

    return kind, dialect_tables()


def _drain(writer: _GroupedWriter, tables: Iterator[pa.Table], empty_schema: pa.Schema) -> None:
    try:
        for table in tables:
            writer.add(table)
        writer.finish(empty_schema)
    except BaseException:
        writer.abort()
        raise
