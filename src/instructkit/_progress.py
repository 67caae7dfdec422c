"""Progress on long work: what ``progress=`` of reading, writing, converting and mixing shows.

The keyword is on :func:`read`, :func:`read_raw`, :func:`write`, :func:`adapt`,
:func:`convert`, :func:`mix` and :func:`describe` (not on :func:`read_table`: pyarrow parses
each file whole, so there is nothing to count as it goes).

``progress`` is ``False`` (nothing, the default), ``True`` (a bar on stderr: tqdm's when tqdm is
installed, else a plain line) or a callable. A callable is called as ``progress(done, total)``
with two ints (``total`` may be ``None``):

- ``done``: how many items (rows, records) the work has taken so far; it never decreases.
- ``total``: how many there are, when known in advance (a list, a Parquet file, an Arrow
  table), else ``None``. When the work runs to its end, the last call has ``total == done``.

The callable is called once when the work starts (``done`` is 0, or where a resumed read
starts), then at most about ten times a second while it runs (not once per item: the count
jumps), and once at the end (when the stream is exhausted, or closed early). Nothing happens
before the first item is asked for, so lazy iterators stay lazy, and tqdm is imported only
when a bar is actually shown.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Literal, Protocol, TypeVar

from instructkit._errors import ConfigurationError, describe_type

__all__ = ["Meter", "Progress", "check_progress", "describe_file", "known_length", "track"]

T = TypeVar("T")

Progress = bool | Callable[[int, "int | None"], object]
"""What ``progress=`` accepts: ``False``, ``True`` or a callable ``(done, total)``."""

_now = time.monotonic  # the one clock, replaceable in tests

_CALLBACK_EVERY: Final = 0.1
# Seconds between calls of a callable: often enough for a bar, rare enough to cost nothing.
_LINE_EVERY: Final = 0.5
# Seconds between plain stderr lines: a log stays readable (two lines a second at most).


def check_progress(progress: object) -> Progress:
    """Check a ``progress=`` argument at the call, before any work.

    Raises:
        ConfigurationError: neither a bool nor a callable.
    """
    if isinstance(progress, bool) or callable(progress):
        return progress
    raise ConfigurationError(
        f"expected progress to be True, False or a callable taking (done, total), "
        f"got {describe_type(progress)}"
    )


def known_length(items: object) -> int | None:
    """``len(items)`` when it has one (a list, a table, a dataset), else ``None``."""
    try:
        return len(items)  # type: ignore[arg-type]
    except (TypeError, NotImplementedError):  # no length (a generator, an IterableDataset)
        return None


class _Display(Protocol):
    def show(self, done: int, total: int | None, detail: str) -> None: ...

    def end(self, done: int, total: int | None, detail: str) -> None: ...


class _Callback:
    def __init__(self, function: Callable[[int, int | None], object]) -> None:
        self._function = function

    def show(self, done: int, total: int | None, detail: str) -> None:
        self._function(done, total)

    def end(self, done: int, total: int | None, detail: str) -> None:
        self._function(done, total)


class _Bar:
    """tqdm's bar; the meter throttles, so tqdm redraws at every update it is given."""

    def __init__(self, tqdm: Any, *, desc: str, unit: str, total: int | None) -> None:
        self._bar = tqdm(
            total=total,
            desc=desc,
            unit=f" {unit}",
            mininterval=0,
            miniters=1,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        self._shown = 0

    def show(self, done: int, total: int | None, detail: str) -> None:
        if detail:
            self._bar.set_postfix_str(detail, refresh=False)
        self._bar.update(done - self._shown)
        self._shown = done

    def end(self, done: int, total: int | None, detail: str) -> None:
        self._bar.total = total
        if detail:
            self._bar.set_postfix_str(detail, refresh=False)
        self._bar.n = done  # close() draws the last state once
        self._bar.close()


class _Line:
    """The fallback without tqdm: ``desc: done/total unit (pct) [elapsed, rate]`` on stderr.

    On a terminal the line is rewritten in place; in a log, each update is a line of its own
    (the meter sends at most two a second).
    """

    def __init__(self, *, desc: str, unit: str) -> None:
        self._desc = desc
        self._unit = unit
        self._start = _now()
        self._width = 0
        stream = sys.stderr
        self._in_place = hasattr(stream, "isatty") and stream.isatty()

    def _text(self, done: int, total: int | None, detail: str) -> str:
        elapsed = _now() - self._start
        count = f"{done:,}" if total is None else f"{done:,}/{total:,}"
        share = f" ({done / total:.0%})" if total else ""
        rate = f", {done / elapsed:,.0f} {self._unit}/s" if done and elapsed > 0 else ""
        extra = f", {detail}" if detail else ""
        return f"{self._desc}: {count} {self._unit}{share} [{elapsed:.1f} s{rate}{extra}]"

    def _write(self, text: str, *, last: bool) -> None:
        stream = sys.stderr
        if self._in_place:
            padding = " " * max(0, self._width - len(text))
            self._width = len(text)
            stream.write(f"\r{text}{padding}" + ("\n" if last else ""))
        else:
            stream.write(text + "\n")
        stream.flush()

    def show(self, done: int, total: int | None, detail: str) -> None:
        self._write(self._text(done, total, detail), last=False)

    def end(self, done: int, total: int | None, detail: str) -> None:
        self._write(self._text(done, total, detail), last=True)


def _display(progress: Progress, *, desc: str, unit: str, total: int | None) -> _Display:
    if progress is not True:
        return _Callback(progress)  # type: ignore[arg-type]
    try:
        # Imported here, so only a bar actually shown pays for it (tqdm ships no types).
        tqdm = importlib.import_module("tqdm").tqdm
    except ImportError:
        return _Line(desc=desc, unit=unit)
    return _Bar(tqdm, desc=desc, unit=unit, total=total)


class Meter:
    """One running count shown through a ``progress=`` argument (``True`` or a callable).

    Start it with the count so far; give it the new count with :meth:`update` as often as
    convenient (it shows at most a few updates a second), and :meth:`close` it once.

    Args:
        progress: ``True`` or a callable (``False`` needs no meter).
        desc: What is being done, shown before the count (``"read train.jsonl"``).
        unit: What is counted, plural (``"rows"``).
        total: The count at the end, when known in advance.
        done: The count at the start (a resumed read starts where it stopped).
        detail: Called at each shown update for extra text after the count (bytes read,
            say); only the bars show it.
    """

    def __init__(
        self,
        progress: Progress,
        *,
        desc: str,
        unit: str,
        total: int | None = None,
        done: int = 0,
        detail: Callable[[], str] | None = None,
    ) -> None:
        self.total = total
        self.done = done
        self._detail = detail
        self._closed = False
        self._every = _CALLBACK_EVERY if progress is not True else _LINE_EVERY
        self._display = _display(progress, desc=desc, unit=unit, total=total)
        self._due = _now() + self._every
        self._display.show(done, total, self._details())

    def _details(self) -> str:
        return self._detail() if self._detail is not None else ""

    def update(self, done: int) -> None:
        """Set the count; shown if the last update shown is old enough."""
        self.done = done
        now = _now()
        if now >= self._due:
            self._due = now + self._every
            self._display.show(done, self.total, self._details())

    def close(self, *, finished: bool) -> None:
        """Show the last count (idempotent).

        Args:
            finished: The work ran to its end: the total is now known to be the count.
        """
        if self._closed:
            return
        self._closed = True
        if finished:
            self.total = self.done
        self._display.end(self.done, self.total, self._details())


def track(
    items: Iterable[T],
    progress: Progress,
    *,
    desc: str,
    unit: str,
    total: int | Literal["len"] | None = "len",
) -> Iterable[T]:
    """``items``, counting each one taken into a :class:`Meter`.

    ``items`` itself when ``progress`` is off (nothing is asked of it). Otherwise a
    generator: the meter starts when the first item is asked for and closes when ``items``
    is exhausted, or when the generator is closed or dropped.

    Args:
        items: What to count.
        progress: As given to the verb (checked).
        desc: As for :class:`Meter`.
        unit: As for :class:`Meter`.
        total: The count at the end; ``"len"`` (default): ``len(items)`` when it has one.
    """
    if progress is False:
        return items
    return _tracked(items, progress, desc=desc, unit=unit, total=total)


def _tracked(
    items: Iterable[T],
    progress: Progress,
    *,
    desc: str,
    unit: str,
    total: int | Literal["len"] | None,
) -> Iterator[T]:
    if total == "len":
        total = known_length(items)
    meter = Meter(progress, desc=desc, unit=unit, total=total)
    finished = False
    done = 0
    try:
        for item in items:
            done += 1
            meter.update(done)
            yield item
        finished = True
    finally:
        meter.done = done
        meter.close(finished=finished)


def describe_file(path: str | os.PathLike[str]) -> str:
    """A file's name for a progress line (its last part: bars are short)."""
    return os.path.basename(os.fspath(path)) or os.fspath(path)
