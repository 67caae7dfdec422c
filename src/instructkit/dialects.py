"""Dialects: the row layouts instruction data is stored in, detected and converted.

A dialect turns one row of its layout into a record (:func:`~instructkit.parse_row`) and a
record back into a row (:func:`~instructkit.to_row`), reporting in a
:class:`~instructkit.LossReport` whatever the layout cannot hold.
:func:`~instructkit.detect_dialect` guesses the dialect of some rows, with a confidence and
the rows that argue against it.
See docs/dialects.md for every dialect and its layouts.

Example:
    >>> from instructkit.dialects import dialect_names
    >>> "sharegpt" in dialect_names()
    True
"""

from __future__ import annotations

from instructkit._dialects import (
    DialectConflict,
    DialectGuess,
    detect_dialect,
    dialect_names,
    parse_row,
    to_row,
)
from instructkit._io import llama_factory_dataset_info
from instructkit._public import expose as _expose

__all__ = [
    "DialectConflict",
    "DialectGuess",
    "detect_dialect",
    "dialect_names",
    "llama_factory_dataset_info",
    "parse_row",
    "to_row",
]

_expose(__name__, DialectConflict, DialectGuess, dialect_names, llama_factory_dataset_info)
