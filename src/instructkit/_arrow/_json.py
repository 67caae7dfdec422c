"""Open-ended JSON (``meta``, tool-call arguments, tool schemas) as JSON text in Arrow columns.

A record's ``meta`` is a JSON object in Python and compact JSON text in a table; the
functions here turn one into the other, refusing what JSON text cannot carry (NaN,
infinities) with a located error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa

from instructkit._errors import (
    RecordValidationError,
    describe_type,
    format_loc,
)
from instructkit._limits import may_hold_long_integer

__all__ = [
    "decode_json_typed",
    "holds_json",
    "json_text",
    "json_value",
    "meta_text",
    "meta_value",
    "strip_nulls",
]


# --- meta as JSON text -------------------------------------------------------------------


def _long_integer(text: str) -> bool:
    """Whether JSON text may hold an integer beyond 64 bits (19 ASCII digits in a row)."""
    return may_hold_long_integer(text.encode("utf-8", "surrogatepass"))


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


def json_value(text: str, field: str = "value", *, path: Sequence[str | int] = ()) -> Any:
    """Parse JSON text, keeping integers beyond 64 bits exact.

    Args:
        text: The JSON text.
        field: The field it came from, for the error location.
        path: The full path of the value, for the error location, when it is nested
            (``("tools", 0)``); ``field`` is the location when it is empty.

    Returns:
        The parsed value.

    Raises:
        RecordValidationError: the text is not JSON.
    """
    try:
        # orjson reads integers past 64 bits as floats; the standard library keeps them exact.
        return json.loads(text) if _long_integer(text) else orjson.loads(text)
    except ValueError as err:
        raise RecordValidationError(
            f"expected JSON text, got {_short(text)} ({err})", loc=format_loc(path or (field,))
        ) from None


# --- values of Arrow's JSON type ---------------------------------------------------------

_LISTS = (pa.ListType, pa.LargeListType, pa.FixedSizeListType)


def holds_json(kind: pa.DataType) -> bool:
    """Whether ``kind`` is Arrow's JSON type or holds it (in lists or structs, at any depth)."""
    if isinstance(kind, pa.JsonType):
        return True
    if isinstance(kind, _LISTS):
        return holds_json(kind.value_type)
    if isinstance(kind, pa.StructType):
        return any(holds_json(field.type) for field in kind)
    return False


def decode_json_typed(value: Any, kind: pa.DataType, path: Sequence[str | int]) -> Any:
    """A Python value of Arrow type ``kind`` with the texts of its JSON-typed parts parsed.

    ``to_pylist()`` gives a value of Arrow's JSON type as its text, where ``datasets`` (its
    ``Json()`` feature) gives the value the text stands for; this gives the same values as
    ``datasets``, nested in lists and structs too, except that numbers are read exactly.
    Struct fields missing from ``value`` (stripped nulls) stay missing.

    Args:
        value: The value, as ``to_pylist()`` gives it (``None`` stays ``None``).
        kind: Its Arrow type.
        path: Where the value is, for the error location (``("messages", 1)``).

    Returns:
        The value with every JSON text in a JSON-typed place parsed (a new value where
        something was parsed; ``value`` itself otherwise).

    Raises:
        RecordValidationError: a JSON-typed text is not JSON (located at its full path).
    """
    if value is None:
        return None
    if isinstance(kind, pa.JsonType):
        return json_value(value, path=path)
    if isinstance(kind, _LISTS):
        inner = kind.value_type
        return [decode_json_typed(item, inner, (*path, i)) for i, item in enumerate(value)]
    if isinstance(kind, pa.StructType):
        return {
            key: decode_json_typed(item, kind.field(key).type, (*path, key))
            if kind.get_field_index(key) >= 0
            else item
            for key, item in value.items()
        }
    return value


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
            if _long_integer(text)
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
