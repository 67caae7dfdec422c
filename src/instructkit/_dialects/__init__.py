"""Dialects: the row layouts instruction data is stored in, and conversions to and from records.

Public entry points: :func:`parse_row`, :func:`to_row`, :func:`detect_dialect`,
:func:`dialect_names`. Each dialect lives in its own private module and registers here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from instructkit._bookkeeping import (
    LAYOUT_KEY,
    bookkeeping_losses,
    has_bookkeeping,
    remembered_layout,
    split_bookkeeping,
    with_layout,
)
from instructkit._dialects._alpaca import AlpacaDialect
from instructkit._dialects._base import Conversion, Dialect, describe_type
from instructkit._dialects._flan import FlanDialect
from instructkit._dialects._hh import HHDialect
from instructkit._dialects._images import IMAGE_PLACEHOLDER
from instructkit._dialects._instruction_like import DollyDialect, InstructionDialect
from instructkit._dialects._native import NativeDialect, native_record_type
from instructkit._dialects._openai import OpenAIDialect, OpenAIDPODialect
from instructkit._dialects._sharegpt import ShareGPTDialect
from instructkit._dialects._trl import TRLDialect
from instructkit._errors import (
    ConfigurationError,
    DataError,
    DialectDetectionError,
    DialectError,
    format_loc,
)
from instructkit._limits import limit_in_value
from instructkit._public import renamed_keywords
from instructkit._records import Conversation, Instruction, Preference, Record
from instructkit._reports import LossReport, settle_losses

__all__ = [
    "DIALECTS",
    "IMAGE_PLACEHOLDER",
    "Conversion",
    "DialectConflict",
    "DialectGuess",
    "detect_dialect",
    "dialect_names",
    "get_dialect",
    "native_record_type",
    "parse_row",
    "parse_row_within_limits",
    "to_row",
]

# Registration order breaks ties in detection: more specific layouts come first.
DIALECTS: dict[str, Dialect] = {}


def _register(*dialects: Dialect) -> None:
    for dialect in dialects:
        DIALECTS[dialect.name] = dialect


_register(NativeDialect())
_register(DollyDialect(), AlpacaDialect(), InstructionDialect())
# OpenAI before TRL (both read "messages") and HH before TRL (both read chosen/rejected
# strings): the specific layout wins a tie. ShareGPT, OpenAI DPO and Flan share no keys.
_register(
    OpenAIDPODialect(),
    OpenAIDialect(),
    ShareGPTDialect(),
    HHDialect(),
    TRLDialect(),
    FlanDialect(),
)


def dialect_names() -> list[str]:
    """The names accepted as ``dialect=``, in detection priority order.

    Example:
        >>> from instructkit.dialects import dialect_names
        >>> "alpaca" in dialect_names()
        True
    """
    return list(DIALECTS)


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name``.

    Raises:
        ConfigurationError: no dialect has that name.
    """
    try:
        return DIALECTS[name]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"expected a dialect name among {sorted(DIALECTS)} or 'auto', got {name!r}"
        ) from None


def _check_row(row: object, dialect: str) -> Mapping[str, Any]:
    if not isinstance(row, Mapping):
        reason = f"expected a row that is a JSON object, got {describe_type(row)}"
        if dialect in DIALECTS:
            reason = DIALECTS[dialect].message(reason)
        raise DialectError(reason, loc="$")
    return row


@renamed_keywords(report="losses")
def parse_row(
    row: Mapping[str, Any],
    *,
    dialect: str = "auto",
    column_map: Mapping[str, str] | None = None,
    role_map: Mapping[str, str] | None = None,
    strict: bool = False,
    losses: LossReport | None = None,
) -> Record:
    """Turn one row of a dialect into a record.

    Args:
        row: The row, as parsed from JSON (a dict).
        dialect: A name from :func:`dialect_names`, or ``"auto"`` to detect it from this row
            alone (prefer :func:`detect_dialect` on a sample when reading many rows).
        column_map: The dialect's column (or message key) name -> the name your data uses,
            e.g. ``{"output": "response"}`` for an Alpaca file with a ``response`` column.
        role_map: Extra or different role words -> instructkit roles,
            e.g. ``{"bot": "assistant"}``.
        strict: Raise :class:`~instructkit.LossyConversionError` instead of losing anything.
        losses: A :class:`~instructkit.LossReport` to count what was lost.

    Returns:
        The record (:class:`~instructkit.Instruction`, :class:`~instructkit.Conversation` or
        :class:`~instructkit.Preference`, depending on the dialect and the row).

    Raises:
        DialectError: the row does not have the dialect's shape.
        RecordValidationError: the row has the shape but breaks a record rule.
        LossyConversionError: ``strict`` and the conversion would lose something.
        ConfigurationError: an unknown dialect, or a bad ``column_map``/``role_map``.

    Example:
        >>> from instructkit import parse_row
        >>> record = parse_row({"instruction": "Add 2 and 2.", "input": "", "output": "4"},
        ...                    dialect="alpaca")
        >>> record.instruction, record.response
        ('Add 2 and 2.', '4')
    """
    row = _check_row(row, dialect)
    beyond = limit_in_value(row)
    if beyond is not None:
        # Held to the limits that every reader applies to the bytes, with the same error.
        path, reason = beyond
        raise DataError(reason, loc=format_loc(path))
    return parse_row_within_limits(
        row,
        dialect=dialect,
        column_map=column_map,
        role_map=role_map,
        strict=strict,
        losses=losses,
    )


def parse_row_within_limits(
    row: Mapping[str, Any],
    *,
    dialect: str = "auto",
    column_map: Mapping[str, str] | None = None,
    role_map: Mapping[str, str] | None = None,
    strict: bool = False,
    losses: LossReport | None = None,
) -> Record:
    """:func:`parse_row` for a row already held to the limits (a reader checked its bytes).

    Walking every row again would cost the readers time on every row they convert.
    """
    row = _check_row(row, dialect)
    if dialect == "auto":
        dialect = detect_dialect([row], column_map=column_map).dialect
    chosen = get_dialect(dialect)
    conv = Conversion(chosen, column_map=column_map, role_map=role_map)
    renamed = conv.rename_in(row)
    try:
        record = chosen.parse(renamed, conv)
    except DataError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as err:
        # A safety net: dialect code checks shapes first, so reaching this is a bug in a
        # dialect, but the caller still gets a located data error instead of a crash.
        raise DialectError(
            chosen.message(f"expected a row it can read, got one that fails with {err!r}"),
            loc="$",
        ) from err
    if chosen.layouts:
        record = _remember_layout(record, chosen, chosen.layout_of(renamed, conv))
    settle_losses(conv.losses, strict=strict, losses=losses, what=f"row of dialect {dialect!r}")
    return record


def _remember_layout(record: Record, dialect: Dialect, layout: str | None) -> Record:
    # Only a layout the dialect would not pick by itself is remembered, so that most records
    # carry no bookkeeping; a memory a row's own column claimed is replaced.
    assert isinstance(record, (Conversation, Instruction, Preference))
    if layout == dialect.default_layout(record):
        layout = None
    meta = with_layout(record.meta, dialect.name, layout)
    return record if meta is None else record.model_copy(update={"meta": meta})


@renamed_keywords(report="losses")
def to_row(
    record: Record,
    *,
    dialect: str,
    column_map: Mapping[str, str] | None = None,
    role_map: Mapping[str, str] | None = None,
    layout: str | None = None,
    strict: bool = False,
    losses: LossReport | None = None,
) -> dict[str, Any]:
    """Turn a record into one row of a dialect.

    Args:
        record: The record to write.
        dialect: A name from :func:`dialect_names`.
        column_map: The dialect's column name -> the name to write instead.
        role_map: The data's role words -> instructkit roles, as for :func:`parse_row`. When
            writing, the first word it maps to a role is used for that role instead of the
            dialect's own, so the same map reads and writes the same vocabulary.
        layout: For dialects with several layouts (see the formats reference), which one to
            write; ``None`` picks the dialect's default for the record type.
        strict: Raise :class:`~instructkit.LossyConversionError` instead of losing anything.
        losses: A :class:`~instructkit.LossReport` to count what was lost.

    Returns:
        The row, a dict of JSON-compatible values.

    Raises:
        LossyConversionError: ``strict`` and the row cannot carry the whole record.
        ConfigurationError: an unknown dialect or layout, or a record type the dialect
            cannot write.

    Example:
        >>> from instructkit import Instruction, to_row
        >>> to_row(Instruction(instruction="Add 2 and 2.", response="4"), dialect="alpaca")
        {'instruction': 'Add 2 and 2.', 'input': '', 'output': '4'}
    """
    chosen = get_dialect(dialect)
    if not isinstance(record, Record):
        raise ConfigurationError(f"expected an instructkit record, got {describe_type(record)}")
    if layout is not None and layout not in chosen.layouts:
        known = list(chosen.layouts) or "none (it has a single layout)"
        raise ConfigurationError(
            f"expected a layout of dialect {chosen.name!r} among {known}, got {layout!r}"
        )
    conv = Conversion(chosen, column_map=column_map, role_map=role_map)
    coerced = chosen.coerce(record, conv)
    assert isinstance(coerced, (Conversation, Instruction, Preference))
    meta = coerced.meta
    remembered = None
    if layout is None and chosen.layouts:
        remembered = remembered_layout(meta, chosen.name, chosen.layouts)
        if remembered is not None and not isinstance(coerced, chosen.layout_types(remembered)):
            # A transcript of a remembered preference pair, say: the memory is not for it.
            remembered = None
        layout = remembered or chosen.default_layout(coerced)
    if not isinstance(chosen, NativeDialect) and has_bookkeeping(meta):
        # The one place bookkeeping leaves a record on its way to another tool's layout.
        ordinary, conv.bookkeeping = split_bookkeeping(meta)
        coerced = coerced.model_copy(update={"meta": ordinary})
    try:
        row = conv.rename_out(chosen.emit(coerced, conv, layout))
    except (DialectError, ConfigurationError) as err:
        if remembered is None:
            raise
        hint = (
            f" (layout {remembered!r} is the one the record was read from, remembered in "
            f"meta[{LAYOUT_KEY!r}]; pass layout= to write another)"
        )
        if isinstance(err, DialectError):
            raise DialectError(err.reason + hint, loc=err.loc) from err
        raise ConfigurationError(str(err) + hint) from err
    for loss in bookkeeping_losses(
        conv.bookkeeping, dialect=chosen.name, from_instruction=isinstance(record, Instruction)
    ):
        conv.lost(loss.kind, loss.field, loss.detail)
    settle_losses(
        conv.losses,
        strict=strict,
        losses=losses,
        what=f"{type(record).__name__} to dialect {dialect!r}",
    )
    return row


@dataclass(frozen=True)
class DialectConflict:
    """A sampled row that does not fit the detected dialect, or fits it only doubtfully.

    Attributes:
        index: The row's 0-based position in the input.
        dialect: The dialect the row fits instead (the detected one when the fit is
            doubtful), or ``None`` if it fits none.
        reason: Why it does not fit the detected dialect, or what makes the fit doubtful:
            columns the dialect does not read, an empty prompt, no assistant turn.
    """

    index: int
    dialect: str | None
    reason: str


@dataclass(frozen=True)
class DialectGuess:
    """What :func:`detect_dialect` concluded.

    Attributes:
        dialect: The dialect most sampled rows fit.
        confidence: How well the sampled rows fit it, 0 to 1: each row that fits adds its
            match score (below 1 when it has columns the dialect does not read), halved when
            the record read from it has an empty prompt or no assistant turn, and the sum
            is divided by the number of sampled rows.
        layout: The layout most of those rows use, for dialects with several.
        sampled: How many rows were looked at.
        votes: For each dialect, how many sampled rows fit it best.
        conflicts: The sampled rows that do not fit ``dialect``, or fit it doubtfully, with
            the reason.
    """

    dialect: str
    confidence: float
    layout: str | None
    sampled: int
    votes: dict[str, int] = field(default_factory=dict)
    conflicts: tuple[DialectConflict, ...] = ()


def _sample(rows: Iterable[Any], size: int) -> list[tuple[int, Any]]:
    if isinstance(rows, Sequence) and not isinstance(rows, (str, bytes)):
        total = len(rows)
        if total <= size:
            return list(enumerate(rows))
        # Spread over the whole sequence: heterogeneity is often at the end (appended data).
        step = (total - 1) / (size - 1) if size > 1 else 0
        indices = sorted({round(i * step) for i in range(size)})
        return [(i, rows[i]) for i in indices]
    return list(islice(enumerate(rows), size))


@dataclass(frozen=True)
class _Fit:
    """How one sampled row fits the dialect it votes for."""

    dialect: str | None
    layout: str | None
    reason: str  # why no dialect fits (when dialect is None)
    weight: float = 0.0  # what the row adds to the dialect's confidence
    doubts: tuple[str, ...] = ()  # why the fit is not certain


def _doubts(
    dialect: Dialect, row: Mapping[str, Any], layout: str | None, record: Record
) -> list[str]:
    """What makes a successful parse a doubtful reading of the row."""
    doubts = []
    unread = dialect.unread(row)
    if unread:
        doubts.append(f"columns {unread} are not read by {dialect.name} (kept in meta)")
    if isinstance(record, Preference) and not record.prompt:
        doubts.append(f"{dialect.name} reads it with an empty prompt")
    if (
        isinstance(record, Conversation)
        and not (layout or "").endswith("prompt_only")
        and all(message.role != "assistant" for message in record.messages)
    ):
        doubts.append(f"{dialect.name} reads it with no assistant turn")
    return doubts


def _best(row: Mapping[str, Any], column_map: Mapping[str, str] | None) -> _Fit:
    # The highest-scoring dialect whose parser accepts the row; the first registered wins ties.
    candidates = []
    for order, dialect in enumerate(DIALECTS.values()):
        try:
            conv = Conversion(dialect, column_map=column_map, role_map=None)
        except ConfigurationError:
            continue
        renamed = conv.rename_in(row)
        found = dialect.match(renamed)
        if found.score > 0:
            candidates.append((-found.score, order, dialect, found.layout, renamed))
    candidates.sort(key=lambda item: (item[0], item[1]))
    reasons = []
    for negative, _, dialect, layout, renamed in candidates:
        try:
            record = parse_row(row, dialect=dialect.name, column_map=column_map)
        except DataError as err:
            # The error names the dialect already; say it once.
            said = str(err).removeprefix(dialect.message(""))
            reasons.append(f"looks like {dialect.name} but {said}")
            continue
        doubts = _doubts(dialect, renamed, layout, record)
        # Unread columns already lower the match score; a reading that loses the prompt
        # or the answer is worth half of it.
        weight = -negative * (0.5 if len(doubts) > bool(dialect.unread(renamed)) else 1.0)
        return _Fit(dialect.name, layout, "", weight, tuple(doubts))
    return _Fit(None, None, "; ".join(reasons) or f"no dialect has keys {sorted(row)}")


def detect_dialect(
    rows: Iterable[Any],
    *,
    sample_size: int = 100,
    column_map: Mapping[str, str] | None = None,
) -> DialectGuess:
    """Find the dialect of some rows by looking at a sample of them, not only the first.

    Every sampled row votes for the best-fitting dialect that can actually parse it; the
    dialect with most votes wins. Rows that voted otherwise, or could not be parsed by any
    dialect, are listed as conflicts, so mixed files are noticed instead of half-read.

    Args:
        rows: The rows (dicts). A sequence is sampled evenly from start to end; any other
            iterable is sampled from its start.
        sample_size: How many rows to look at.
        column_map: As for :func:`parse_row`, applied to every candidate dialect.

    Returns:
        The guess, with its confidence and conflicts.

    Raises:
        DialectDetectionError: no sampled row fits any dialect (or there are no rows).

    Example:
        >>> from instructkit import detect_dialect
        >>> guess = detect_dialect([
        ...     {"instruction": "Name a color.", "input": "", "output": "Blue"},
        ...     {"instruction": "Name a fruit.", "input": "", "output": "Pear"},
        ... ])
        >>> guess.dialect, guess.confidence
        ('alpaca', 1.0)
    """
    if sample_size < 1:
        raise ConfigurationError(f"expected sample_size >= 1, got {sample_size}")
    sample = _sample(rows, sample_size)
    if not sample:
        raise DialectDetectionError("expected at least one row to detect a dialect, got none")
    votes: dict[str, int] = {}
    layouts: dict[str, dict[str | None, int]] = {}
    outcomes: list[tuple[int, _Fit]] = []
    for index, row in sample:
        try:
            row = _check_row(row, "auto")
        except DialectError as err:
            outcomes.append((index, _Fit(None, None, str(err))))
            continue
        fit = _best(row, column_map)
        outcomes.append((index, fit))
        if fit.dialect is not None:
            votes[fit.dialect] = votes.get(fit.dialect, 0) + 1
            per = layouts.setdefault(fit.dialect, {})
            per[fit.layout] = per.get(fit.layout, 0) + 1
    if not votes:
        first = outcomes[0][1]
        raise DialectDetectionError(
            f"expected rows of a known dialect {sorted(DIALECTS)}, got none in "
            f"{len(sample)} sampled row(s); the first, row {outcomes[0][0]}: {first.reason}",
            line=None,
        )
    order = list(DIALECTS)
    winner = max(votes, key=lambda name: (votes[name], -order.index(name)))
    layout_votes = layouts[winner]
    layout = max(layout_votes, key=lambda item: layout_votes[item])
    conflicts = []
    for index, fit in outcomes:
        if fit.dialect is None:
            conflicts.append(DialectConflict(index, None, fit.reason))
        elif fit.dialect != winner:
            conflicts.append(
                DialectConflict(index, fit.dialect, f"fits {fit.dialect} better than {winner}")
            )
        elif fit.doubts:
            conflicts.append(DialectConflict(index, winner, "; ".join(fit.doubts)))
    weight = sum(fit.weight for _, fit in outcomes if fit.dialect == winner)
    return DialectGuess(
        dialect=winner,
        confidence=weight / len(sample),
        layout=layout,
        sampled=len(sample),
        votes=dict(sorted(votes.items(), key=lambda item: -item[1])),
        conflicts=tuple(conflicts),
    )
