"""Loss reports: what a conversion dropped, invented or changed.

Every conversion between a record and another shape (a dialect's row, another record type)
describes what it could not carry over as :class:`Loss` entries. The caller either collects
them in a :class:`LossReport` (counted, so a report over a million rows stays small) or, with
``strict=True``, gets a :class:`~instructkit.LossyConversionError` instead of a lossy result.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from instructkit._errors import LossyConversionError

__all__ = ["Loss", "LossKind", "LossReport", "settle_losses"]

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


def settle_losses(
    losses: list[Loss], *, strict: bool, report: LossReport | None, what: str
) -> None:
    """Raise for, or record, the losses of one conversion.

    Args:
        losses: What the conversion lost (may be empty).
        strict: Raise :class:`~instructkit.LossyConversionError` if ``losses`` is non-empty.
        report: Where to count the losses when not strict; ``None`` discards them.
        what: Names the conversion in the error message (``"alpaca row"``).

    Raises:
        LossyConversionError: ``strict`` is true and something was lost.
    """
    if losses and strict:
        first = losses[0]
        more = f" (and {len(losses) - 1} more)" if len(losses) > 1 else ""
        raise LossyConversionError(
            f"expected a lossless conversion of the {what} (strict=True), "
            f"got: {first.kind} {first.detail}{more}",
            loc=first.field.replace("[*]", ""),
            losses=losses,
        )
    if report is not None:
        report.conversions += 1
        report.extend(losses)
