"""Reports: what a conversion lost, and what a stream did with its bad items.

Both are the account a caller gets back besides the data, so they share one home.

Losses: every conversion between a record and another shape (a dialect's row, another record
type) describes what it could not carry over as :class:`Loss` entries. The caller either
collects them in a :class:`LossReport` (counted, so a report over a million rows stays small)
or, with ``strict=True``, gets a :class:`~instructkit.LossyConversionError` instead of a lossy
result.

Bad items: readers (bad lines and rows), converters (rows a template cannot render) and
anything else that processes many items share one policy, ``on_error``:

* ``"raise"`` (default): stop at the first bad item with its located error.
* ``"skip"``: go on; count each bad item and keep its reason.
* ``"collect"``: go on; like ``"skip"``, and also keep each bad item's error object.

In every mode the :class:`ItemReport` balances: ``valid + rejected + blank == seen``, so
nothing disappears without a trace (under ``"raise"``, the bad item that stopped the stream is
counted as rejected before its error is raised).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, get_args

from instructkit._errors import ConfigurationError, DataError, LossyConversionError

__all__ = [
    "ItemReport",
    "Loss",
    "LossKind",
    "LossReport",
    "OnError",
    "Rejection",
    "check_on_error",
    "reject_row",
    "settle_losses",
]

LossKind = Literal["dropped", "invented", "changed"]


@dataclass(frozen=True, order=True)
class Loss:
    """One kind of information a conversion could not carry over unchanged.

    Attributes:
        kind: ``"dropped"`` (present before, absent after), ``"invented"`` (absent before,
            made up after, such as a generated tool-call id) or ``"changed"`` (present on both
            sides but not equal, such as a normalised role name).
        field: JSON path of the field, with ``[*]`` for "any index"
            (``$.messages[*].name``).
        detail: A sentence saying what happened.
    """

    kind: LossKind
    field: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.field}: {self.detail}"


class LossReport:
    """A running count of :class:`Loss` entries across any number of conversions.

    Pass one report to many conversions (``losses=``) to learn what a whole file loses.
    A report is falsy exactly when nothing was lost.

    Example:
        >>> from instructkit import LossReport, parse_row
        >>> losses = LossReport()
        >>> record = parse_row({"instruction": "Hi", "input": "", "output": "Hello", "id": 7},
        ...                    dialect="alpaca", losses=losses)
        >>> print(losses.summary())
        changed $.id: an integer id is kept as text (1 row)
    """

    def __init__(self) -> None:
        self._counts: dict[Loss, int] = {}
        self.conversions = 0
        """How many conversions reported into this report (lossy or not)."""

    def add(self, loss: Loss, count: int = 1) -> None:
        """Count ``loss`` ``count`` more times."""
        self._counts[loss] = self._counts.get(loss, 0) + count

    def extend(self, losses: Iterable[Loss]) -> None:
        """Count each of ``losses`` once."""
        for loss in losses:
            self.add(loss)

    def merge(self, other: LossReport) -> None:
        """Add every count of ``other`` to this report."""
        for loss, count in other._counts.items():
            self.add(loss, count)
        self.conversions += other.conversions

    @property
    def counts(self) -> dict[Loss, int]:
        """Each distinct loss and how many times it occurred, sorted by kind and field."""
        return dict(sorted(self._counts.items()))

    def __iter__(self) -> Iterator[Loss]:
        return iter(sorted(self._counts))

    def __len__(self) -> int:
        return len(self._counts)

    def __bool__(self) -> bool:
        return bool(self._counts)

    def __contains__(self, item: object) -> bool:
        return item in self._counts

    def summary(self) -> str:
        """One line per distinct loss with its count, or ``"nothing lost"``."""
        if not self._counts:
            return "nothing lost"
        lines = []
        for loss, count in self.counts.items():
            unit = "row" if count == 1 else "rows"
            lines.append(f"{loss} ({count} {unit})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"LossReport({len(self._counts)} kinds of loss over {self.conversions} conversions)"


def settle_losses(found: list[Loss], *, strict: bool, losses: LossReport | None, what: str) -> None:
    """Raise for, or record, the losses of one conversion.

    Args:
        found: What the conversion lost (may be empty).
        strict: Raise :class:`~instructkit.LossyConversionError` if ``found`` is non-empty.
        losses: Where to count the losses when not strict; ``None`` discards them.
        what: Names the conversion in the error message (``"alpaca row"``).

    Raises:
        LossyConversionError: ``strict`` is true and something was lost.
    """
    if found and strict:
        first = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise LossyConversionError(
            f"expected a lossless conversion of the {what} (strict=True), "
            f"got: {first.kind} {first.detail}{more}",
            loc=first.field.replace("[*]", ""),
            losses=found,
        )
    if losses is not None:
        losses.conversions += 1
        losses.extend(found)


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


def reject_row(error: DataError, *, row: int, report: ItemReport | None, on_error: OnError) -> None:
    """Locate ``error`` at a 0-based row and count it in ``report``, or raise it.

    The one way a stream of rows turns a bad row into a rejection: the caller has counted
    the row in ``report.seen`` and goes on with the next row when this returns.

    Raises:
        DataError: the located error (chained to ``error``) when there is no report, or
            under ``on_error="raise"``.
    """
    located = error.located(row=row)
    if report is None:
        raise located from error
    report.reject(located, on_error=on_error)
