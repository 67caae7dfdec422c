"""What to do with bad items in a stream, and the account of what happened.

Readers (bad lines and rows), converters (rows a template cannot render) and anything else
that processes many items share one policy, ``on_error``:

* ``"raise"`` (default): stop at the first bad item with its located error.
* ``"skip"``: go on; count each bad item and keep its reason.
* ``"collect"``: go on; like ``"skip"``, and also keep each bad item's error object.

In every mode the :class:`ItemReport` balances: ``valid + rejected + blank == seen``, so
nothing disappears without a trace (under ``"raise"``, the bad item that stopped the stream is
counted as rejected before its error is raised).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from instructkit._errors import ConfigurationError, DataError

__all__ = ["ItemReport", "OnError", "Rejection", "check_on_error"]

OnError = Literal["raise", "skip", "collect"]
_ON_ERROR: tuple[str, ...] = get_args(OnError)


def check_on_error(on_error: object) -> OnError:
    """Return ``on_error`` if it is a known policy.

    Raises:
        ConfigurationError: any other value.
    """
    if on_error not in _ON_ERROR:
        raise ConfigurationError(
            f"expected on_error to be one of {list(_ON_ERROR)}, got {on_error!r}"
        )
    return on_error  # type: ignore[return-value]


@dataclass(frozen=True)
class Rejection:
    """One bad item and why it was rejected.

    Attributes:
        reason: The error message, location included.
        line: 1-based line in the source file, if the item came from a text file.
        row: 0-based row in the source table or input sequence, if known.
        loc: JSON path of the offending field, if known.
        error: The error itself (kept with ``"collect"`` and ``"raise"``; ``None`` with ``"skip"``).
        file: The file the item came from, if it came from one.
    """

    reason: str
    line: int | None = None
    row: int | None = None
    loc: str | None = None
    error: DataError | None = None
    file: str | None = None


@dataclass
class ItemReport:
    """The running account of a stream processed under an ``on_error`` policy.

    Attributes:
        seen: Items (lines, rows, input examples) looked at so far.
        valid: Items turned into output.
        rejected: Items rejected as bad data.
        blank: Blank lines skipped (readers only; blank lines are not errors).
        rejections: Each rejected item, in order.
        source: What was processed (a file name, a dataset name), for messages.
    """

    seen: int = 0
    valid: int = 0
    rejected: int = 0
    blank: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    source: str | None = None

    @property
    def balanced(self) -> bool:
        """Whether every item seen is accounted for: ``valid + rejected + blank == seen``."""
        return self.valid + self.rejected + self.blank == self.seen

    def reject(self, error: DataError, *, on_error: OnError) -> None:
        """Count ``error``'s item as rejected; under ``on_error="raise"``, then raise it.

        The caller has already counted the item in :attr:`seen`. The item is counted in
        every mode, so the report balances also after the error stopped the stream (and a
        read resumed from where it stopped goes on after the bad item).

        Raises:
            DataError: ``error`` itself, when ``on_error`` is ``"raise"``.
        """
        self.rejected += 1
        self.rejections.append(
            Rejection(
                reason=str(error),
                line=error.line,
                row=error.row,
                loc=error.loc,
                # Under "raise" the caller gets the error itself; keeping it costs nothing.
                error=None if on_error == "skip" else error,
                file=error.file,
            )
        )
        if on_error == "raise":
            raise error

    def summary(self) -> str:
        """One line: ``valid + rejected + blank == seen`` in words."""
        where = f"{self.source}: " if self.source else ""
        return (
            f"{where}{self.seen} seen, {self.valid} valid, {self.rejected} rejected, "
            f"{self.blank} blank"
        )
