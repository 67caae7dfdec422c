"""The fixed Arrow schema of each record type, its metadata, and checking a table against it.

* :func:`arrow_schema`, :func:`storage_schema`, :func:`huggingface_metadata` -- the schemas.
* :func:`record_type_of` -- which record type a schema holds.
* :func:`conform_table` -- check a table against a record type's schema, naming any missing,
  extra or mistyped column (also nested fields such as ``messages[].role``), and cast
  harmless differences (``large_string``, ``null``-typed columns, struct field order).

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

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from instructkit._arrow._json import meta_text, strip_nulls
from instructkit._errors import (
    DataError,
)
from instructkit._records import (
    RECORD_TYPES,
    Conversation,
    Instruction,
    Preference,
    Record,
    resolve_record_type,
)

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
    "TOOL_CALL_TYPE",
    "arrow_schema",
    "conform_table",
    "huggingface_metadata",
    "record_type_of",
    "retype",
    "storage_schema",
    "storage_type",
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
