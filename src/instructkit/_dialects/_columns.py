"""Side columns and ids: the columns of a row a dialect has no field for.

Columns a dialect does not read are kept in ``meta`` on the way in and written back on the
way out (:func:`take_extras`, :func:`emit_extras`); the optional ``id`` column is read by
:func:`take_id`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from instructkit._dialects._base import Conversion
from instructkit._dialects._json_text import check_json_value

__all__ = ["emit_extras", "take_extras", "take_id"]


def take_extras(row: Mapping[str, Any], known: Collection[str], conv: Conversion) -> dict[str, Any]:
    """Every column of ``row`` not in ``known``, checked to be JSON, in row order."""
    extras: dict[str, Any] = {}
    for key, value in row.items():
        if key in known:
            continue
        check_json_value(value, (key,), conv)
        extras[key] = value
    return extras


def emit_extras(
    row: dict[str, Any],
    meta: Mapping[str, Any],
    conv: Conversion,
    reserved: Collection[str] = (),
) -> None:
    """Write each ``meta`` entry as a column of ``row``; report those that cannot be written.

    A meta key named like a column of any layout of the dialect (in its own or the user's
    ``column_map`` spelling) is dropped and reported, except the dialect's
    :attr:`~Dialect.meta_columns`: written, it would be read back as that field, or make the
    row look like another layout to readers that decide by the columns present.

    Args:
        row: The row being written; extra columns are added to it.
        meta: The record's meta.
        conv: The conversion, where drops are reported.
        reserved: More names a meta key may not have.
    """
    dialect = conv.dialect
    taken = {*reserved, *dialect.columns, *(conv.col(name) for name in dialect.columns)}
    taken.difference_update(dialect.meta_columns)
    for key, value in meta.items():
        if key in row or key in taken:
            conv.lost(
                "dropped",
                f"$.meta[{key!r}]" if not key.isidentifier() else f"$.meta.{key}",
                f"meta key {key!r} collides with a column of dialect {conv.dialect.name!r}",
            )
            continue
        row[key] = value


def take_id(row: Mapping[str, Any], conv: Conversion) -> str | None:
    """Read the optional ``id`` column: text, or a number kept as text (reported as changed).

    Raises:
        DialectError: ``id`` is neither text, a number nor null.
    """
    record_id = conv.get(row, "id", (), (str, int), required=False, nullable=True)
    if isinstance(record_id, int):
        # Some datasets number their rows; the record keeps ids as text.
        conv.lost("changed", "$.id", "an integer id is kept as text")
        return str(record_id)
    return None if record_id is None else str(record_id)
