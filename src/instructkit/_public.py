"""Where each public name says it lives: the module it is documented under."""

from __future__ import annotations

from typing import Any

__all__ = ["expose"]


def expose(module: str, *objects: Any) -> None:
    """Set ``__module__`` of public classes and functions to the public module ``module``.

    The implementation lives in private modules; help(), reprs, pickles and the API reference
    should name the public home instead, so that moving code inside the package never changes
    what users see.
    """
    for obj in objects:
        obj.__module__ = module
