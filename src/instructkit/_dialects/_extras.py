"""Helpers several dialects share.

Columns a dialect does not read are kept in ``meta`` on the way in and written back on the
way out (:func:`take_extras`, :func:`emit_extras`). The rest serve formats that nest JSON
inside strings or leave out tool-call ids: exact texts of JSON members (:func:`member_texts`,
:func:`item_texts`), compact JSON (:func:`compact_json`), invented call ids
(:class:`CallIds`), record-to-row error locations (:class:`LocMap`) and loss paths
(:func:`loss_loc`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import orjson

from instructkit._dialects._base import JSON_NAMES, Conversion, Path, describe_type
from instructkit._errors import DialectError, format_loc, with_article
from instructkit._records import Message, content_text, has_images

__all__ = [
    "ANY",
    "CallIds",
    "LocMap",
    "check_json_value",
    "compact_json",
    "emit_extras",
    "fail_nested",
    "get_nested",
    "is_compact_json",
    "item_texts",
    "loss_loc",
    "member_texts",
    "nested_loc",
    "take_extras",
    "take_id",
    "text_content",
    "tool_schema_texts",
    "unwrapped_tool_text",
    "wrapped_tool_value",
]

ANY = "*"
"""A path part meaning "any index", rendered ``[*]`` by :func:`loss_loc`."""


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


def text_content(message: Message, field: str, conv: Conversion) -> str | None:
    """A message's content as one string, for layouts whose turns hold text only.

    Text parts are joined (reported as changed) and image parts left out (reported as
    dropped); plain text and ``None`` are returned as they are.

    Args:
        message: The message.
        field: The loss path of the message (``$.messages[*]``).
        conv: The conversion, where the losses go.
    """
    if isinstance(message.content, tuple):
        if has_images(message.content):
            conv.lost(
                "dropped",
                f"{field}.content[*]",
                f"{conv.dialect.name} turns hold text only: image parts are left out",
            )
        conv.lost(
            "changed",
            f"{field}.content",
            f"{conv.dialect.name} turns hold text only: text parts are joined into one string",
        )
    return content_text(message.content)


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


def nested_loc(conv: Conversion, path: Path, tail: Path = ()) -> str:
    """The row location of ``path`` in the user's column names, then ``tail`` as it is.

    ``column_map`` renames a dialect's columns and message keys; keys nested deeper (a tool
    call's ``id`` or ``function``, a content part's ``text``) keep their names even when a
    column happens to share one.
    """
    return conv.row_loc(path) + format_loc(tail)[1:]


def fail_nested(conv: Conversion, reason: str, path: Path, tail: Path = ()) -> DialectError:
    """Like :meth:`Conversion.fail`, located at :func:`nested_loc` of ``path`` and ``tail``."""
    return DialectError(conv.dialect.message(reason), loc=nested_loc(conv, path, tail))


def get_nested(
    obj: Mapping[str, Any],
    key: str,
    conv: Conversion,
    path: Path,
    tail: Path,
    kind: type | tuple[type, ...],
    *,
    required: bool = True,
    nullable: bool = False,
) -> Any:
    """Read ``obj[key]`` for a key ``column_map`` does not rename, checking its JSON type.

    Args:
        obj: The nested object.
        key: Its key, used as it is.
        conv: The conversion.
        path: The renamable part of ``obj``'s location (``("messages", 2, "tool_calls")``).
        tail: The rest of ``obj``'s location (``(0, "function")``).
        kind: Accepted Python type(s).
        required: Missing keys raise; otherwise they read as ``None``.
        nullable: ``None`` is accepted (and returned).

    Returns:
        The value, or ``None``.

    Raises:
        DialectError: missing, or of the wrong type.
    """
    if key not in obj:
        if required:
            present = ", ".join(repr(k) for k in obj) or "none"
            wanted = with_article(f"{key!r} key")
            raise fail_nested(conv, f"expected {wanted}, got keys {present}", path, tail)
        return None
    value = obj[key]
    if value is None and nullable:
        return None
    accepted = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, accepted) and not (isinstance(value, bool) and bool not in accepted)
    if not ok:
        names = " or ".join(JSON_NAMES.get(k, k.__name__) for k in accepted)
        if nullable:
            names += " or null"
        raise fail_nested(conv, f"expected {names}, got {describe_type(value)}", path, (*tail, key))
    return value


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


def loss_loc(
    parts: Iterable[str | int], conv: Conversion | None = None, tail: Iterable[str | int] = ()
) -> str:
    """Render a path for :meth:`Conversion.lost`: :data:`ANY` parts become ``[*]``.

    Args:
        parts: Keys and indices, outermost first.
        conv: When given, the keys of ``parts`` are renamed to the user's column names (for
            row paths).
        tail: More keys and indices, appended without renaming (see :func:`nested_loc`).

    Returns:
        The JSON path, such as ``$.conversations[*].from``.
    """
    out = ["$"]
    for part in parts:
        if conv is not None and isinstance(part, str) and part != ANY:
            part = conv.col(part)
        out.append("[*]" if part == ANY else format_loc([part])[1:])
    out.extend("[*]" if part == ANY else format_loc([part])[1:] for part in tail)
    return "".join(out)


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


_JSON_SPACE = " \t\n\r"
_DECODER = json.JSONDecoder()


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in _JSON_SPACE:
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


def tool_schema_texts(text: str, conv: Conversion) -> list[str]:
    """The schemas of a ``tools`` column given as JSON text, each as its exact text.

    Raises:
        DialectError: the text is not valid JSON, or not a JSON array.
    """
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise conv.fail(f"expected tool schemas as JSON text, got {err}", ("tools",)) from err
    items = item_texts(text)
    if items is None:
        raise conv.fail("expected a JSON array of tool schemas, got another value", ("tools",))
    return items


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


class CallIds:
    """Tool-call ids for formats that leave them out (ShareGPT, TRL, OpenAI's legacy calls).

    A call without an id gets ``call_<n>``, ``n`` being its position among the calls of the
    transcript; a tool result without one answers the oldest call still unanswered. Both
    rules only look at order, so the same row always gets the same ids, and
    :meth:`reinvents` tells a writer whether leaving ids out loses anything.

    Example:
        >>> ids = CallIds()
        >>> ids.call(None), ids.call("mine"), ids.result(None), ids.result(None)
        ('call_0', 'mine', 'call_0', 'mine')
    """

    def __init__(self) -> None:
        self._count = 0
        self._open: list[str] = []

    def copy(self) -> CallIds:
        """An independent copy (for the two sides of a preference pair)."""
        clone = CallIds()
        clone._count = self._count
        clone._open = list(self._open)
        return clone

    def call(self, given: str | None) -> str:
        """The id of the next call: ``given``, or an invented one."""
        call_id = f"call_{self._count}" if given is None else given
        self._count += 1
        self._open.append(call_id)
        return call_id

    def result(self, given: str | None) -> str | None:
        """The call the next tool result answers: ``given``, or the oldest open call.

        Returns:
            The id, or ``None`` when no id is given and no call is open (an orphan result).
        """
        if given is not None:
            if given in self._open:
                self._open.remove(given)
            return given
        return self._open.pop(0) if self._open else None

    def reinvents(self, messages: Sequence[Message]) -> bool:
        """Whether reading ``messages`` back without ids would give them the same ids.

        Advances this tracker past ``messages`` as if they had been read without ids.
        """
        same = True
        for message in messages:
            for call in message.tool_calls:
                same = self.call(None) == call.id and same
            if message.role == "tool":
                same = self.result(None) == message.tool_call_id and same
        return same


class LocMap:
    """Relocates record validation errors onto the row: a ``where=`` for :meth:`Conversion.build`.

    Register where each record field came from with :meth:`add`; an error on a record path
    is reported on the row path of its longest registered prefix, with the rest of the path
    appended as it is.

    Example:
        >>> from instructkit._dialects import get_dialect
        >>> conv = Conversion(get_dialect("alpaca"), column_map=None, role_map=None)
        >>> where = LocMap(conv)
        >>> where.add(("messages", 0, "content"), ("conversations", 0, "value"))
        >>> where("$.messages[0].content")
        '$.conversations[0].value'
    """

    def __init__(self, conv: Conversion, fallback: Path = ()) -> None:
        self._conv = conv
        self._fallback = fallback
        self._paths: dict[str, str] = {}

    def add(self, record_path: Path, row_path: Path, tail: Path = ()) -> None:
        """Say that the record field at ``record_path`` comes from ``row_path`` of the row.

        ``tail`` is appended to ``row_path`` without applying ``column_map`` (for keys
        nested inside values, such as a tool call's ``function.arguments``).
        """
        self._paths[format_loc(record_path)] = nested_loc(self._conv, row_path, tail)

    def __call__(self, loc: str) -> str:
        probe = loc
        while True:
            found = self._paths.get(probe)
            if found is not None:
                return found + loc[len(probe) :]
            cut = max(probe.rfind("."), probe.rfind("["))
            if cut <= 0:
                break
            probe = probe[:cut]
        return self._conv.row_loc(self._fallback) if self._fallback else loc


# --- tool schema shapes ---------------------------------------------------------------------
#
# Two shapes of tool schema are in use. OpenAI documents the *wrapped* one,
# ``{"type": "function", "function": {"name", "description", "parameters"}}``, which is also
# what transformers' ``get_json_schema`` makes for chat templates; LLaMA-Factory and the glaive
# data it documents use the *unwrapped* function object ``{"name", "description",
# "parameters"}``. Records keep each schema as given; a dialect whose documented shape is the
# other one reshapes it when writing (and reports it as changed).


def wrapped_tool_value(value: Any) -> dict[str, Any] | None:
    """The wrapped form of an unwrapped tool schema, or ``None`` if ``value`` is not one.

    Example:
        >>> wrapped_tool_value({"name": "f", "parameters": {}})
        {'type': 'function', 'function': {'name': 'f', 'parameters': {}}}
        >>> wrapped_tool_value({"type": "function", "function": {"name": "f"}}) is None
        True
    """
    if (
        isinstance(value, Mapping)
        and isinstance(value.get("name"), str)
        and "type" not in value
        and "function" not in value
    ):
        return {"type": "function", "function": dict(value)}
    return None


def unwrapped_tool_text(text: str) -> str | None:
    """The exact text of the function object inside a wrapped tool schema's JSON text.

    Only a schema that is exactly ``{"type": "function", "function": {...}}`` is unwrapped:
    any other key would be lost.

    Returns:
        The inner object's text, or ``None`` when ``text`` is not a wrapped schema.

    Example:
        >>> unwrapped_tool_text('{"type": "function", "function": {"name": "f"}}')
        '{"name": "f"}'
    """
    members = member_texts(text)
    if members is None or sorted(key for key, _ in members) != ["function", "type"]:
        return None
    found = dict(members)
    inner = found["function"]
    if orjson.loads(found["type"]) != "function" or member_texts(inner) is None:
        return None
    return inner
