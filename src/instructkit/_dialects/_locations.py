"""Locations in a row: error locations and loss paths through nested values.

``column_map`` renames a dialect's columns and message keys, but not the keys nested deeper
(a tool call's ``id``, a content part's ``text``). These helpers build locations that apply
the renaming only where it applies: reading a nested key (:func:`get_nested`,
:func:`fail_nested`, :func:`nested_loc`), loss paths with ``[*]`` (:func:`loss_loc`) and
record-to-row error locations (:class:`LocMap`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from instructkit._dialects._base import JSON_NAMES, Conversion, Path, describe_type
from instructkit._errors import DialectError, format_loc, with_article

__all__ = ["ANY", "LocMap", "fail_nested", "get_nested", "loss_loc", "nested_loc"]

ANY = "*"
"""A path part meaning "any index", rendered ``[*]`` by :func:`loss_loc`."""


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
