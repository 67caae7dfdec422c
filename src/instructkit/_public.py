"""The public surface: where each name says it lives, and keywords that were renamed."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

from instructkit._errors import ConfigurationError

__all__ = ["expose", "renamed_keywords"]

F = TypeVar("F", bound=Callable[..., Any])


def expose(module: str, *objects: Any) -> None:
    """Set ``__module__`` of public classes and functions to the public module ``module``.

    The implementation lives in private modules; help(), reprs, pickles and the API reference
    should name the public home instead, so that moving code inside the package never changes
    what users see.
    """
    for obj in objects:
        obj.__module__ = module


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """Keep an old keyword working for one release, with a :class:`DeprecationWarning`.

    Args:
        renames: Old keyword name to the new one (``report="losses"``).

    Example:
        >>> import warnings
        >>> @renamed_keywords(report="losses")
        ... def count(*, losses=None):
        ...     return losses
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     count(report=3)
        3
        >>> print(caught[0].message)
        count(report=...) is deprecated; use losses= (report= will be removed in the next release)
    """

    def decorate(function: F) -> F:
        name = function.__qualname__

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise ConfigurationError(
                            f"expected {new}= only, got both {new}= and its old name {old}="
                        )
                    warnings.warn(
                        f"{name}({old}=...) is deprecated; use {new}= ({old}= will be removed "
                        "in the next release)",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
