"""JSON values and JSON texts that every instructkit writer and reader must carry exactly."""

from __future__ import annotations

import json
import string
from typing import Any

import orjson
from hypothesis import strategies as st

from instructkit._bookkeeping import BOOKKEEPING_PREFIX
from instructkit.strategies._text import texts

__all__ = [
    "IDENTIFIER_ALPHABET",
    "call_ids",
    "identifiers",
    "json_objects",
    "json_texts",
    "json_values",
    "meta_dicts",
    "record_ids",
    "tool_schemas",
]

IDENTIFIER_ALPHABET = string.ascii_letters + string.digits + "_"
_INT64 = 2**63


def identifiers(max_size: int = 16) -> st.SearchStrategy[str]:
    """Short ASCII names (tool names, speaker names); shrinks towards ``"0"``."""
    return st.text(IDENTIFIER_ALPHABET, min_size=1, max_size=max_size)


def call_ids() -> st.SearchStrategy[str]:
    """Tool-call ids shaped like ``call_x7``; shrinks towards ``"call_0"``."""
    return st.builds("call_{}".format, identifiers(8))


def record_ids() -> st.SearchStrategy[str | None]:
    """An optional record id: None (the shrink target) or non-empty text."""
    return st.none() | texts(min_size=1, max_size=16)


def json_values(max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """JSON-compatible Python values that every instructkit format carries exactly.

    Integers stay within 64 bits and floats are finite: orjson and Arrow reject bigger
    integers, and JSON has no NaN or infinity (orjson would write ``null``, silently).
    """
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-_INT64, _INT64 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | texts(max_size=12)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(texts(max_size=8), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def json_objects(max_size: int = 3) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects with text keys and :func:`json_values` values; shrinks towards ``{}``."""
    return st.dictionaries(texts(max_size=8), json_values(), max_size=max_size)


def _dump(value: Any, style: int) -> str:
    # The record keeps JSON text byte for byte, so different spellings of one value must
    # all survive: compact, spaced, indented, and ASCII-escaped.
    if style == 0:
        return orjson.dumps(value).decode()
    if style == 1:
        return json.dumps(value, ensure_ascii=False)
    if style == 2:
        return json.dumps(value, ensure_ascii=False, indent=2)
    return json.dumps(value, ensure_ascii=True)


def json_texts(values: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[str]:
    """JSON text for ``values`` (default: objects), spelled in one of several styles."""
    return st.builds(_dump, json_objects() if values is None else values, st.integers(0, 3))


def tool_schemas() -> st.SearchStrategy[str]:
    """JSON text of an OpenAI-style function tool schema."""

    def schema(name: str, description: str, properties: list[str]) -> str:
        body = {
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": {
                    "type": "object",
                    "properties": {key: {"type": "string"} for key in properties},
                },
            },
        }
        return orjson.dumps(body).decode()

    return st.builds(
        schema, identifiers(), texts(max_size=24), st.lists(identifiers(8), max_size=3)
    )


def _unreserved(key: str) -> str:
    return "_" + key if key.startswith(BOOKKEEPING_PREFIX) else key


def meta_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """Record ``meta``: a few JSON values under non-empty keys; shrinks towards ``{}``.

    Keys never start with ``instructkit.``: that namespace is reserved for the library's
    own bookkeeping (such as the input offset of a joined instruction).
    """
    keys = texts(min_size=1, max_size=12, allow_whitespace_only=False).map(_unreserved)
    return st.dictionaries(keys, json_values(), max_size=2)
