"""How diverse a set of records is: categories, lengths and duplicates, in one pass."""

from __future__ import annotations

import hashlib
import statistics
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from instructkit._errors import ConfigurationError
from instructkit._progress import Progress, check_progress, track
from instructkit._records import (
    EARLY_ROLES,
    Conversation,
    Instruction,
    Message,
    Preference,
    Record,
    content_text,
)

__all__ = ["Description", "DuplicateGroup", "LengthStats", "describe", "normalize_text"]

AnyRecord = Instruction | Conversation | Preference

NO_CATEGORY = "(none)"
"""The category of a record for which the key finds nothing."""

_SHOWN_GROUPS = 5  # duplicate groups listed by __str__ (all are in the object)


def normalize_text(text: str) -> str:
    r"""The form texts are compared in for *normalised* duplicates.

    Unicode NFKC (so full-width letters and ligatures match their plain forms), case-folded,
    every run of whitespace turned into one space, and trimmed. Punctuation is kept: "Why?"
    and "Why" differ.

    Example:
        >>> normalize_text("  What  is\tPhotosynthesis? ")
        'what is photosynthesis?'
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class LengthStats:
    """Length statistics of one field over the records that have it.

    Attributes:
        field: The field (``"instruction"``, ``"response"``, ``"messages"``, ``"chosen"`` ...).
        unit: ``"characters"`` (for texts) or ``"turns"`` (for ``"messages"``).
        count: How many records the statistics cover.
        min: The shortest.
        median: The median.
        mean: The mean.
        max: The longest.
    """

    field: str
    unit: str
    count: int
    min: int
    median: float
    mean: float
    max: int


@dataclass(frozen=True)
class DuplicateGroup:
    """Records that are duplicates of one another.

    Attributes:
        indices: Their 0-based positions in the input, in order.
        ids: Their record ids (``None`` where a record has none), matching ``indices``.
    """

    indices: tuple[int, ...]
    ids: tuple[str | None, ...]

    def __str__(self) -> str:
        parts = []
        for index, record_id in zip(self.indices, self.ids, strict=True):
            parts.append(f"#{index}" + (f" ({record_id})" if record_id is not None else ""))
        return ", ".join(parts)


@dataclass(frozen=True)
class Description:
    """What :func:`describe` found: categories, lengths and duplicates of a set of records.

    Duplicates compare every text of a record (for an instruction: system, instruction,
    input and response; for a conversation: each message's role, content and tool calls, and
    the tools; for a preference: prompt, chosen and rejected), never ``id`` or ``meta``.

    Attributes:
        total: Records described.
        by_type: Records per record type (``"Instruction"``, ``"Conversation"``,
            ``"Preference"``).
        by_category: Records per category, most frequent first (ties by name), with
            ``"(none)"`` last.
        category_key: How categories were found (for the report).
        lengths: Length statistics per field, in a fixed order, for fields some record has.
        exact_duplicates: Groups of records whose texts are identical, character for
            character.
        normalized_duplicates: Groups whose texts are identical after :func:`normalize_text`
            (each exact group is inside one of these).
        duplicate_prompts: Groups whose prompts (everything but the final answer) are
            identical after :func:`normalize_text`, whatever their answers: the same question
            asked twice, possibly answered differently.
    """

    total: int
    by_type: dict[str, int]
    by_category: dict[str, int]
    category_key: str
    lengths: dict[str, LengthStats]
    exact_duplicates: tuple[DuplicateGroup, ...]
    normalized_duplicates: tuple[DuplicateGroup, ...]
    duplicate_prompts: tuple[DuplicateGroup, ...]

    @staticmethod
    def _extra(groups: tuple[DuplicateGroup, ...]) -> int:
        return sum(len(group.indices) - 1 for group in groups)

    @property
    def exact_duplicate_count(self) -> int:
        """Records that repeat an earlier one exactly (each group's size minus one)."""
        return self._extra(self.exact_duplicates)

    @property
    def normalized_duplicate_count(self) -> int:
        """Records that repeat an earlier one once normalised (each group's size minus one)."""
        return self._extra(self.normalized_duplicates)

    def to_dict(self) -> dict[str, Any]:
        """The description as JSON-compatible data."""

        def groups(items: tuple[DuplicateGroup, ...]) -> list[dict[str, Any]]:
            return [{"indices": list(g.indices), "ids": list(g.ids)} for g in items]

        return {
            "total": self.total,
            "by_type": dict(self.by_type),
            "by_category": dict(self.by_category),
            "category_key": self.category_key,
            "lengths": {
                name: {
                    "unit": s.unit,
                    "count": s.count,
                    "min": s.min,
                    "median": s.median,
                    "mean": s.mean,
                    "max": s.max,
                }
                for name, s in self.lengths.items()
            },
            "exact_duplicates": groups(self.exact_duplicates),
            "normalized_duplicates": groups(self.normalized_duplicates),
            "duplicate_prompts": groups(self.duplicate_prompts),
        }

    def __str__(self) -> str:
        kinds = ", ".join(f"{count} {name}" for name, count in self.by_type.items())
        lines = [f"{self.total} records" + (f" ({kinds})" if kinds else "")]
        lines.append("")
        lines.extend(self._category_table())
        lines.append("")
        lines.extend(self._length_table())
        lines.append("")
        lines.append("duplicates (texts only; ids and meta ignored):")
        for label, groups in (
            ("exact", self.exact_duplicates),
            ("normalised (NFKC, case, spaces)", self.normalized_duplicates),
            ("same prompt, normalised", self.duplicate_prompts),
        ):
            records = sum(len(g.indices) for g in groups)
            noun = "group" if len(groups) == 1 else "groups"
            lines.append(f"  {label}: {len(groups)} {noun}, {records} records")
            for group in groups[:_SHOWN_GROUPS]:
                lines.append(f"    {group}")
            if len(groups) > _SHOWN_GROUPS:
                lines.append(f"    ... and {len(groups) - _SHOWN_GROUPS} more")
        return "\n".join(lines)

    def _category_table(self) -> list[str]:
        header = f"category ({self.category_key})"
        width = max([len(header), *(len(name) for name in self.by_category)])
        lines = [f"{header:<{width}}  {'records':>7}  {'share':>6}"]
        for name, count in self.by_category.items():
            share = count / self.total if self.total else 0.0
            lines.append(f"{name:<{width}}  {count:>7}  {share:>6.1%}")
        return lines

    def _length_table(self) -> list[str]:
        header = ("field", "unit", "records", "min", "median", "mean", "max")
        rows = [
            (
                s.field,
                s.unit,
                str(s.count),
                str(s.min),
                f"{s.median:.1f}",
                f"{s.mean:.1f}",
                str(s.max),
            )
            for s in self.lengths.values()
        ]
        if not rows:
            return ["lengths: no records"]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        out = []
        for row in [header, *rows]:
            cells = [
                cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            ]
            out.append("  ".join(cells).rstrip())
        return out


Key = Callable[[AnyRecord], object] | str | None

_FIELD_ORDER = (
    "system",
    "instruction",
    "input",
    "response",
    "messages",
    "user",
    "assistant",
    "prompt",
    "chosen",
    "rejected",
)


def _chars(messages: Iterable[Message], role: str | None = None) -> int:
    # Characters of text only: image parts are references, not text a model reads.
    return sum(
        len(content_text(m.content) or "") for m in messages if role is None or m.role == role
    )


def _measures(record: AnyRecord) -> dict[str, int]:
    if isinstance(record, Instruction):
        out = {
            "instruction": len(record.instruction),
            "input": len(record.input),
            "response": len(record.response),
        }
        if record.system is not None:
            out["system"] = len(record.system)
        return out
    if isinstance(record, Conversation):
        out = {
            "messages": len(record.messages),
            "user": _chars(record.messages, "user"),
            "assistant": _chars(record.messages, "assistant"),
        }
        system = [m for m in record.messages if m.role in EARLY_ROLES]
        if system:
            out["system"] = _chars(system)
        return out
    assert isinstance(record, Preference)
    return {
        "prompt": _chars(record.prompt),
        "chosen": _chars(record.chosen),
        "rejected": _chars(record.rejected),
    }


def _normalized(value: Any) -> Any:
    if isinstance(value, str):
        return normalize_text(value)
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    return value


def _digest(value: Any) -> int:
    # 64-bit digests keep memory to a small int per record; among a million records the odds
    # of any collision are about 3 in 100 million.
    raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


class _Dupes:
    """Finds repeated digests, keeping only the first index of each unique one."""

    def __init__(self) -> None:
        self.first: dict[int, int] = {}
        self.repeats: dict[int, list[int]] = {}

    def add(self, digest: int, index: int) -> None:
        first = self.first.setdefault(digest, index)
        if first != index:
            self.repeats.setdefault(digest, [first]).append(index)

    def groups(self, ids: list[str | None]) -> tuple[DuplicateGroup, ...]:
        out = [
            DuplicateGroup(indices=tuple(indices), ids=tuple(ids[i] for i in indices))
            for indices in self.repeats.values()
        ]
        out.sort(key=lambda g: g.indices[0])
        return tuple(out)


def _content(record: AnyRecord) -> dict[str, Any]:
    data = record.to_dict()
    data.pop("id", None)
    data.pop("meta", None)
    data["type"] = type(record).__name__
    return data


def _prompt(record: AnyRecord, content: dict[str, Any]) -> Any:
    if isinstance(record, Instruction):
        return [content["system"], content["instruction"], content["input"]]
    if isinstance(record, Conversation):
        messages = content["messages"]
        last = len(messages)
        # The prompt is everything before the final assistant turn (the answer).
        if messages and messages[-1]["role"] == "assistant":
            last -= 1
        return messages[:last]
    return content["prompt"]


def _category_of(record: AnyRecord, by: Key) -> str:
    if callable(by):
        value = by(record)
    else:
        meta = record.meta
        if by is not None:
            value = meta.get(by)
        else:
            value = meta.get("category")
            if not isinstance(value, str) or not value:
                provenance = meta.get("provenance")
                value = provenance.get("task") if isinstance(provenance, Mapping) else None
    if value is None or value == "":
        return NO_CATEGORY
    return value if isinstance(value, str) else str(value)


def describe(
    records: Iterable[AnyRecord], *, by: Key = None, progress: Progress = False
) -> Description:
    """Describe how diverse a set of records is: categories, lengths and exact duplicates.

    The records are read once (any iterable, a :func:`~instructkit.read` reader included);
    no text is kept, only a few lengths, hashes and the id of each record. Duplicates are
    found by 64-bit hashes of the texts.

    Args:
        records: Instruction, Conversation or Preference records, in any mix.
        by: How to find a record's category. ``None`` (default): ``meta["category"]`` (a
            hand-written dataset's field), else the task recorded by the template engine
            (``meta["provenance"]["task"]``), else ``"(none)"``. A string: that ``meta`` key.
            A callable: called with each record; its result (``None`` for none) is the
            category.
        progress: ``True`` shows the records described on stderr (out of ``len(records)``
            when it has one): a tqdm bar when tqdm is installed, else a plain line a few
            times a second. A callable is called with ``(records so far, total or None)``
            (see ``docs/io.md``).

    Returns:
        A :class:`Description`; ``print`` it for a small text report.

    Raises:
        ConfigurationError: an item that is not a record, or a bad ``by``.

    Example:
        >>> from instructkit import Instruction, describe
        >>> records = [
        ...     Instruction(instruction="Name a fruit.", response="Apple.",
        ...                 meta={"category": "open_qa"}),
        ...     Instruction(instruction="Name a  FRUIT.", response="apple.",
        ...                 meta={"category": "open_qa"}),
        ...     Instruction(instruction="Is this review positive? Loved it.",
        ...                 response="yes", meta={"category": "classification"}),
        ... ]
        >>> report = describe(records)
        >>> report.by_category
        {'open_qa': 2, 'classification': 1}
        >>> len(report.exact_duplicates), [g.indices for g in report.normalized_duplicates]
        (0, [(0, 1)])
        >>> report.lengths["response"].max
        6
    """
    if by is not None and not isinstance(by, str) and not callable(by):
        raise ConfigurationError(
            f"expected by to be None, a meta key or a callable, got {type(by).__name__}"
        )
    if isinstance(records, (str, bytes, Mapping, Record)):
        raise ConfigurationError(f"expected an iterable of records, got {type(records).__name__}")
    records = track(records, check_progress(progress), desc="describe", unit="records")
    by_type: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    values: dict[str, array[int]] = {}
    ids: list[str | None] = []
    exact, normal, prompts = _Dupes(), _Dupes(), _Dupes()
    for index, record in enumerate(records):
        if not isinstance(record, (Instruction, Conversation, Preference)):
            raise ConfigurationError(
                f"expected Instruction, Conversation or Preference records, got "
                f"{type(record).__name__} at position {index}"
            )
        by_type[type(record).__name__] += 1
        by_category[_category_of(record, by)] += 1
        for name, size in _measures(record).items():
            values.setdefault(name, array("q")).append(size)
        ids.append(record.id)
        content = _content(record)
        exact.add(_digest(content), index)
        normal.add(_digest(_normalized(content)), index)
        prompts.add(_digest([type(record).__name__, _normalized(_prompt(record, content))]), index)
    lengths = {
        name: LengthStats(
            field=name,
            unit="turns" if name == "messages" else "characters",
            count=len(values[name]),
            min=min(values[name]),
            median=float(statistics.median(values[name])),
            mean=statistics.fmean(values[name]),
            max=max(values[name]),
        )
        for name in _FIELD_ORDER
        if name in values
    }
    if callable(by):
        key = getattr(by, "__name__", "key function")
    elif by is not None:
        key = f"meta[{by!r}]"
    else:
        key = "meta['category'], else the task"
    return Description(
        total=len(ids),
        by_type=dict(by_type.most_common()),
        by_category=dict(
            sorted(by_category.items(), key=lambda kv: (kv[0] == NO_CATEGORY, -kv[1], kv[0]))
        ),
        category_key=key,
        lengths=lengths,
        exact_duplicates=exact.groups(ids),
        normalized_duplicates=normal.groups(ids),
        duplicate_prompts=prompts.groups(ids),
    )
