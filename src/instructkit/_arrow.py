"""Arrow tables of records: one fixed, documented schema per record type.

Public entry points: :func:`to_arrow`, :func:`from_arrow`, :func:`arrow_schema` and
:data:`ARROW_SCHEMA_VERSION`. The Parquet writer and reader (:mod:`instructkit._io._parquet`) and
:func:`~instructkit.read_table` (:mod:`instructkit._io._table`) build on the helpers here:

* :func:`record_batches` -- records to ``pa.RecordBatch`` chunks (bounded memory).
* :func:`records_from_batch` -- one batch back to records, under an ``on_error`` policy.
* :func:`conform_table` -- check a table against a record type's schema, naming any missing,
  extra or mistyped column (also nested fields such as ``messages[].role``), and cast
  harmless differences (``large_string``, ``null``-typed columns, struct field order).
* :func:`record_type_of` -- which record type a schema holds.

The schema (version 2; ``json`` is Arrow's canonical JSON extension type ``arrow.json``,
``pa.json_()``, whose storage is ``string``)::

    ToolCall  struct<id: string not null, name: string not null, arguments: json not null>
    Part      struct<type: string not null, text: string, url: string, detail: string>
    Message   struct<role: string not null, content: string, parts: list<Part>,
                     name: string, tool_calls: list<ToolCall> not null,
                     tool_call_id: string, reasoning: string, weight: double>
    Instruction   instruction, input, response: string not null; system, id: string;
                  meta: json not null
    Conversation  messages: list<Message> not null; tools: list<json> not null;
                  id: string; meta: json not null
    Preference    prompt, chosen, rejected: list<Message> not null;
                  tools: list<json> not null; id: string; meta: json not null

Open-ended JSON stays text, typed as JSON: tool-call ``arguments`` and each entry of ``tools``
are the exact JSON text the record holds, and ``meta`` is the record's meta object as compact
JSON text (``"{}"`` when empty). The schema's ``huggingface`` metadata declares these as the
``Json()`` feature of ``datasets``, so ``datasets`` hands them to its users as Python values
(a tool schema as a dict, as TRL expects), while pyarrow, polars and DuckDB see JSON text.
Version 1 had plain ``string`` there; tables and files of version 1 are still accepted.

Every field is present in every row; a column is nullable exactly where the record allows
``None``, so ``None`` and ``""`` content stay distinct. Content given as parts is in
``parts`` (``content`` is null then; both null is content ``None``). Nothing is ever
inferred, so an empty input, or a batch where every value is ``None``, still has these types.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate, chain, islice
from operator import attrgetter, itemgetter
from typing import Any

import orjson
import pyarrow as pa

from instructkit._errors import (
    ConfigurationError,
    DataError,
    RecordValidationError,
    describe_type,
    format_loc,
    with_article,
)
from instructkit._records import (
    Conversation,
    ImagePart,
    Instruction,
    Message,
    Preference,
    Record,
    TextPart,
)
from instructkit._reports import ItemReport, OnError, check_on_error

__all__ = [
    "ARROW_SCHEMA_VERSION",
    "MESSAGE_COLUMNS",
    "MESSAGE_TYPE",
    "META_DIALECT",
    "META_HUGGINGFACE",
    "META_RECORD",
    "META_SCHEMA_VERSION",
    "META_VERSION",
    "PART_TYPE",
    "RECORD_TYPES",
    "TOOL_CALL_TYPE",
    "arrow_schema",
    "conform_table",
    "from_arrow",
    "huggingface_metadata",
    "json_text",
    "json_value",
    "merge_parts",
    "meta_text",
    "meta_value",
    "record_batches",
    "record_type_of",
    "records_from_batch",
    "resolve_record_type",
    "retype",
    "storage_schema",
    "storage_type",
    "strip_nulls",
    "to_arrow",
]

ARROW_SCHEMA_VERSION = 2
"""The version of the Arrow/Parquet schema below; raised whenever a column changes."""

META_RECORD = "instructkit.record"
"""Schema (and Parquet footer) metadata key: the record type's name, e.g. ``Conversation``."""
META_SCHEMA_VERSION = "instructkit.schema_version"
"""Schema (and Parquet footer) metadata key: :data:`ARROW_SCHEMA_VERSION` as text."""
META_VERSION = "instructkit.version"
"""Parquet footer metadata key: the instructkit version that wrote the file."""
META_DIALECT = "instructkit.dialect"
"""Parquet footer metadata key: the dialect of the rows (``instructkit`` for the own schema)."""
META_HUGGINGFACE = "huggingface"
"""Schema (and Parquet footer) metadata key where ``datasets`` reads a table's features."""

RECORD_TYPES: tuple[type[Record], ...] = (Instruction, Conversation, Preference)

DEFAULT_BATCH_SIZE = 65_536
# Records per Arrow batch when building tables: large enough that per-batch overhead
# vanishes, small enough that the transient Python lists stay a few tens of MB.

_TEXT = pa.string()
_JSON = pa.json_()
# Open-ended JSON (tool-call arguments, tool schemas, meta): text typed as JSON, so that
# readers know it is JSON (datasets decodes it, DuckDB types it JSON) and nothing infers it.


def _required(name: str, kind: pa.DataType) -> pa.Field:
    return pa.field(name, kind, nullable=False)


def _optional(name: str, kind: pa.DataType) -> pa.Field:
    return pa.field(name, kind, nullable=True)


TOOL_CALL_TYPE = pa.struct(
    [_required("id", _TEXT), _required("name", _TEXT), _required("arguments", _JSON)]
)
"""The Arrow type of one :class:`~instructkit.ToolCall`."""

_TOOL_CALLS_TYPE = pa.list_(_required("item", TOOL_CALL_TYPE))

PART_TYPE = pa.struct(
    [
        _required("type", _TEXT),
        _optional("text", _TEXT),
        _optional("url", _TEXT),
        _optional("detail", _TEXT),
    ]
)
"""The Arrow type of one content part (:class:`~instructkit.TextPart` or
:class:`~instructkit.ImagePart`): the fields of both, null where a part has none."""

_PARTS_TYPE = pa.list_(_required("item", PART_TYPE))

MESSAGE_TYPE = pa.struct(
    [
        # role and content first: the order most JSON (and chat templates) use.
        _required("role", _TEXT),
        _optional("content", _TEXT),
        # Content given as parts: content is null then. A union column would be the direct
        # spelling, but few readers (pandas, datasets, DuckDB) handle Arrow unions.
        _optional("parts", _PARTS_TYPE),
        _optional("name", _TEXT),
        _required("tool_calls", _TOOL_CALLS_TYPE),
        _optional("tool_call_id", _TEXT),
        _optional("reasoning", _TEXT),
        _optional("weight", pa.float64()),
    ]
)
"""The Arrow type of one :class:`~instructkit.Message`."""

_MESSAGES_TYPE = pa.list_(_required("item", MESSAGE_TYPE))
_JSONS_TYPE = pa.list_(_required("item", _JSON))

_FIELDS: dict[type[Record], list[pa.Field]] = {
    Instruction: [
        _required("instruction", _TEXT),
        _required("input", _TEXT),
        _required("response", _TEXT),
        _optional("system", _TEXT),
        _optional("id", _TEXT),
        _required("meta", _JSON),
    ],
    Conversation: [
        _required("messages", _MESSAGES_TYPE),
        _required("tools", _JSONS_TYPE),
        _optional("id", _TEXT),
        _required("meta", _JSON),
    ],
    Preference: [
        _required("prompt", _MESSAGES_TYPE),
        _required("chosen", _MESSAGES_TYPE),
        _required("rejected", _MESSAGES_TYPE),
        _required("tools", _JSONS_TYPE),
        _optional("id", _TEXT),
        _required("meta", _JSON),
    ],
}


def storage_type(kind: pa.DataType) -> pa.DataType:
    """``kind`` with every extension type (such as ``json``) replaced by its storage type.

    pyarrow builds arrays from Python values, parses JSON and runs compute functions only on
    plain types; a cast between the two forms is free (the buffers are shared).
    """
    if isinstance(kind, pa.BaseExtensionType):
        return storage_type(kind.storage_type)
    if pa.types.is_list(kind):
        return pa.list_(_storage_field(kind.value_field))
    if pa.types.is_large_list(kind):
        return pa.large_list(_storage_field(kind.value_field))
    if pa.types.is_struct(kind):
        return pa.struct([_storage_field(f) for f in kind])
    return kind


def _storage_field(field: pa.Field) -> pa.Field:
    return field.with_type(storage_type(field.type))


def _relaxed(kind: pa.DataType) -> pa.DataType:
    """:func:`storage_type` of ``kind`` with every nested field nullable.

    Casts to it never fail on nulls.
    """
    kind = storage_type(kind)
    if pa.types.is_list(kind):
        return pa.list_(pa.field(kind.value_field.name, _relaxed(kind.value_type)))
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, _relaxed(f.type)) for f in kind])
    return kind


def retype(array: Any, kind: pa.DataType) -> Any:
    """``array`` (or chunked array) as ``kind``, sharing its buffers.

    ``kind`` may differ from the array's type only in extension types over the same storage
    (text and JSON text) and in nullability flags. Unlike a cast, no null is checked against
    a non-nullable field: the record checks find those and locate them by row.
    """
    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array([retype(chunk, kind) for chunk in array.chunks], kind)
    if array.type.equals(kind):
        return array
    if isinstance(array.type, pa.BaseExtensionType):
        array = array.storage
    if isinstance(kind, pa.BaseExtensionType):
        return pa.ExtensionArray.from_storage(kind, retype(array, kind.storage_type))
    mask = array.is_null() if array.null_count else None
    if pa.types.is_list(kind):
        offsets = array.offsets
        if mask is not None and offsets.offset:
            offsets = pa.concat_arrays([offsets])  # pyarrow takes no mask with sliced offsets
        values = retype(array.values, kind.value_type)
        return pa.ListArray.from_arrays(offsets, values, type=kind, mask=mask)
    if pa.types.is_struct(kind):
        children = [retype(array.field(i), kind.field(i).type) for i in range(kind.num_fields)]
        return pa.StructArray.from_arrays(children, fields=list(kind), mask=mask)
    return array.cast(kind)


def storage_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with its columns' :func:`storage_type`, metadata kept.

    ``pa.Table.from_pylist(rows, schema=storage_schema(arrow_schema(Conversation)))`` builds a
    table from Python values (pyarrow builds no JSON-typed array from them);
    :func:`conform_table` and :func:`from_arrow` accept it as it is.
    """
    return pa.schema([_storage_field(f) for f in schema], metadata=schema.metadata)


def _feature(kind: pa.DataType) -> Any:
    """The ``datasets`` feature (in its JSON form) of an Arrow type."""
    if isinstance(kind, pa.JsonType):
        return {"_type": "Json"}
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        name = "List" if pa.types.is_list(kind) else "LargeList"
        return {"feature": _feature(kind.value_type), "_type": name}
    if pa.types.is_struct(kind):
        return {f.name: _feature(f.type) for f in kind}
    if isinstance(kind, pa.BaseExtensionType):
        return _feature(kind.storage_type)
    if pa.types.is_null(kind):
        return {"dtype": "null", "_type": "Value"}
    return {"dtype": str(kind), "_type": "Value"}


def huggingface_metadata(schema: pa.Schema) -> str:
    """The ``huggingface`` schema metadata that declares ``schema``'s columns to ``datasets``.

    Columns of Arrow's JSON type become the ``Json()`` feature (``datasets`` >= 4.7), which
    ``datasets`` decodes to Python values; the other columns get the features ``datasets``
    would derive from their Arrow types (``Value``, ``List``, a dict for a struct).

    Args:
        schema: The schema of a table.

    Returns:
        The metadata value (JSON text).
    """
    features = {f.name: _feature(f.type) for f in schema}
    return json.dumps({"info": {"features": features}}, separators=(",", ":"))


def _schema(kind: type[Record], fields: list[pa.Field]) -> pa.Schema:
    bare = pa.schema(fields)
    return bare.with_metadata(
        {
            META_RECORD: kind.__name__,
            META_SCHEMA_VERSION: str(ARROW_SCHEMA_VERSION),
            META_HUGGINGFACE: huggingface_metadata(bare),
        }
    )


_SCHEMAS: dict[type[Record], pa.Schema] = {
    kind: _schema(kind, fields) for kind, fields in _FIELDS.items()
}
_STORAGE_SCHEMAS: dict[type[Record], pa.Schema] = {
    kind: storage_schema(schema) for kind, schema in _SCHEMAS.items()
}

MESSAGE_COLUMNS: dict[type[Record], tuple[str, ...]] = {
    Instruction: (),
    Conversation: ("messages",),
    Preference: ("prompt", "chosen", "rejected"),
}


def resolve_record_type(record: object) -> type[Record]:
    """The record class for ``record``: a class, or its name in any case.

    Raises:
        ConfigurationError: anything else.
    """
    if isinstance(record, type) and record in _SCHEMAS:
        return record
    if isinstance(record, str):
        for kind in RECORD_TYPES:
            if record.lower() == kind.__name__.lower():
                return kind
    names = ", ".join(kind.__name__ for kind in RECORD_TYPES)
    raise ConfigurationError(
        f"expected record to be one of {names} (class or name), got {record!r}"
    )


def arrow_schema(record: type[Record] | str) -> pa.Schema:
    """The fixed Arrow schema of a record type.

    The schema's metadata names the record type (``instructkit.record``) and the schema version
    (``instructkit.schema_version``); see ``docs/arrow.md`` for every column.

    Args:
        record: :class:`~instructkit.Instruction`, :class:`~instructkit.Conversation` or
            :class:`~instructkit.Preference` (or the name of one).

    Returns:
        The schema.

    Raises:
        ConfigurationError: ``record`` is not a record type.

    Example:
        >>> from instructkit import Instruction
        >>> from instructkit.arrow import arrow_schema
        >>> arrow_schema(Instruction).names
        ['instruction', 'input', 'response', 'system', 'id', 'meta']
        >>> str(arrow_schema("Conversation").field("messages").type.value_type.field("role"))
        'pyarrow.Field<role: string not null>'
    """
    return _SCHEMAS[resolve_record_type(record)]


def record_type_of(schema: pa.Schema) -> type[Record] | None:
    """The record type a schema holds: from its metadata, else from its exact column names.

    Args:
        schema: An Arrow schema (of a table, batch or Parquet file).

    Returns:
        The record class, or ``None`` when neither the metadata nor the column names match.
    """
    meta = schema.metadata or {}
    name = meta.get(META_RECORD.encode())
    if name is not None:
        for kind in RECORD_TYPES:
            if name == kind.__name__.encode():
                return kind
    names = set(schema.names)
    for kind, fields in _FIELDS.items():
        if names == {f.name for f in fields}:
            return kind
    return None


# --- meta as JSON text -------------------------------------------------------------------

_LONG_INTEGER = re.compile(r"\d{19}")


def _non_finite_path(value: Any, path: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite_path(item, f"{path}[{key!r}]")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _non_finite_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


def strip_nulls(value: Any) -> Any:
    """``value`` with every ``None``-valued key removed from the dicts nested inside it.

    Arrow cannot tell a missing struct field from a null one (and merges the keys of all
    rows), so for rows of other layouts both read back as "absent".
    """
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def meta_text(meta: dict[str, Any]) -> str:
    """A record's meta as compact JSON text, deterministically (keys in their order).

    Integers beyond 64 bits are kept exactly. ``NaN`` and infinities have no JSON form, so
    they are refused instead of being turned into ``null``.

    Args:
        meta: The meta object.

    Returns:
        The JSON text (``"{}"`` for an empty object).

    Raises:
        RecordValidationError: ``meta`` holds a non-finite float.
    """
    if not meta:
        return "{}"
    return json_text(meta, "$.meta", "meta")


def json_text(value: Any, loc: str = "$", what: str = "JSON values") -> str:
    """Any JSON value as compact JSON text, deterministically (keys in their order).

    Integers beyond 64 bits are kept exactly; ``NaN`` and infinities are refused.

    Args:
        value: The value (dicts, lists, text, numbers, booleans, ``None``).
        loc: Where the value is, for the error.
        what: What the value is, for the error.

    Returns:
        The JSON text.

    Raises:
        RecordValidationError: ``value`` holds a non-finite float.
    """
    try:
        data = orjson.dumps(value)
    except TypeError:
        # orjson stops at 64-bit integers; the standard library writes any integer exactly.
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError:
            data = b"null"
    # orjson writes NaN and infinities as null; only then is a walk over the value needed.
    if b"null" in data:
        where = _non_finite_path(value, loc)
        if where is not None:
            raise RecordValidationError(
                f"expected finite numbers in {what} (JSON has no NaN or Infinity), got a "
                "non-finite float",
                loc=where,
            )
    return data.decode()


def json_value(text: str, field: str = "value") -> Any:
    """Parse JSON text, keeping integers beyond 64 bits exact.

    Args:
        text: The JSON text.
        field: The field it came from, for the error location.

    Returns:
        The parsed value.

    Raises:
        RecordValidationError: the text is not JSON.
    """
    try:
        # orjson reads integers past 64 bits as floats; the standard library keeps them exact.
        return json.loads(text) if _LONG_INTEGER.search(text) else orjson.loads(text)
    except ValueError as err:
        raise RecordValidationError(
            f"expected JSON text, got {_short(text)} ({err})", loc=format_loc((field,))
        ) from None


def meta_value(text: str | None) -> dict[str, Any]:
    """Parse a meta JSON text back into its object.

    Args:
        text: The JSON text of an object.

    Returns:
        The object (a fresh dict).

    Raises:
        RecordValidationError: the text is missing, not JSON, or not a JSON object.
    """
    if text == "{}":
        return {}
    if text is None:
        raise RecordValidationError("expected JSON text of an object, got None", loc="$.meta")
    try:
        # orjson reads integers past 64 bits as floats; the standard library keeps them exact
        # (and is told to refuse NaN and infinities, which it would read).
        value = (
            json.loads(text, parse_constant=_refuse_constant)
            if _LONG_INTEGER.search(text)
            else orjson.loads(text)
        )
    except ValueError as err:
        where = _non_finite_text(text, "$.meta")
        if where is not None:
            raise RecordValidationError(
                "expected finite numbers in meta (JSON has no NaN or Infinity), got a "
                "non-finite float",
                loc=where,
            ) from None
        raise RecordValidationError(
            f"expected JSON text of an object, got {_short(text)} ({err})", loc="$.meta"
        ) from None
    if not isinstance(value, dict):
        raise RecordValidationError(
            f"expected JSON text of an object, got JSON of {describe_type(value)}: {_short(text)}",
            loc="$.meta",
        )
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _non_finite_text(text: str, loc: str) -> str | None:
    """Where a NaN or infinity is in ``text``, when it is JSON but for them, else ``None``."""
    try:
        value = json.loads(text)  # the standard library reads NaN and Infinity
    except ValueError:
        return None
    return _non_finite_path(value, loc)


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        kind = _kind_of(first_chunk[0])
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


def _kind_of(record: object) -> type[Record]:
    for kind in RECORD_TYPES:
        if isinstance(record, kind):
            return kind
    raise ConfigurationError(
        "expected Instruction, Conversation or Preference records, got "
        f"{with_article(type(record).__name__)}"
    )


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


# --- checking a table's schema -----------------------------------------------------------


def _storage(kind: pa.DataType) -> pa.DataType:
    # Extension types (e.g. the arrow.json type `datasets` writes for JSON columns) are read
    # through their storage type.
    return kind.storage_type if isinstance(kind, pa.BaseExtensionType) else kind


def _type_problem(got: pa.DataType, want: pa.DataType, path: str) -> tuple[str, str] | None:
    """``(path, reason)`` when ``got`` cannot stand for ``want`` by a safe cast, else None."""
    got = _storage(got)
    want = _storage(want)  # text stands for JSON text (schema version 1 had plain text)
    if pa.types.is_null(got):
        return None  # an all-null column of any type; nullability is checked on the values
    if pa.types.is_string(want):
        if pa.types.is_string(got) or pa.types.is_large_string(got) or _is_string_view(got):
            return None
    elif pa.types.is_floating(want):
        if pa.types.is_floating(got) or pa.types.is_integer(got):
            return None
    elif pa.types.is_list(want):
        if pa.types.is_list(got) or pa.types.is_large_list(got):
            return _type_problem(got.value_type, want.value_type, path + "[]")
    elif pa.types.is_struct(want) and pa.types.is_struct(got):
        have = [got.field(i).name for i in range(got.num_fields)]
        need = [want.field(i).name for i in range(want.num_fields)]
        missing = [n for n in need if n not in have]
        if want == MESSAGE_TYPE and "parts" in missing:
            # Tables written before content parts existed: no message holds parts, and the
            # cast adds the field as null.
            missing.remove("parts")
        extra = [n for n in have if n not in need]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(f"{path}.{n}" for n in missing))
            if extra:
                parts.append("unexpected " + ", ".join(f"{path}.{n}" for n in extra))
            return path, (f"expected struct fields {need}, got {have} ({'; '.join(parts)})")
        for index in range(want.num_fields):
            field = want.field(index)
            if field.name not in have:
                continue
            found = _type_problem(got.field(field.name).type, field.type, f"{path}.{field.name}")
            if found:
                return found
        return None
    return path, f"expected {_describe_type(want)}, got {_describe_type(got)}"


def _is_string_view(kind: pa.DataType) -> bool:
    check: Callable[[pa.DataType], bool] | None = getattr(pa.types, "is_string_view", None)
    return bool(check and check(kind))


def _describe_type(kind: pa.DataType) -> str:
    text = str(kind)
    return text if len(text) <= 80 else text[:77] + "..."


def conform_table(
    table: pa.Table | pa.RecordBatch,
    record: type[Record] | str,
    *,
    file: str | None = None,
) -> pa.Table:
    """Check ``table`` against ``record``'s schema and return it with exactly that schema.

    Harmless differences are cast away: ``large_string`` or string-view text, ``null``-typed
    columns (all values missing), integer weights, struct fields in another order, list field
    names, nullability flags, extension types over text (such as ``arrow.json``). A ``meta``
    column of structs (what ``datasets`` writes when every row's meta has the same keys) is
    turned into JSON text; null-valued keys are dropped then, since Arrow merges the keys of
    all rows into every struct.

    Args:
        table: A table or record batch.
        record: The record type the table should hold.
        file: The file it came from, for error messages.

    Returns:
        A table whose schema equals :func:`arrow_schema` of ``record`` (metadata included).

    Raises:
        DataError: a column is missing, unexpected or of an incompatible type; the message
            names every missing and unexpected column, or the mistyped column (down to a
            nested field such as ``messages[].role``).
    """
    kind = resolve_record_type(record)
    schema = _SCHEMAS[kind]
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    have = table.schema.names
    need = schema.names
    missing = [n for n in need if n not in have]
    extra = [n for n in have if n not in need]
    duplicated = sorted({n for n in have if have.count(n) > 1})
    if missing or extra or duplicated:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(repr(n) for n in missing))
        if extra:
            parts.append("unexpected " + ", ".join(repr(n) for n in extra))
        if duplicated:
            parts.append("repeated " + ", ".join(repr(n) for n in duplicated))
        raise DataError(
            f"expected the {kind.__name__} columns {need}, got {have} ({'; '.join(parts)})",
            file=file,
        )
    columns = []
    for field in schema:
        column = table.column(field.name)
        if field.name == "meta" and pa.types.is_struct(_storage(column.type)):
            column = _meta_from_struct(column)
        if not column.type.equals(field.type):
            problem = _type_problem(column.type, field.type, field.name)
            if problem is not None:
                where, reason = problem
                raise DataError(f"column {where!r}: {reason}", file=file)
            column = _cast(column, field.type, field.name, file)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _meta_from_struct(column: pa.ChunkedArray) -> pa.Array:
    # `datasets` writes a meta object of the same shape in every row as a struct. Arrow has
    # merged the keys of all rows into it, so null-valued keys are taken as absent.
    texts: list[str | None] = []
    for value in column.to_pylist():
        if value is None:
            texts.append(None)
            continue
        meta = strip_nulls(value)
        try:
            texts.append(meta_text(meta))
        except DataError:
            # A NaN or infinity (a float field of the struct): written as Python's JSON-like
            # text for it, which meta_value refuses, so the row is rejected with its location
            # when records are made or tables checked, rather than the whole column here.
            texts.append(json.dumps(meta, ensure_ascii=False, separators=(",", ":")))
    return pa.array(texts, pa.string())


def _cast(column: pa.ChunkedArray, kind: pa.DataType, name: str, file: str | None) -> Any:
    if isinstance(column.type, pa.BaseExtensionType):
        column = pa.chunked_array(
            [chunk.storage for chunk in column.chunks], column.type.storage_type
        )
    try:
        # Through the storage types with every field nullable: pyarrow casts neither large
        # text to JSON nor a null into a non-nullable field (the record checks report those).
        return retype(column.cast(_relaxed(kind)), kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise DataError(
            f"column {name!r}: expected {_describe_type(kind)}, got {_describe_type(column.type)} "
            f"that cannot be converted ({err})",
            file=file,
        ) from err


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
