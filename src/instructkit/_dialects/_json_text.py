"""JSON values and JSON text, for formats that nest JSON inside strings.

Checking that a value is plain JSON (:func:`check_json_value`), the compact text orjson writes
for it (:func:`compact_json`, :func:`is_compact_json`), and the exact texts of the members and
items inside JSON text (:func:`member_texts`, :func:`item_texts`), so that a dialect can keep
a string it was given as it was written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import orjson

from instructkit._dialects._base import Conversion, Path, describe_type

__all__ = [
    "JSON_SPACE",
    "check_json_value",
    "compact_json",
    "is_compact_json",
    "item_texts",
    "member_texts",
]


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


def compact_json(value: Any, path: Path, conv: Conversion) -> str:
    """The compact JSON text of ``value``, as orjson writes it (keys in their order).

    Raises:
        DialectError: ``value`` holds something JSON text cannot carry exactly (an integer
            beyond 64 bits, a non-finite number, a non-string key).
    """
    check_json_value(value, path, conv)
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as err:
        raise conv.fail(f"expected JSON that fits 64-bit integers, got {err}", path) from err


def is_compact_json(text: str) -> bool:
    """Whether ``text`` is exactly what :func:`compact_json` writes for its value.

    Text that is not is re-spelled when a dialect stores it as a JSON value rather than as
    text (whitespace, escapes, number spellings such as ``1E5`` or ``-0``).
    """
    try:
        return orjson.dumps(orjson.loads(text)).decode() == text
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return False


JSON_SPACE = " \t\n\r"
"""The characters JSON allows as whitespace between tokens."""
_DECODER = json.JSONDecoder()


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in JSON_SPACE:
        index += 1
    return index


def member_texts(text: str) -> list[tuple[str, str]] | None:
    """The members of a JSON object text, each value as its exact text.

    Meant for text already checked to be valid JSON (by orjson): it locates values, it does
    not validate them.

    Args:
        text: JSON text.

    Returns:
        ``(key, value text)`` pairs in order (repeated keys repeat), or ``None`` when the
        text is not an object.

    Example:
        >>> member_texts('{"name": "f", "arguments": {"x": 1}}')
        [('name', '"f"'), ('arguments', '{"x": 1}')]
    """
    index = _skip_space(text, 0)
    if not text.startswith("{", index):
        return None
    index = _skip_space(text, index + 1)
    members: list[tuple[str, str]] = []
    if text.startswith("}", index):
        return members
    while True:
        key, index = _DECODER.raw_decode(text, index)
        index = _skip_space(text, _skip_space(text, index) + 1)  # past the colon
        _, end = _DECODER.raw_decode(text, index)
        members.append((key, text[index:end]))
        index = _skip_space(text, end)
        if not text.startswith(",", index):
            return members
        index = _skip_space(text, index + 1)


def item_texts(text: str) -> list[str] | None:
    """The items of a JSON array text, each as its exact text (see :func:`member_texts`).

    Returns:
        The item texts, or ``None`` when the text is not an array.

    Example:
        >>> item_texts('[{"a": 1}, 2]')
        ['{"a": 1}', '2']
    """
    index = _skip_space(text, 0)
    if not text.startswith("[", index):
        return None
    index = _skip_space(text, index + 1)
    items: list[str] = []
    if text.startswith("]", index):
        return items
    while True:
        _, end = _DECODER.raw_decode(text, index)
        items.append(text[index:end])
        index = _skip_space(text, end)
        if not text.startswith(",", index):
            return items
        index = _skip_space(text, index + 1)
