"""Plumbing every public strategy shares: deferred construction, a readable repr, checks.

Hypothesis's style guide asks that a strategy function reports bad arguments when the strategy
is first *used* (drawn from, validated or shown), not when it is built, so that composing
strategies at import time never fails, and that its repr shows the call that built it.
:func:`defines_strategy` gives both: the decorated function is not run when called; its body
runs the first time Hypothesis needs the strategy, and any
:class:`~hypothesis.errors.InvalidArgument` it raises surfaces then.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

__all__ = [
    "check_bool",
    "check_bounds",
    "check_choice",
    "check_size",
    "check_strategy",
    "defines_strategy",
    "fresh_name",
]

P = ParamSpec("P")
T = TypeVar("T")

if TYPE_CHECKING:
    _DeferredBase = st.SearchStrategy
else:
    # The class behind ``st.deferred``: it builds the real strategy on first use, which is
    # exactly the deferral we want; we only replace its repr. Taking the class from a public
    # call avoids importing Hypothesis's private module path.
    _DeferredBase = type(st.deferred(st.none))


class _Described(_DeferredBase):
    # Not part of the public API: users only ever see it as a SearchStrategy.
    def __init__(self, definition: Callable[[], st.SearchStrategy[Any]], text: str) -> None:
        super().__init__(definition)  # type: ignore[call-arg]
        self._described_as = text

    def __repr__(self) -> str:
        return self._described_as


def _describe_call(name: str, signature: inspect.Signature, kwargs: dict[str, Any]) -> str:
    shown = []
    for parameter in signature.parameters.values():
        if parameter.name not in kwargs:
            continue
        value = kwargs[parameter.name]
        if parameter.default is not inspect.Parameter.empty and value is parameter.default:
            continue
        shown.append(f"{parameter.name}={value!r}")
    return f"{name}({', '.join(shown)})"


def defines_strategy(
    function: Callable[P, st.SearchStrategy[T]],
) -> Callable[P, st.SearchStrategy[T]]:
    """Make a strategy function lazy: its body runs (and validates) on first use.

    Args:
        function: A function taking keyword-only arguments and returning a strategy.

    Returns:
        A function with the same signature whose result has the repr of the call.
    """
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> st.SearchStrategy[T]:
        if args:
            # Every parameter is keyword-only; let Python raise its usual TypeError now,
            # since a positional argument is a mistake no draw can make sense of.
            signature.bind(*args, **kwargs)

        def definition() -> st.SearchStrategy[T]:
            return function(*args, **kwargs)

        text = _describe_call(function.__name__, signature, dict(kwargs))
        result: st.SearchStrategy[T] = _Described(definition, text)
        return result

    return wrapper


def check_strategy(value: object, name: str) -> None:
    """Raise InvalidArgument unless ``value`` is a Hypothesis strategy."""
    if not isinstance(value, st.SearchStrategy):
        raise InvalidArgument(
            f"expected {name} to be a Hypothesis strategy (wrap a constant in st.just), "
            f"got {value!r} of type {type(value).__name__}"
        )


def check_bool(value: object, name: str) -> bool:
    """Raise InvalidArgument unless ``value`` is True or False; return it."""
    if not isinstance(value, bool):
        raise InvalidArgument(f"expected {name} to be True or False, got {value!r}")
    return value


def fresh_name(wanted: str, used: set[str], *, joiner: str) -> str:
    """``wanted``, or ``wanted`` + ``joiner`` + the first number that makes it unused; taken.

    Repeated names get a suffix rather than a redraw, so no example is thrown away.
    """
    candidate, suffix = wanted, 1
    while candidate in used:
        candidate = f"{wanted}{joiner}{suffix}"
        suffix += 1
    used.add(candidate)
    return candidate


def check_size(value: object, name: str, *, minimum: int = 0) -> int:
    """Raise InvalidArgument unless ``value`` is an int >= ``minimum``; return it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"expected {name} to be an integer, got {value!r}")
    if value < minimum:
        raise InvalidArgument(f"expected {name} >= {minimum}, got {value}")
    return value


def check_bounds(
    min_value: object,
    max_value: object,
    names: tuple[str, str],
    *,
    minimum: int = 0,
) -> tuple[int, int | None]:
    """Check a ``min_*``/``max_*`` pair (``max`` may be None); return them as ints.

    Raises:
        InvalidArgument: a bound is not an integer, is below ``minimum``, or min > max.
    """
    low = check_size(min_value, names[0], minimum=minimum)
    if max_value is None:
        return low, None
    high = check_size(max_value, names[1], minimum=minimum)
    if low > high:
        raise InvalidArgument(
            f"expected {names[0]} <= {names[1]}, got {names[0]}={low} and {names[1]}={high}"
        )
    return low, high


def check_choice(value: object, name: str, choices: list[str]) -> str:
    """Raise InvalidArgument unless ``value`` is one of ``choices``; return it."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidArgument(f"expected {name} to be one of {choices}, got {value!r}")
    return value
