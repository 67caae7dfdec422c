"""Mixtures: examples-proportional sampling across sources, streamed, with a manifest."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from instructkit._errors import ConfigurationError
from instructkit._progress import Progress, check_progress, track
from instructkit._records import Record
from instructkit._templates._hashing import stable_unit
from instructkit._templates._render import PROVENANCE_KEY

__all__ = [
    "Mixture",
    "MixtureManifest",
    "SourceStats",
    "copies_in_mixture",
    "mix",
    "mix_key",
    "plan_mixture",
]

Source = Iterable[Record] | Callable[[], Iterable[Record]]


@dataclass
class SourceStats:
    """The plan for one source and what happened to it.

    Attributes:
        size: Examples in the source (given, ``len()``, or counted).
        rate: The source's share of the mixture, before hard limits.
        expected: How many examples the plan asks for.
        probability: Each example's expected number of copies (``expected / size``); above 1
            only with ``repeat=True``.
        limit: The hard cap, if any.
        seen: Examples read so far.
        selected: Examples (copies included) put into the mixture so far.
    """

    size: int
    rate: float
    expected: float
    probability: float
    limit: int | None = None
    seen: int = 0
    selected: int = 0

    def tolerance(self) -> float:
        """The documented bound on ``|selected - expected|``: ``4 * sqrt(expected) + 1``."""
        return 4.0 * math.sqrt(self.expected) + 1.0


@dataclass
class MixtureManifest:
    """What a mixture was asked for and what it realised.

    Complete once the mixture has been iterated to the end (:attr:`complete`).

    Attributes:
        seed: The seed.
        cap: The per-source rate cap (``None``: uncapped).
        temperature: The temperature, if any.
        total: The requested total (``None``: the sum of capped sizes).
        sources: Per-source plan and realised counts.
        by_task: Realised records per task (from ``meta["provenance"]["task"]``).
        by_template_type: Realised records per template type (``zs_opt``, ``fs_noopt`` ...).
        by_template: Realised records per template id.
        complete: Whether every source has been read to its end (or its hard limit).
    """

    seed: int
    cap: int | None
    temperature: float | None
    total: int | None
    sources: dict[str, SourceStats]
    by_task: Counter[str] = field(default_factory=Counter)
    by_template_type: Counter[str] = field(default_factory=Counter)
    by_template: Counter[str] = field(default_factory=Counter)
    complete: bool = False

    @property
    def realised(self) -> int:
        """Records in the mixture so far."""
        return sum(s.selected for s in self.sources.values())

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON-compatible data (for writing next to the mixture)."""
        return {
            "seed": self.seed,
            "cap": self.cap,
            "temperature": self.temperature,
            "total": self.total,
            "realised": self.realised,
            "complete": self.complete,
            "sources": {
                name: {
                    "size": s.size,
                    "rate": s.rate,
                    "expected": s.expected,
                    "probability": s.probability,
                    "limit": s.limit,
                    "seen": s.seen,
                    "selected": s.selected,
                }
                for name, s in self.sources.items()
            },
            "by_task": dict(sorted(self.by_task.items())),
            "by_template_type": dict(sorted(self.by_template_type.items())),
            "by_template": dict(sorted(self.by_template.items())),
        }

    def summary(self) -> str:
        """One line per source: selected of expected, and of size."""
        lines = []
        for name, s in self.sources.items():
            lines.append(f"{name}: {s.selected} selected (expected {s.expected:.1f}) of {s.size}")
        lines.append(f"total: {self.realised}")
        return "\n".join(lines)


def _check_number(name: str, value: object, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(f"expected {name} to be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ConfigurationError(
            f"expected {name} to be {'positive' if positive else 'non-negative'}, got {value!r}"
        )
    return float(value)


def plan_mixture(
    sizes: Mapping[str, int],
    *,
    cap: int | None = 3000,
    weights: Mapping[str, float] | None = None,
    temperature: float | None = None,
    limits: Mapping[str, int] | None = None,
    total: int | None = None,
    repeat: bool = False,
) -> dict[str, tuple[float, float]]:
    """How many examples each source should contribute: ``{name: (rate, expected)}``.

    A source's rate is ``min(size, cap)``, raised to ``1 / temperature`` if given, times its
    weight, normalised over the sources. The total defaults to the sum of capped sizes. A
    source never gets more than its hard limit, nor (without ``repeat``) more than its size;
    what it cannot take is shared among the others by their rates.

    Example:
        >>> plan = plan_mixture({"big": 100_000, "small": 1000}, cap=3000)
        >>> {name: round(expected) for name, (rate, expected) in plan.items()}
        {'big': 3000, 'small': 1000}
    """
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise ConfigurationError(f"expected cap to be a positive int or None, got {cap!r}")
    weights = dict(weights or {})
    limits = dict(limits or {})
    for mapping, what in ((weights, "weights"), (limits, "limits")):
        unknown = sorted(set(mapping) - set(sizes))
        if unknown:
            raise ConfigurationError(
                f"expected {what} keys among the sources {sorted(sizes)}, got {unknown}"
            )
    inverse_t = 1.0
    if temperature is not None:
        inverse_t = 1.0 / _check_number("temperature", temperature)
    rates: dict[str, float] = {}
    for name, size in sizes.items():
        base = min(size, cap) if cap is not None else size
        weight = _check_number(f"weights[{name!r}]", weights.get(name, 1.0), positive=False)
        rates[name] = (base**inverse_t if base > 0 else 0.0) * weight
    for name, limit in limits.items():
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigurationError(f"expected limits[{name!r}] to be an int >= 0, got {limit!r}")
    if total is None:
        goal = float(sum(min(s, cap) if cap is not None else s for s in sizes.values()))
    else:
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ConfigurationError(f"expected total to be an int >= 0, got {total!r}")
        goal = float(total)
    norm = sum(rates.values())
    shares = {name: (rate / norm if norm > 0 else 0.0) for name, rate in rates.items()}
    upper = {
        name: float(min(limits.get(name, math.inf), math.inf if repeat else sizes[name]))
        for name in sizes
    }
    # Water-filling: give every open source its share of what is left; a source that hits
    # its upper bound is fixed there and the rest is shared again among the others.
    expected = {name: 0.0 for name in sizes}
    open_names = {name for name in sizes if rates[name] > 0}
    remaining = goal
    while open_names and remaining > 1e-9:
        weight_sum = sum(rates[n] for n in open_names)
        offers = {n: remaining * rates[n] / weight_sum for n in open_names}
        full = {n for n in open_names if expected[n] + offers[n] >= upper[n]}
        if not full:
            for n in open_names:
                expected[n] += offers[n]
            break
        for n in full:
            remaining -= upper[n] - expected[n]
            expected[n] = upper[n]
        open_names -= full
    return {name: (shares[name], expected[name]) for name in sizes}


def mix_key(record: Any) -> str:
    """What identifies a record in a mixture's seeded choice: its id, else a hash of its data.

    Raises:
        ConfigurationError: neither a record nor JSON data.
    """
    record_id = getattr(record, "id", None)
    if isinstance(record_id, str) and record_id:
        return record_id
    try:
        data = record.to_dict() if hasattr(record, "to_dict") else record
        raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError as err:
        raise ConfigurationError(
            f"expected records (or JSON data) in mixture sources, got {type(record).__name__}"
        ) from err
    return "h" + hashlib.blake2b(raw, digest_size=8).hexdigest()


def copies_in_mixture(seed: int, source: str, key: str, probability: float) -> int:
    """How many times the record ``key`` of ``source`` is in a mixture (0 when left out).

    The whole part of ``probability`` always, plus one more with the probability of its
    fraction, by a seeded hash of ``(seed, source, key)``: the choice depends on nothing
    else, so any order or split of a source gives the same records.
    """
    u = stable_unit(seed, source, key, "mix")
    whole = math.floor(probability)
    return whole + (1 if u < probability - whole else 0)


class Mixture:
    """A streamed mixture: iterate it once for the records; read :attr:`manifest` after.

    Records of all sources are interleaved in proportion to their expected counts, reading
    each source lazily (memory stays bounded by the number of sources).
    """

    def __init__(
        self,
        sources: dict[str, Source],
        manifest: MixtureManifest,
        *,
        progress: Progress = False,
    ) -> None:
        self._sources = sources
        self._progress = progress
        self.manifest = manifest
        """The plan and the realised counts (complete after a full iteration)."""
        self._used = False

    def __iter__(self) -> Iterator[Record]:
        if self._used:
            raise ConfigurationError("expected a mixture to be iterated once, got a second pass")
        self._used = True
        # The plan's expected size is the total shown; the last update gives the real count.
        planned = round(sum(stats.expected for stats in self.manifest.sources.values()))
        return iter(
            track(self._stream(), self._progress, desc="mix", unit="records", total=planned)
        )

    def _stream(self) -> Iterator[Record]:
        manifest = self.manifest
        iterators: dict[str, Iterator[Any]] = {}
        for name, source in self._sources.items():
            stats = manifest.sources[name]
            if stats.expected <= 0 or stats.limit == 0:
                continue
            produced = source() if callable(source) else source
            iterators[name] = iter(produced)
        pending: dict[str, list[Any]] = {name: [] for name in iterators}
        while iterators:
            for name in list(iterators):
                if not pending[name] and not self._refill(name, iterators[name], pending[name]):
                    del iterators[name]
            if not iterators:
                break
            # Smooth interleaving: the source furthest behind its expected share goes next.
            name = min(
                iterators,
                key=lambda n: (
                    (manifest.sources[n].selected + 0.5) / manifest.sources[n].expected,
                    n,
                ),
            )
            record = pending[name].pop()
            stats = manifest.sources[name]
            stats.selected += 1
            self._count(record)
            yield record
            if stats.limit is not None and stats.selected >= stats.limit:
                del iterators[name]
        manifest.complete = True

    def _refill(self, name: str, iterator: Iterator[Any], pending: list[Any]) -> bool:
        stats = self.manifest.sources[name]
        seed = self.manifest.seed
        for record in iterator:
            stats.seen += 1
            copies = copies_in_mixture(seed, name, mix_key(record), stats.probability)
            if copies:
                pending.extend([record] * copies)
                return True
        return False

    def _count(self, record: Any) -> None:
        meta = getattr(record, "meta", None)
        provenance = meta.get(PROVENANCE_KEY) if isinstance(meta, Mapping) else None
        if not isinstance(provenance, Mapping):
            provenance = {}
        manifest = self.manifest
        manifest.by_task[str(provenance.get("task", "(unknown)"))] += 1
        manifest.by_template_type[str(provenance.get("template_type", "(unknown)"))] += 1
        manifest.by_template[str(provenance.get("template_id", "(unknown)"))] += 1


def _size_of(name: str, source: Source, sizes: Mapping[str, int]) -> int:
    if name in sizes:
        size = sizes[name]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ConfigurationError(f"expected sizes[{name!r}] to be an int >= 0, got {size!r}")
        return size
    if hasattr(source, "__len__"):
        return len(source)  # type: ignore[arg-type]
    if callable(source):
        # One counting pass over a fresh stream: memory stays bounded, the data is read twice.
        return sum(1 for _ in source())
    raise ConfigurationError(
        f"expected the size of source {name!r}: pass sizes={{{name!r}: n}}, a sequence, or a "
        "callable returning a fresh iterator (a one-shot iterator cannot be counted and read)"
    )


def mix(
    sources: Mapping[str, Source],
    *,
    seed: int,
    cap: int | None = 3000,
    weights: Mapping[str, float] | None = None,
    temperature: float | None = None,
    limits: Mapping[str, int] | None = None,
    total: int | None = None,
    sizes: Mapping[str, int] | None = None,
    repeat: bool = False,
    progress: Progress = False,
) -> Mixture:
    """Mix record streams, examples-proportionally with a per-source cap, as Flan does.

    Each source's expected contribution comes from :func:`plan_mixture`. Each record is then
    kept by a seeded hash of ``(seed, source name, record id)``: it is kept with probability
    ``expected / size`` (with ``repeat=True`` and a probability above 1, it is copied that
    many times on average). The choice does not depend on the order of the stream, and
    realised counts match the plan within ``4 * sqrt(expected) + 1`` per source (a
    binomial's 4 standard deviations; see ``docs/templates.md``). Hard ``limits`` are exact
    upper bounds: a source stops being read when it reaches its limit.

    Args:
        sources: Name to records: a sequence, an iterable, or a callable returning a fresh
            iterable (which may be called twice: once to count, once to read).
        seed: The seed.
        cap: Caps each source's rate at this many examples (Flan's 3000); ``None``: no cap.
        weights: Multiply sources' rates (default 1).
        temperature: Rates become ``min(size, cap) ** (1 / temperature)``; above 1 it evens
            out sources.
        limits: Hard caps on records taken per source.
        total: The mixture's target size (default: the sum of capped sizes).
        sizes: Sizes of sources that have no ``len()``.
        repeat: Let a source contribute more records than it has, by repeating them.
        progress: ``True`` shows the records selected on stderr while the mixture is
            iterated, out of the planned size (an estimate: the last update gives the real
            count): a tqdm bar when tqdm is installed, else a plain line a few times a
            second. A callable is called with ``(records so far, planned size)`` (see
            ``docs/templates.md``).

    Returns:
        The mixture: iterate it once; its :attr:`Mixture.manifest` holds the plan and the
        realised counts per source, task and template type.

    Raises:
        ConfigurationError: a bad argument, or a one-shot source without a size.

    Example:
        >>> from instructkit import Instruction, mix
        >>> rows = {"a": [Instruction(instruction=f"q{i}", response="r", id=f"a{i}")
        ...               for i in range(50)],
        ...         "b": [Instruction(instruction=f"q{i}", response="r", id=f"b{i}")
        ...               for i in range(10)]}
        >>> mixture = mix(rows, seed=0, cap=20)
        >>> records = list(mixture)
        >>> mixture.manifest.sources["b"].selected
        10
    """
    if not isinstance(sources, Mapping) or not sources:
        raise ConfigurationError("expected sources to be a non-empty mapping of name to records")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigurationError(f"expected seed to be an int, got {seed!r}")
    progress = check_progress(progress)
    given = dict(sizes or {})
    unknown = sorted(set(given) - set(sources))
    if unknown:
        raise ConfigurationError(f"expected sizes keys among the sources, got {unknown}")
    resolved = {name: _size_of(name, source, given) for name, source in sources.items()}
    plan = plan_mixture(
        resolved,
        cap=cap,
        weights=weights,
        temperature=temperature,
        limits=limits,
        total=total,
        repeat=repeat,
    )
    stats = {
        name: SourceStats(
            size=resolved[name],
            rate=rate,
            expected=expected,
            probability=(expected / resolved[name]) if resolved[name] else 0.0,
            limit=(limits or {}).get(name),
        )
        for name, (rate, expected) in plan.items()
    }
    manifest = MixtureManifest(
        seed=seed,
        cap=cap,
        temperature=temperature,
        total=total,
        sources=stats,
    )
    return Mixture(dict(sources), manifest, progress=progress)
