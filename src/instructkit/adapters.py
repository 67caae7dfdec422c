"""Adapters: published rows of well-known NLP datasets as rows of the built-in tasks.

:func:`~instructkit.adapt` (also at the top level) runs an adapter over rows the caller brings
(nothing is downloaded); this module lists the adapters and gives each by name. See
docs/adapters.md.

Example:
    >>> from instructkit.adapters import get_adapter
    >>> get_adapter("snli").task.name
    'nli'
"""

from __future__ import annotations

from instructkit._adapters import Adapter, adapt, adapter_names, get_adapter
from instructkit._public import expose as _expose

__all__ = ["Adapter", "adapt", "adapter_names", "get_adapter"]

_expose(__name__, Adapter, adapter_names, get_adapter)
