"""Columns a dialect does not read: kept in ``meta`` on the way in, written back on the way out."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from instructkit._dialects._base import Conversion, Path, describe_type

__all__ = ["check_json_value", "emit_extras", "take_extras"]


def check_json_value(value: Any, path: Path, conv: Conversion) -> None:
    """Raise a located error unless ``value`` is plain JSON data (finite numbers, str keys).

    Args:
        value: The value to check.
        path: Where it sits in the row.
        conv: The conversion (for the error's wording and the user's column names).

    Raises:
        DialectError: ``value`` holds something JSON cannot carry.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise conv.fail(f"expected a finite number, got {value!r}", path)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise conv.fail(f"expected string object keys, got {describe_type(key)}", path)
            check_json_value(item, (*path, key), conv)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_json_value(item, (*path, index), conv)
        return
    raise conv.fail(f"expected a JSON value, got {describe_type(value)}", path)


def take_extras(row: Mapping[str, Any], known: Collection[str], conv: Conversion) -> dict[str, Any]:
    """Every column of ``row`` not in ``known``, checked to be JSON, in row order."""
    extras: dict[str, Any] = {}
    for key, value in row.items():
        if key in known:
            continue
        check_json_value(value, (key,), conv)
        extras[key] = value
    return extras


def emit_extras(row: dict[str, Any], meta: Mapping[str, Any], conv: Conversion) -> None:
    """Write each ``meta`` entry as a column of ``row``; report those that cannot be written.

    A meta key that collides with a column the dialect writes is dropped (and reported).
    """
    for key, value in meta.items():
        if key in row:
            conv.lost(
                "dropped",
                f"$.meta[{key!r}]" if not key.isidentifier() else f"$.meta.{key}",
                f"meta key {key!r} collides with a {conv.dialect.name} column",
            )
            continue
        row[key] = value
