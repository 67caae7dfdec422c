"""Curation: how diverse a set of records is (categories, lengths, duplicates).

:func:`~instructkit.describe` (also at the top level) returns a :class:`Description`; its
parts are :class:`LengthStats` and :class:`DuplicateGroup`. See docs/create-your-own-dataset.md.

Example:
    >>> from instructkit import Instruction, describe
    >>> from instructkit.curation import Description
    >>> isinstance(describe([Instruction(instruction="Hi.", response="Hello.")]), Description)
    True
"""

from __future__ import annotations

from instructkit._describe import Description, DuplicateGroup, LengthStats, describe
from instructkit._public import expose as _expose

__all__ = ["Description", "DuplicateGroup", "LengthStats", "describe"]

_expose(__name__, Description, DuplicateGroup, LengthStats)
