"""Parquet files of records: streaming, atomic, deterministic writing and two ways to read.

Used by :func:`instructkit.read` / :func:`instructkit.write` for ``.parquet`` paths, and
usable on its own:

* :func:`write_parquet` -- records to a Parquet file (or shards), in row groups, so an
  iterator of any length is written with bounded memory. With ``dialect=None`` (the default)
  the file has instructkit's own fixed schema (:func:`~instructkit.arrow.arrow_schema`); with a
  dialect name, each record goes through :func:`~instructkit.to_row` and the columns are
  that dialect's. The footer's key-value metadata records ``instructkit.version``,
  ``instructkit.record``, ``instructkit.schema_version`` (own schema only) and
  ``instructkit.dialect``.
* :func:`parquet_info` -- what a file holds (rows, schema, the metadata above), cheaply.
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

Every reader here goes through one checked source of batches: pages are written with a
CRC-32 checksum and verified on reading, and each row group must give exactly the footer's
count of rows. So a damaged file is a :class:`~instructkit.DataError` naming the file and
the row group, never fewer or different rows. :func:`parquet_records` and
:func:`parquet_row_items` are the readers :func:`instructkit.read` uses: they also hand over
each rejected row (or bad row) with its values, for a rejects file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from instructkit._arrow import (
    ARROW_SCHEMA_VERSION,
    MESSAGE_COLUMNS,
    META_DIALECT,
    META_HUGGINGFACE,
    META_RECORD,
    META_SCHEMA_VERSION,
    META_VERSION,
    RECORD_TYPES,
    arrow_schema,
    conform_table,
    huggingface_metadata,
    json_text,
    json_value,
    merge_parts,
    meta_value,
    record_batches,
    record_type_of,
    records_from_batch,
    resolve_record_type,
    retype,
    storage_type,
    strip_nulls,
)
from instructkit._dialects import get_dialect, to_row
from instructkit._errors import ConfigurationError, DataError, with_article
from instructkit._io._atomic import ShardSet, atomic_path, check_max_rows
from instructkit._policy import ItemReport, OnError, check_on_error
from instructkit._records import Record
from instructkit._report import LossReport
from instructkit._version import __version__

__all__ = [
    "DEFAULT_ROW_GROUP_BYTES",
    "DEFAULT_ROW_GROUP_SIZE",
    "NATIVE_DIALECT",
    "ParquetInfo",
    "ParquetWritten",
    "iter_parquet_records",
    "iter_parquet_rows",
    "parquet_info",
    "parquet_records",
    "parquet_row_items",
    "read_parquet_table",
    "write_parquet",
]

META_JSON_COLUMNS = "instructkit.json_columns"
"""Footer key of dialect files: the JSON list of columns stored as JSON text."""

NATIVE_DIALECT = "instructkit"
"""The dialect name recorded for files with instructkit's own schema."""

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

_READ_BATCH = 8_192

_COMPRESSIONS = ("zstd", "snappy", "gzip", "brotli", "lz4", "none")


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
        raw = footer.metadata or {}
        metadata = {
            key.decode("utf-8", "replace"): value.decode("utf-8", "replace")
            for key, value in raw.items()
            if key != b"ARROW:schema"
        }
        version_text = metadata.get(META_SCHEMA_VERSION)
        schema_version = int(version_text) if version_text and version_text.isdecimal() else None
        dialect = metadata.get(META_DIALECT)
        # Our own schema: written by us without a dialect (the schema version is recorded),
        # or written elsewhere with exactly our column names.
        own = schema_version is not None or dialect is None
        kind = record_type_of(schema) if own else None
        return ParquetInfo(
            path=Path(path),
            num_rows=footer.num_rows,
            num_row_groups=footer.num_row_groups,
            schema=schema,
            record_type=kind,
            dialect=dialect,
            schema_version=schema_version,
            library_version=metadata.get(META_VERSION),
            metadata=metadata,
        )
    finally:
        handle.close()


# --- writing -------------------------------------------------------------------------------


def _check_positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"expected {name} to be a positive integer, got {value!r}")
    return value


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
    report: LossReport | None = None,
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
        report: Where a dialect conversion counts what it lost.
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
        >>> from instructkit._io._parquet import iter_parquet_records, write_parquet
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
    _check_positive("row_group_size", row_group_size)
    _check_positive("row_group_bytes", row_group_bytes)
    max_rows = check_max_rows(max_rows_per_file)
    kind_hint = resolve_record_type(record) if record is not None else None
    dialect_name = NATIVE_DIALECT if dialect is None else get_dialect(dialect).name
    file = _name(path)
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
            report=report,
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


def _dialect_tables(
    records: Iterable[Record],
    *,
    record: type[Record] | None,
    dialect: str,
    column_map: Mapping[str, str] | None,
    role_map: Mapping[str, str] | None,
    layout: str | None,
    strict: bool,
    report: LossReport | None,
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
        kind = _record_kind(first[0])
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
                        losses=report,
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


def _record_kind(item: object) -> type[Record]:
    for kind in RECORD_TYPES:
        if isinstance(item, kind):
            return kind
    raise ConfigurationError(
        "expected Instruction, Conversation or Preference records, got "
        f"{with_article(type(item).__name__)}"
    )


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
    _check_positive("batch_size", batch_size)
    file = _name(path)
    info = parquet_info(path)
    kind = _native_kind(info, record, file)
    # Check the types on an empty table first, so a bad file fails before any row is read.
    conform_table(pa.Table.from_batches([], info.schema), kind, file=file)
    tally = report if report is not None else ItemReport(source=file)
    if tally.source is None:
        tally.source = file
    handle = _open(path)
    try:
        for batch in _batches(handle, batch_size, file, start):
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
    finally:
        handle.close()


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
    _check_positive("batch_size", batch_size)
    file = _name(path)
    info = parquet_info(path)
    native = info.record_type is not None and "meta" in info.schema.names
    message_columns = MESSAGE_COLUMNS[info.record_type] if info.record_type else ()
    json_columns: list[str] = []
    if not native and META_JSON_COLUMNS in info.metadata:
        try:
            listed = json.loads(info.metadata[META_JSON_COLUMNS])
        except ValueError as err:
            raise DataError(
                f"expected a JSON list in the footer's {META_JSON_COLUMNS}", file=file
            ) from err
        json_columns = [name for name in listed if name in info.schema.names]
    # Values typed as JSON (by instructkit's dialect writer, or by `datasets` for its Json()
    # feature) are decoded, nested or not.
    typed = {f.name: f.type for f in info.schema if _holds_json(f.type)}
    handle = _open(path)
    try:
        for batch in _batches(handle, batch_size, file, start):
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
                        row["meta"] = (
                            strip_nulls(meta) if isinstance(meta, dict) else meta_value(meta)
                        )
                        for name in message_columns:
                            merge_parts(row[name], name)
                    else:
                        row = strip_nulls(row)
                        for name in json_columns:
                            if name in row:
                                row[name] = json_value(row[name], name)
                        for name, kind in typed.items():
                            if name in row:
                                row[name] = _decode_json(row[name], kind, name)
                except DataError as err:
                    yield start + offset, stored, err.located(row=start + offset, file=file)
                    continue
                yield start + offset, row, None
            start += batch.num_rows
    finally:
        handle.close()


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


def _holds_json(kind: pa.DataType) -> bool:
    if isinstance(kind, pa.JsonType):
        return True
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _holds_json(kind.value_type)
    if pa.types.is_struct(kind):
        return any(_holds_json(f.type) for f in kind)
    return False


def _decode_json(value: Any, kind: pa.DataType, name: str) -> Any:
    """``value`` (a row's column, nulls stripped) with its JSON-typed texts parsed."""
    if value is None:
        return None
    if isinstance(kind, pa.JsonType):
        return json_value(value, name)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return [_decode_json(item, kind.value_type, name) for item in value]
    if pa.types.is_struct(kind):
        return {
            key: _decode_json(item, kind.field(key).type, name)
            if kind.get_field_index(key) >= 0
            else item
            for key, item in value.items()
        }
    return value


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
