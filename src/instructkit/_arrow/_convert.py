"""Records to Arrow tables and back: :func:`to_arrow`, :func:`from_arrow` and their batches.

* :func:`record_batches` -- records to ``pa.RecordBatch`` chunks (bounded memory).
* :func:`records_from_batch` -- one batch back to records, under an ``on_error`` policy.

It is one module of somewhat over 600 lines because the two directions are one mapping
between record fields and columns, kept side by side so that a change to one direction
shows next to the other.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, chain, islice
from operator import attrgetter, itemgetter
from typing import Any

import pyarrow as pa

from instructkit._arrow._json import _short, meta_text, meta_value, strip_nulls
from instructkit._arrow._schema import (
    _FIELDS,
    _MESSAGES_TYPE,
    _PARTS_TYPE,
    _SCHEMAS,
    _STORAGE_SCHEMAS,
    _TEXT,
    _TOOL_CALLS_TYPE,
    MESSAGE_COLUMNS,
    MESSAGE_TYPE,
    PART_TYPE,
    TOOL_CALL_TYPE,
    _required,
    conform_table,
    record_type_of,
    retype,
    storage_type,
)
from instructkit._errors import (
    ConfigurationError,
    DataError,
    RecordValidationError,
    format_loc,
    with_article,
)
from instructkit._records import (
    ImagePart,
    Message,
    Record,
    TextPart,
    resolve_record_type,
    type_of_record,
)
from instructkit._reports import ItemReport, OnError, check_on_error

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "from_arrow",
    "merge_parts",
    "record_batches",
    "records_from_batch",
    "to_arrow",
]


DEFAULT_BATCH_SIZE = 65_536
# Records per Arrow batch when building tables: large enough that per-batch overhead
# vanishes, small enough that the transient Python lists stay a few tens of MB.


# --- records -> Arrow --------------------------------------------------------------------
#
# Columns are built straight from the records' fields, never through model_dump or to_dict.
# pydantic keeps a model's field values in its ``__dict__``, a plain dict keyed by field
# name, and the Arrow column and struct field names are the record field names. So pyarrow
# reads the text and number fields of a whole batch from those dicts itself, in one
# conversion to a struct whose children are the columns, with no Python code per value
# (pyarrow looks each field up by name and ignores the other keys). Fields holding nested
# records (messages, tool calls) and meta are gathered with C-level getters instead. Against
# attribute access and a Python list per field, this builds a batch in less time; most of
# what remains is pyarrow copying the text.


class _BatchTooLarge(Exception):
    """A batch holds more than 2 GiB of text in one column (32-bit offsets); split it."""


_FIELDS_OF = attrgetter("__dict__")
_ZERO_OFFSET = pa.scalar(0, pa.int32())


def _flat_struct(fields: Iterable[pa.Field]) -> pa.StructType:
    """The fields pyarrow can read straight from the records' dicts: text and numbers."""
    # content is built apart: it may hold a tuple of parts instead of text.
    return pa.struct(
        [f for f in fields if f.name not in ("meta", "content") and not pa.types.is_nested(f.type)]
    )


_FLAT_FIELDS: dict[type[Record], pa.StructType] = {
    kind: _flat_struct(fields) for kind, fields in _FIELDS.items()
}
_FLAT_MESSAGE_FIELDS = _flat_struct(MESSAGE_TYPE)

# Arrays are built with the storage types (pyarrow builds no extension type from Python
# values) and cast to the schema's types once per batch, which costs nothing.
_STORED_TOOL_CALL = storage_type(TOOL_CALL_TYPE)
_STORED_TOOL_CALLS = storage_type(_TOOL_CALLS_TYPE)
_STORED_MESSAGE = storage_type(MESSAGE_TYPE)
_STORED_MESSAGES = storage_type(_MESSAGES_TYPE)
_STORED_TEXTS = pa.list_(_required("item", _TEXT))


def _array(values: list[Any], kind: pa.DataType) -> pa.Array:
    """``values`` as one array of ``kind``; a list of field dicts makes a struct array."""
    array = pa.array(values, kind)
    if isinstance(array, pa.ChunkedArray):  # pyarrow split it: text outgrew 32-bit offsets
        raise _BatchTooLarge
    return array


def _children(fields: list[dict[str, Any]], kind: pa.StructType) -> dict[str, pa.Array]:
    """The arrays of the fields ``kind`` names, by name."""
    array = _array(fields, kind)
    # field() ignores the struct's own offset and validity: it has neither here.
    return {kind.field(i).name: array.field(i) for i in range(kind.num_fields)}


def _texts(values: list[Any]) -> pa.Array:
    return _array(values, _TEXT)


def _offsets(lists: Sequence[Sequence[Any]]) -> pa.Array:
    lengths = list(map(len, lists))
    if not any(lengths):
        # Most messages make no tool calls and most records offer no tools: all offsets 0.
        return pa.repeat(_ZERO_OFFSET, len(lists) + 1)
    return pa.array([0, *accumulate(lengths)], pa.int32())


def _flatten(lists: list[tuple[Any, ...]]) -> list[Any]:
    # Skipping the empty lists first is several times faster when most are empty, as the
    # tool calls of most messages and the tools of most records are.
    return list(chain.from_iterable(filter(None, lists)))


def _tool_calls_array(call_lists: list[tuple[Any, ...]]) -> pa.Array:
    calls = list(map(_FIELDS_OF, _flatten(call_lists)))
    return pa.ListArray.from_arrays(
        _offsets(call_lists), _array(calls, _STORED_TOOL_CALL), type=_STORED_TOOL_CALLS
    )


def _messages_array(turn_lists: list[tuple[Message, ...]]) -> pa.Array:
    # Column-wise: flatten every turn of the batch once, then build the message fields'
    # arrays from the messages' field dicts; no per-message dict is ever made.
    messages = list(map(_FIELDS_OF, chain.from_iterable(turn_lists)))
    children = _children(messages, _FLAT_MESSAGE_FIELDS)
    contents = list(map(itemgetter("content"), messages))
    if tuple in set(map(type, contents)):
        parts = [None if type(c) is not tuple else list(map(_FIELDS_OF, c)) for c in contents]
        children["parts"] = _array(parts, _PARTS_TYPE)
        contents = [None if type(c) is tuple else c for c in contents]
    else:
        children["parts"] = pa.nulls(len(contents), _PARTS_TYPE)
    children["content"] = _texts(contents)
    children["tool_calls"] = _tool_calls_array(list(map(itemgetter("tool_calls"), messages)))
    return pa.ListArray.from_arrays(
        _offsets(turn_lists),
        pa.StructArray.from_arrays(
            [children[f.name] for f in _STORED_MESSAGE], fields=list(_STORED_MESSAGE)
        ),
        type=_STORED_MESSAGES,
    )


def _tools_array(tool_lists: list[tuple[str, ...]]) -> pa.Array:
    return pa.ListArray.from_arrays(
        _offsets(tool_lists), _texts(_flatten(tool_lists)), type=_STORED_TEXTS
    )


def _meta_array(metas: list[dict[str, Any]], start: int) -> pa.Array:
    if not any(metas):
        return _texts(["{}"] * len(metas))
    texts = []
    for index, meta in enumerate(metas):
        if not meta:
            texts.append("{}")
            continue
        try:
            texts.append(meta_text(meta))
        except DataError as err:
            raise err.located(row=start + index) from err
    return _texts(texts)


def _columns(kind: type[Record], records: Sequence[Any], start: int) -> list[pa.Array]:
    """The batch's columns, in the storage types (see :data:`_STORAGE_SCHEMAS`)."""
    schema = _STORAGE_SCHEMAS[kind]
    try:
        fields = list(map(_FIELDS_OF, records))
        columns = _children(fields, _FLAT_FIELDS[kind])
        for field in schema:
            if field.name in columns:
                continue
            values = list(map(itemgetter(field.name), fields))
            if field.name == "meta":
                columns["meta"] = _meta_array(values, start)
            elif field.type == _STORED_MESSAGES:
                columns[field.name] = _messages_array(values)
            else:
                columns[field.name] = _tools_array(values)
        arrays = [columns[name] for name in schema.names]
    except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError) as err:
        # Validated records cannot get here; records made without validation
        # (model_construct) can lack a field or hold a value of the wrong type.
        error = _unwritable(schema, records, start)
        if error is None:
            raise
        raise error from err
    # pyarrow reads a field missing from a record's dict as null, and takes None as null
    # whether or not the field may be null: refuse what the schema says cannot be null.
    if any(_null_where_required(a, f) for a, f in zip(arrays, schema, strict=True)):
        error = _unwritable(schema, records, start)
        if error is not None:
            raise error
    return arrays


def _null_where_required(array: pa.Array, field: pa.Field) -> bool:
    if not field.nullable and array.null_count:
        return True
    kind = field.type
    if pa.types.is_list(kind):
        return _null_where_required(array.values, kind.value_field)
    if pa.types.is_struct(kind):
        return any(
            _null_where_required(array.field(i), kind.field(i)) for i in range(kind.num_fields)
        )
    return False


def _unwritable(
    schema: pa.Schema, records: Sequence[Any], start: int
) -> RecordValidationError | None:
    """The error for the first record field the schema cannot hold, located; else None."""
    for index, record in enumerate(records):
        problem = _bad_field(list(schema), vars(record), ())
        if problem is not None:
            where, reason = problem
            return RecordValidationError(
                f"{reason} (was the record made without validation, e.g. by model_construct?)",
                loc=format_loc(where),
                row=start + index,
            )
    return None


def _bad_field(
    fields: list[pa.Field], values: dict[str, Any], path: tuple[str | int, ...]
) -> tuple[tuple[str | int, ...], str] | None:
    for field in fields:
        if field.name == "meta":
            continue  # any dict; meta_text locates its own errors
        where = (*path, field.name)
        if field.name == "parts" and field.type == _PARTS_TYPE:
            continue  # no record field: built from content
        if field.name not in values:
            return where, "expected a value, got none (the field is missing)"
        value = values[field.name]
        if field.name == "content" and type(value) is tuple:
            for index, part in enumerate(value):
                if not isinstance(part, (TextPart, ImagePart)):
                    return (*where, index), f"expected a content part, got {_short(part)}"
                fields_of_part = [PART_TYPE.field(name) for name in vars(part)]
                problem = _bad_field(fields_of_part, vars(part), (*where, index))
                if problem is not None:
                    return problem
            continue
        problem = _bad_value(field, value, where)
        if problem is not None:
            return problem
    return None


def _bad_value(
    field: pa.Field, value: Any, where: tuple[str | int, ...]
) -> tuple[tuple[str | int, ...], str] | None:
    kind = field.type
    if value is None:
        return None if field.nullable else (where, "expected a value, got None")
    if kind == _TEXT:
        expected, ok = "text", isinstance(value, str)
    elif pa.types.is_floating(kind):
        expected, ok = "a number", isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(value, (list, tuple)):
        item = kind.value_field
        for position, element in enumerate(value):
            if pa.types.is_struct(item.type):
                if not hasattr(element, "__dict__"):
                    return (*where, position), f"expected a record, got {type(element).__name__}"
                problem = _bad_field(list(item.type), vars(element), (*where, position))
            else:
                problem = _bad_value(item, element, (*where, position))
            if problem is not None:
                return problem
        return None
    else:
        expected, ok = "a list", False
    return None if ok else (where, f"expected {expected}, got {type(value).__name__}")


def _check_kinds(kind: type[Record], records: Sequence[object], start: int) -> None:
    if set(map(type, records)) <= {kind}:
        return  # the usual case, checked without a Python-level loop
    for index, record in enumerate(records):
        if type(record) is not kind and not isinstance(record, kind):
            raise ConfigurationError(
                f"expected every record to be {with_article(kind.__name__)}, got "
                f"{with_article(type(record).__name__)} at index {start + index}"
            )


def record_batches(
    records: Iterable[Record],
    *,
    record: type[Record] | str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[type[Record], Iterator[pa.RecordBatch]]:
    """Turn records into Arrow record batches of the fixed schema, ``batch_size`` at a time.

    Only one batch of records is held at a time, so an iterator of any length can be written
    with bounded memory.

    Args:
        records: Records, all of one type.
        record: The record type; needed when ``records`` may be empty, otherwise taken from
            the first record.
        batch_size: Records per batch.

    Returns:
        The record type and an iterator of batches (it yields nothing for no records).

    Raises:
        ConfigurationError: no records and no ``record``, records of mixed types, or a bad
            ``batch_size``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(
            f"expected batch_size to be a positive integer, got {batch_size!r}"
        )
    iterator = iter(records)
    first_chunk = list(islice(iterator, batch_size))
    if record is not None:
        kind = resolve_record_type(record)
    elif first_chunk:
        kind = type_of_record(first_chunk[0])
    else:
        raise ConfigurationError(
            "expected record= (Instruction, Conversation or Preference) to give the schema of "
            "an empty input, got no records and no record="
        )
    schema = _SCHEMAS[kind]

    def batches() -> Iterator[pa.RecordBatch]:
        chunk = first_chunk
        start = 0
        while chunk:
            _check_kinds(kind, chunk, start)
            yield from _build(kind, schema, chunk, start)
            start += len(chunk)
            chunk = list(islice(iterator, batch_size))

    return kind, batches()


def _build(
    kind: type[Record], schema: pa.Schema, chunk: list[Any], start: int
) -> Iterator[pa.RecordBatch]:
    try:
        columns = _columns(kind, chunk, start)
    except _BatchTooLarge:
        # Very long records: halve the batch until each text column fits 32-bit offsets.
        if len(chunk) == 1:
            raise DataError(
                "expected at most 2 GiB of text in one field of one record, got more",
                row=start,
            ) from None
        half = len(chunk) // 2
        yield from _build(kind, schema, chunk[:half], start)
        yield from _build(kind, schema, chunk[half:], start + half)
        return
    typed = [retype(column, field.type) for column, field in zip(columns, schema, strict=True)]
    yield pa.RecordBatch.from_arrays(typed, schema=schema)


def to_arrow(
    records: Iterable[Record],
    *,
    record: type[Record] | str | None = None,
) -> pa.Table:
    """Build an Arrow table of records with their record type's fixed schema.

    The columns are built directly from the records' fields (no per-row dicts), so this is
    about as fast as building the same table from plain Python lists.

    Args:
        records: Records, all of one type (:class:`~instructkit.Instruction`,
            :class:`~instructkit.Conversation` or :class:`~instructkit.Preference`).
        record: The record type. Needed only for an empty input, which then still gives a
            (zero-row) table with the full schema.

    Returns:
        The table; ``table.schema == arrow_schema(record_type)``.

    Raises:
        ConfigurationError: no records and no ``record``, or records of mixed types.
        RecordValidationError: a record's meta holds a value JSON cannot carry (NaN).

    Example:
        >>> from instructkit import Instruction, to_arrow, from_arrow
        >>> table = to_arrow([Instruction(instruction="Add 2 and 2.", response="4")])
        >>> table.column("response").to_pylist()
        ['4']
        >>> from_arrow(table)[0].response
        '4'
        >>> to_arrow([], record=Instruction).num_rows
        0
    """
    kind, batches = record_batches(records, record=record)
    return pa.Table.from_batches(list(batches), schema=_SCHEMAS[kind])


# --- Arrow -> records --------------------------------------------------------------------


def records_from_batch(
    batch: pa.RecordBatch | pa.Table,
    kind: type[Record],
    *,
    start: int = 0,
    on_error: OnError = "raise",
    report: ItemReport | None = None,
    file: str | None = None,
) -> list[Record]:
    """Validate the rows of a batch that already has ``kind``'s schema into records.

    Args:
        batch: Rows with exactly :func:`arrow_schema` of ``kind`` (see :func:`conform_table`).
        kind: The record type.
        start: The row index of the batch's first row in its table or file, for errors.
        on_error: What to do with an invalid row (see :class:`~instructkit.ItemReport`).
        report: Where to count rows; a private one is used if ``None``.
        file: The file the rows came from, for errors.

    Returns:
        The valid records, in order.

    Raises:
        RecordValidationError: a row is not a valid record (``on_error="raise"``), located
            with ``row=`` and the field path.
    """
    tally = report if report is not None else ItemReport()
    try:
        # Parquet files (and hand-built arrays) may hold bytes that are not UTF-8, which
        # would surface as a UnicodeDecodeError in to_pylist below.
        batch.validate(full=True)
    except pa.ArrowInvalid:
        return _row_by_row(batch, kind, start, on_error, tally, file)
    names = batch.schema.names
    validate = kind.model_validate
    out: list[Record] = []
    append = out.append
    # Building many small objects with the cyclic GC running makes it rescan the growing heap
    # again and again; pausing it during the batch is several times faster (measured). None
    # of these objects form cycles, so nothing is left for the collector afterwards.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        meta_column = columns[names.index("meta")]
        message_columns = MESSAGE_COLUMNS[kind]
        for offset, values in enumerate(zip(*columns, strict=True)):
            tally.seen += 1
            row = dict(zip(names, values, strict=True))
            try:
                for name in message_columns:
                    merge_parts(row[name], name)
                text = meta_column[offset]
                row["meta"] = {} if text == "{}" else meta_value(text)
                append(validate(row))
            except DataError as err:
                tally.reject(err.located(row=start + offset, file=file), on_error=on_error)
                continue
            tally.valid += 1
    finally:
        if paused:
            gc.enable()
    return out


def merge_parts(messages: Any, field: str) -> None:
    """Put each message's ``parts`` back into its ``content``, as the record spells them.

    Args:
        messages: A row's message list as Arrow gives it (dicts with a ``parts`` key), changed
            in place.
        field: The row's field holding them, for error locations.

    Raises:
        RecordValidationError: a message has both text content and parts.
    """
    if type(messages) is not list:
        return  # null: the record's own check words the error
    for index, message in enumerate(messages):
        if type(message) is not dict:
            continue
        parts = message.pop("parts", None)
        if parts is None:
            continue
        if message.get("content") is not None:
            raise RecordValidationError(
                "expected content as text or as parts, got both",
                loc=format_loc((field, index, "parts")),
            )
        # A part's fields are the union of both kinds', null where a part has none.
        message["content"] = [strip_nulls(part) if type(part) is dict else part for part in parts]


def _row_by_row(
    batch: pa.RecordBatch | pa.Table,
    kind: type[Record],
    start: int,
    on_error: OnError,
    report: ItemReport,
    file: str | None,
) -> list[Record]:
    out: list[Record] = []
    for offset in range(batch.num_rows):
        row = batch.slice(offset, 1)
        try:
            row.validate(full=True)
        except pa.ArrowInvalid as err:
            report.seen += 1
            names = [n for n in row.schema.names if not _column_is_valid(row.column(n))]
            error = RecordValidationError(
                f"expected valid UTF-8 text, got invalid bytes ({err})",
                loc=format_loc((names[0],)) if names else None,
                row=start + offset,
                file=file,
            )
            report.reject(error, on_error=on_error)
            continue
        out.extend(
            records_from_batch(
                row, kind, start=start + offset, on_error=on_error, report=report, file=file
            )
        )
    return out


def _column_is_valid(column: Any) -> bool:
    try:
        column.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def from_arrow(
    table: pa.Table | pa.RecordBatch,
    *,
    record: type[Record] | str | None = None,
    on_error: OnError = "raise",
    report: ItemReport | None = None,
) -> list[Any]:
    """Turn an Arrow table of instructkit's schema back into validated records.

    Every row is validated exactly as the record constructors do; errors name the row
    (0-based, ``row=``) and the field path.

    Args:
        table: A table or record batch with a record type's columns (see :func:`arrow_schema`;
            :func:`conform_table` lists the differences that are accepted).
        record: The record type; by default taken from the schema's ``instructkit.record``
            metadata or, failing that, from the column names.
        on_error: ``"raise"`` (default) stops at the first invalid row; ``"skip"`` and
            ``"collect"`` leave it out and count it in ``report``.
        report: An :class:`~instructkit.ItemReport` to fill with the counts.

    Returns:
        The records, in row order.

    Raises:
        DataError: the table's columns do not match a record type (the message names the
            missing, unexpected or mistyped columns).
        RecordValidationError: a row is not a valid record, with ``row`` and ``loc`` set.
        ConfigurationError: a bad ``record`` or ``on_error``.

    Example:
        >>> import pyarrow as pa
        >>> from instructkit import Instruction, from_arrow
        >>> from instructkit.arrow import arrow_schema
        >>> from instructkit._arrow import storage_schema
        >>> table = pa.Table.from_pylist(
        ...     [{"instruction": "Say hi.", "input": "", "response": "", "system": None,
        ...       "id": None, "meta": "{}"}],
        ...     schema=storage_schema(arrow_schema(Instruction)),
        ... )
        >>> try:
        ...     from_arrow(table)
        ... except ValueError as err:
        ...     print(err.loc, err.row)
        $.response 0
    """
    policy = check_on_error(on_error)
    if not isinstance(table, (pa.Table, pa.RecordBatch)):
        raise ConfigurationError(
            f"expected a pyarrow Table or RecordBatch, got {type(table).__name__}"
        )
    if record is not None:
        kind = resolve_record_type(record)
    else:
        found = record_type_of(table.schema)
        if found is None:
            raise DataError(
                "expected the columns of an Instruction, Conversation or Preference table, "
                f"got {table.schema.names} (pass record= to have the differences named)"
            )
        kind = found
    conformed = conform_table(table, kind)
    out: list[Any] = []
    start = 0
    for batch in conformed.to_batches(max_chunksize=DEFAULT_BATCH_SIZE):
        out.extend(records_from_batch(batch, kind, start=start, on_error=policy, report=report))
        start += batch.num_rows
    return out
