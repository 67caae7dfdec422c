"""Arrow: the fixed schema of each record type, and records to and from Arrow tables.

Every record type has one Arrow schema (:func:`arrow_schema`), versioned by
:data:`ARROW_SCHEMA_VERSION`; Parquet files written by instructkit use it, and
:func:`storage_schema` gives the same schema with JSON columns as plain text, for building a
table with ``pyarrow.Table.from_pylist``. See docs/arrow.md.

Example:
    >>> from instructkit import Instruction
    >>> from instructkit.arrow import arrow_schema
    >>> arrow_schema(Instruction).names[:3]
    ['instruction', 'input', 'response']
"""

from __future__ import annotations

from instructkit._arrow import (
    ARROW_SCHEMA_VERSION,
    arrow_schema,
    from_arrow,
    storage_schema,
    to_arrow,
)
from instructkit._public import expose as _expose

__all__ = ["ARROW_SCHEMA_VERSION", "arrow_schema", "from_arrow", "storage_schema", "to_arrow"]

_expose(__name__, arrow_schema, storage_schema)
