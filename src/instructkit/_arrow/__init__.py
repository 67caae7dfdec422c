"""Arrow tables of records: one fixed, documented schema per record type.

Public entry points (through :mod:`instructkit.arrow`): :func:`to_arrow`, :func:`from_arrow`,
:func:`arrow_schema` and :data:`ARROW_SCHEMA_VERSION`; :func:`to_dataset` (``_datasets``)
hands records to Hugging Face ``datasets``. The Parquet writer and reader and
:func:`~instructkit.read_table` build on the rest. One module per concern: ``_schema`` (the
types, schemas, their metadata and :func:`conform_table`), ``_json`` (open-ended JSON as
text), ``_convert`` (records to batches and back) and ``_rules`` (the record rules checked
column by column, :func:`validate_table`). The rest of the library imports from here, never
from the modules inside.
"""

from instructkit._arrow._convert import (
    DEFAULT_BATCH_SIZE,
    from_arrow,
    merge_parts,
    record_batches,
    records_from_batch,
    to_arrow,
)
from instructkit._arrow._datasets import to_dataset
from instructkit._arrow._json import (
    decode_json_typed,
    holds_json,
    json_text,
    json_value,
    meta_text,
    meta_value,
    strip_nulls,
)
from instructkit._arrow._rules import (
    Findings,
    check_utf8,
    scan_table,
    settle_table,
    validate_table,
)
from instructkit._arrow._schema import (
    ARROW_SCHEMA_VERSION,
    MESSAGE_COLUMNS,
    MESSAGE_TYPE,
    META_DIALECT,
    META_HUGGINGFACE,
    META_RECORD,
    META_SCHEMA_VERSION,
    META_VERSION,
    PART_TYPE,
    TOOL_CALL_TYPE,
    arrow_schema,
    conform_table,
    huggingface_metadata,
    record_type_of,
    retype,
    storage_schema,
    storage_type,
)
from instructkit._records import RECORD_TYPES, resolve_record_type, type_of_record

__all__ = [
    "ARROW_SCHEMA_VERSION",
    "DEFAULT_BATCH_SIZE",
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
    "Findings",
    "arrow_schema",
    "check_utf8",
    "conform_table",
    "decode_json_typed",
    "from_arrow",
    "holds_json",
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
    "scan_table",
    "settle_table",
    "storage_schema",
    "storage_type",
    "strip_nulls",
    "to_arrow",
    "to_dataset",
    "type_of_record",
    "validate_table",
]
