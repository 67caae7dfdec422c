"""Records out to Hugging Face ``datasets``: :func:`to_dataset`.

``datasets`` is an optional extra; it is imported only when :func:`to_dataset` is called.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from instructkit._arrow._convert import to_arrow
from instructkit._arrow._rules import validate_table
from instructkit._arrow._schema import conform_table, record_type_of
from instructkit._errors import ConfigurationError, DataError
from instructkit._records import Record, resolve_record_type

__all__ = ["to_dataset"]


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ConfigurationError(
            "expected the optional 'datasets' package for to_dataset, got it missing "
            "(pip install 'instructkit[datasets]')"
        ) from None
    return datasets


def to_dataset(
    records: Iterable[Record] | pa.Table | pa.RecordBatch,
    *,
    record: type[Record] | str | None = None,
) -> Any:
    """A Hugging Face ``datasets.Dataset`` of records, with their record type's fixed features.

    The columns and types are those of instructkit's Parquet files and of :func:`to_arrow`
    (see :func:`~instructkit.arrow.arrow_schema`): open-ended JSON (``meta``, tool schemas,
    tool-call arguments) is ``datasets``' ``Json()`` feature, so ``datasets`` hands it out as
    Python values, nulls included. The features are fixed, never inferred from the rows, so
    an empty dataset, or one where every ``name`` is ``None``, has the same features as any
    other. :func:`~instructkit.read` takes the dataset back, through the typed path.

    Args:
        records: Records, all of one type; or an Arrow table (or record batch) of a record
            type's columns, which is conformed to the schema and validated like
            :func:`~instructkit.read_table` validates a file.
        record: The record type: needed only for no records, or to say which type a table's
            columns should be (by default the schema's metadata, else its column names).

    Returns:
        The ``datasets.Dataset`` (in memory).

    Raises:
        ConfigurationError: ``datasets`` is not installed (it is the optional extra
            ``instructkit[datasets]``); no records and no ``record``; mixed record types.
        DataError: a table whose columns are not a record type's (named).
        RecordValidationError: a table row that is not a valid record (with ``row``).

    Example:
        >>> from instructkit import Instruction, to_dataset
        >>> data = to_dataset([Instruction(instruction="Add 2 and 2.", response="4",
        ...                                meta={"level": 1})])
        >>> data[0]["response"], data[0]["meta"], data.features["meta"]
        ('4', {'level': 1}, Json(decode=True))
    """
    datasets = _datasets()
    if isinstance(records, pa.RecordBatch):
        records = pa.Table.from_batches([records])
    if isinstance(records, pa.Table):
        if record is not None:
            kind = resolve_record_type(record)
        else:
            found = record_type_of(records.schema)
            if found is None:
                raise DataError(
                    "expected the columns of an Instruction, Conversation or Preference table, "
                    f"got {records.schema.names} (pass record= to have the differences named)",
                    loc="$",
                )
            kind = found
        table = validate_table(conform_table(records, kind), kind)
    else:
        table = to_arrow(records, record=record)
    # The schema's `huggingface` metadata holds the features; passing them as well keeps
    # them exact whatever datasets would infer.
    features = datasets.Features.from_arrow_schema(table.schema)
    if not table.num_rows:
        # datasets cannot fingerprint an in-memory table whose extension columns (the JSON
        # ones) have no rows; built from no values, the same features hold.
        return datasets.Dataset.from_dict({name: [] for name in table.column_names}, features)
    return datasets.Dataset(table, info=datasets.DatasetInfo(features=features))
