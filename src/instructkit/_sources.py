"""Rows that another library holds: Hugging Face datasets, Arrow tables and record batches.

:func:`~instructkit.read`, :func:`~instructkit.read_raw`, :func:`~instructkit.adapt` and
:func:`~instructkit.convert` take these besides files and lists of rows. They are read as
Arrow record batches, a bounded number of rows at a time, never as one list of every row:

* :func:`arrow_source` -- a ``datasets.Dataset``, ``datasets.IterableDataset``,
  :class:`pyarrow.Table`, :class:`pyarrow.RecordBatch`, :class:`pyarrow.RecordBatchReader`, or
  a list or iterator of record batches, as an :class:`ArrowSource`: a name for errors and a
  way to open its batches from a given row;
* :func:`iter_rows` -- rows of any of these (or of any iterable of rows) as Python values,
  as ``datasets`` gives them: values of Arrow's JSON type (``datasets``' ``Json()`` feature,
  such as tool schemas and tool-call arguments) parsed, not left as JSON text.

``datasets`` is never imported here: its objects are recognised only when it is already
loaded (it must be, for such an object to exist), so ``import instructkit`` stays free of it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final

import pyarrow as pa

from instructkit._arrow import decode_json_typed, holds_json
from instructkit._errors import ConfigurationError, DataError, with_article

__all__ = ["BATCH_ROWS", "ArrowRows", "ArrowSource", "arrow_source", "batch_rows", "iter_rows"]

BATCH_ROWS: Final = 1024
"""Rows converted from Arrow to Python at a time: bounds memory on large tables."""

ArrowRows = pa.Table | pa.RecordBatch | pa.RecordBatchReader | Iterable[pa.RecordBatch]
"""Rows held in Arrow (a ``datasets.Dataset`` or ``IterableDataset`` is one too, untyped here
so that ``datasets`` need not be installed)."""

Opened = tuple[pa.Schema, Iterator[pa.RecordBatch]]

_END: Final = object()


@dataclass(frozen=True)
class ArrowSource:
    """Rows in Arrow record batches, read in order from a given row.

    Attributes:
        name: How errors, reports and read positions name the source, in angle brackets so
            that it cannot be taken for a file: ``<datasets.Dataset>``, ``<pyarrow.Table>``.
        one_shot: The batches can be gone through once only (an iterator).
    """

    name: str
    opener: Callable[[int], Opened]
    one_shot: bool = False

    def open(self, start: int = 0) -> Opened:
        """The schema, and the batches from row ``start`` (0-based) on.

        A stream's schema is its first batch's (an empty stream without a schema of its own
        has an empty one); the rows before ``start`` are read and dropped unless the source
        can go to a row directly.
        """
        return self.opener(start)


def _skip(batches: Iterator[pa.RecordBatch], start: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if start >= batch.num_rows:
            start -= batch.num_rows
            continue
        yield batch.slice(start) if start else batch
        start = 0


def _of_tables(tables: Iterable[pa.Table | pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Record batches of at most :data:`BATCH_ROWS` rows, whatever the tables' own chunks."""
    for table in tables:
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        yield from table.to_batches(max_chunksize=BATCH_ROWS)


def _stream(first: Any, rest: Iterator[Any], schema: pa.Schema | None) -> Callable[[int], Opened]:
    """An opener for batches that come once; ``first`` is the first item (already taken)."""
    used = False

    def opener(start: int) -> Opened:
        nonlocal used
        if used:
            raise ConfigurationError(
                "expected record batches that can still be read, got an iterator read before"
            )
        used = True
        batches = _of_tables(chain([] if first is None else [first], rest))
        # The batches' own schema, which may be more exact than a declared one (features
        # that a map() left behind); the declared one only for a stream without batches.
        head = next(batches, None)
        if head is None:
            return (pa.schema([]) if schema is None else schema), iter(())
        return head.schema, _skip(chain([head], batches), start)

    return opener


def _datasets_source(data: object) -> ArrowSource | None:
    """A ``datasets`` object as a source, ``None`` for anything else; a split dict refused."""
    datasets = sys.modules.get("datasets")
    if datasets is None:
        return None
    if isinstance(data, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        raise ConfigurationError(
            f"expected one split, got {with_article(type(data).__name__)} with splits "
            f"{sorted(data)} (pass data['train'])"
        )
    if isinstance(data, datasets.Dataset):
        dataset = data

        def opener(start: int) -> Opened:
            # Arrow batches skip the per-row Python formatting, honour select and shuffle,
            # and ignore any set_format("torch") the caller applied.
            if start >= len(dataset) > 0:
                return dataset.data.schema, iter(())  # skip() of every row raises
            part = dataset.skip(start) if start else dataset
            tables = part.with_format("arrow").iter(batch_size=BATCH_ROWS)
            return dataset.data.schema, _of_tables(tables)

        return ArrowSource("<datasets.Dataset>", opener)
    if isinstance(data, datasets.IterableDataset):
        streamed = data

        def stream_opener(start: int) -> Opened:
            part = streamed.skip(start) if start else streamed
            tables = iter(part.with_format("arrow").iter(batch_size=BATCH_ROWS))
            features = streamed.features
            schema = None if features is None else features.arrow_schema
            return _stream(None, tables, schema)(0)

        return ArrowSource("<datasets.IterableDataset>", stream_opener)
    return None


def arrow_source(data: object) -> ArrowSource | None:
    """``data`` as an :class:`ArrowSource`, or ``None`` when it is not rows held in Arrow.

    Recognised: a ``datasets.Dataset`` or ``IterableDataset``, a :class:`pyarrow.Table`,
    :class:`pyarrow.RecordBatch` or :class:`pyarrow.RecordBatchReader`, a non-empty list or
    tuple of tables or batches, and an iterator whose first item is one (that item is taken
    to find out, and handed back with the rest).

    Raises:
        ConfigurationError: a ``DatasetDict`` (one split is needed), or an iterator that is
            empty or whose first item is neither a table nor a batch.
    """
    found = _datasets_source(data)
    if found is not None:
        return found
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        name = f"<pyarrow.{type(data).__name__}>"
        return ArrowSource(name, lambda start: (table.schema, _of_tables([table.slice(start)])))
    if isinstance(data, pa.RecordBatchReader):
        reader = data
        return ArrowSource(
            "<pyarrow.RecordBatchReader>", _stream(None, iter(reader), reader.schema), True
        )
    # A list of rows is told from a list of batches by its first item (not by len(): a
    # list of rows is only read, never measured, when no progress is asked for).
    if (
        isinstance(data, (list, tuple))
        and _is_batch(next(iter(data), None))
        and all(_is_batch(item) for item in data)
    ):
        items = tuple(data)
        return ArrowSource(
            "<pyarrow.RecordBatch list>",
            lambda start: _stream(None, iter(items), None)(start),
        )
    if isinstance(data, Iterator):
        first = next(data, _END)
        # An empty iterator could have been of paths or of batches: neither is read.
        if first is _END or not _is_batch(first):
            raise ConfigurationError(
                "expected a file path, a list of file paths (in the order to read them) or an "
                "iterator of pyarrow record batches, got "
                + (
                    "an empty iterator"
                    if first is _END
                    else f"an iterator whose first item is {with_article(type(first).__name__)}"
                )
            )
        return ArrowSource("<pyarrow.RecordBatch stream>", _stream(first, data, None), True)
    return None


def _is_batch(item: object) -> bool:
    return isinstance(item, (pa.RecordBatch, pa.Table))


def iter_rows(data: Iterable[Any]) -> Iterator[Any]:
    """The rows of ``data`` as Python values, lazily.

    Rows held in Arrow (see :func:`arrow_source`) come a batch of :data:`BATCH_ROWS` at a
    time as dicts (:func:`batch_rows`); an iterable whose first item is a table or batch is
    read the same way; any other iterable gives its items as they are. Nothing is read
    before the first ``next()``.

    Raises:
        DataError: (while iterating) a value of Arrow's JSON type is not JSON text; located
            at its path, the 0-based row and the source.
    """
    source = None if isinstance(data, Iterator) else arrow_source(data)
    if source is not None:
        return _rows_of(source)
    return _rows_or_batches(iter(data))


def batch_rows(
    batch: pa.RecordBatch, *, start: int = 0, source: str | None = None
) -> list[dict[str, Any]]:
    """The rows of a record batch as dicts of Python values, as ``datasets`` gives them.

    ``to_pylist()`` leaves a value of Arrow's JSON type (``datasets``' ``Json()`` feature) as
    its JSON text; ``datasets`` parses it, and so does this, so that a dialect or template
    sees a tool schema or tool-call arguments as the dict they are, not as text. Values are
    parsed wherever the type holds JSON: in a column of it, or in lists and structs of it.

    Args:
        batch: The rows.
        start: The 0-based row of the batch's first row in its source, for errors.
        source: The source's name, for errors (``<datasets.Dataset>``).

    Raises:
        DataError: a JSON-typed value is not JSON text, located at its path (``$.tools[0]``),
            its row and the source.
    """
    rows: list[dict[str, Any]] = batch.to_pylist()
    typed = [(field.name, field.type) for field in batch.schema if holds_json(field.type)]
    if not typed:
        return rows
    for index, row in enumerate(rows):
        try:
            for name, kind in typed:
                row[name] = decode_json_typed(row[name], kind, (name,))
        except DataError as err:
            raise err.located(row=start + index, file=source) from err
    return rows


def _batches_rows(batches: Iterable[pa.RecordBatch], source: str) -> Iterator[Any]:
    start = 0
    for batch in batches:
        yield from batch_rows(batch, start=start, source=source)
        start += batch.num_rows


def _rows_of(source: ArrowSource) -> Iterator[Any]:
    _, batches = source.open()
    yield from _batches_rows(batches, source.name)


def _rows_or_batches(items: Iterator[Any]) -> Iterator[Any]:
    first = next(items, _END)
    if first is _END:
        return
    rest = chain([first], items)
    if _is_batch(first):
        yield from _batches_rows(_of_tables(rest), "<pyarrow.RecordBatch stream>")
        return
    yield from rest
