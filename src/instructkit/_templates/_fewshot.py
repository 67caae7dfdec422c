"""Few-shot prompts: seeded exemplars from a pool, a length budget, two layouts."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from instructkit._errors import ConfigurationError, DataError
from instructkit._records import Message
from instructkit._templates._hashing import draw, purpose_code, seeded, unit
from instructkit._templates._options import OptionStyle
from instructkit._templates._render import Rendered, Settings, example_id_of, render_row
from instructkit._templates._task import Task
from instructkit._templates._template import Template

__all__ = ["FewShot", "Pool", "Shots", "content_key"]


@dataclass(frozen=True)
class FewShot:
    r"""How to add solved examples (exemplars) in front of each prompt.

    Exemplars are drawn from ``pool`` by a seeded hash of the target example, never the
    target itself nor a row with the same content (every field but the target equal). With
    ``convert(..., record=Instruction)`` they are joined into one instruction, Flan style::

        {input_prefix}{exemplar instruction}{response_separator}{response_prefix}{response}
        {example_separator}
        ... more exemplars ...
        {example_separator}
        {input_prefix}{target instruction}[{response_separator}{response_prefix}]

    (the trailing cue only when ``response_prefix`` is set). With ``record=Conversation``
    each exemplar becomes an earlier user/assistant exchange and the prefixes are not used.

    Attributes:
        pool: Rows to draw exemplars from (a sequence, held in memory). Pool rows a template
            cannot render are passed over as exemplars (they are never output).
        k: How many exemplars to aim for.
        mixed_templates: Render each exemplar with a template drawn from the whole set
            (``True``), or with the target's own template (``False``, the default).
        input_prefix: Put before each instruction (``"Q: "``).
        response_prefix: Put before each exemplar's response (``"A: "``).
        response_separator: Between an exemplar's instruction and its response.
        example_separator: Between exemplars, and before the target.
        budget: Longest allowed prompt, measured by ``length``; exemplars that would push the
            prompt past it are dropped (the target is always kept). ``None``: no limit.
        length: Measures a prompt (default :func:`len`, characters). Pass a tokenizer's
            counting function to budget in tokens. In the conversation layout the prompt's
            length is the sum over the messages before the final answer.
        probability: The share of examples that get exemplars (seeded per example); the rest
            stay zero-shot, as in Flan's zero-shot/few-shot mixes.

    Example:
        >>> shots = FewShot(pool=[{"id": "p1", "q": "1+1?", "a": "2"}], k=1, input_prefix="Q: ",
        ...                 response_prefix="A: ")
        >>> shots.k
        1
    """

    pool: Sequence[Mapping[str, Any]]
    k: int
    mixed_templates: bool = False
    input_prefix: str = ""
    response_prefix: str = ""
    response_separator: str = "\n"
    example_separator: str = "\n\n"
    budget: int | None = None
    length: Callable[[str], int] = len
    probability: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ConfigurationError(f"expected k to be a positive int, got {self.k!r}")
        if isinstance(self.pool, (str, bytes)) or not isinstance(self.pool, Sequence):
            raise ConfigurationError(
                f"expected pool to be a sequence of rows, got {type(self.pool).__name__}"
            )
        if self.budget is not None and (
            isinstance(self.budget, bool) or not isinstance(self.budget, int) or self.budget < 1
        ):
            raise ConfigurationError(f"expected budget to be a positive int, got {self.budget!r}")
        if not callable(self.length):
            raise ConfigurationError(f"expected length to be callable, got {self.length!r}")
        probability = self.probability
        if (
            isinstance(probability, bool)
            or not isinstance(probability, (int, float))
            or not math.isfinite(probability)
            or not 0.0 <= probability <= 1.0
        ):
            raise ConfigurationError(
                f"expected probability to be a number in [0, 1], got {probability!r}"
            )
        for name in (
            "input_prefix",
            "response_prefix",
            "response_separator",
            "example_separator",
        ):
            if not isinstance(getattr(self, name), str):
                raise ConfigurationError(
                    f"expected {name} to be text, got {type(getattr(self, name)).__name__}"
                )


def content_key(row: Mapping[str, Any], task: Task) -> str:
    """A hash of every task field of ``row`` except the target, rationale and id.

    Two rows with the same key are duplicates for exemplar selection: showing one as an
    exemplar of the other would leak the answer.
    """
    skip = {task.target, task.rationale}
    content = {n: row.get(n) for n in task.fields if n not in skip}
    try:
        raw = orjson.dumps(content, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:
        raw = repr(sorted(content.items(), key=lambda kv: kv[0])).encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


@dataclass
class Pool:
    """A few-shot pool prepared once per conversion: ids and content keys of every row."""

    shots: FewShot
    task: Task
    id_field: str
    ids: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    usable: list[bool] = field(default_factory=list)
    rank_keys: list[str] = field(default_factory=list)
    canonical: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        for row in self.shots.pool:
            try:
                if not isinstance(row, Mapping):
                    raise TypeError
                self.ids.append(example_id_of(row, self.task, self.id_field))
                self.keys.append(content_key(row, self.task))
                self.usable.append(True)
            except (DataError, TypeError):
                self.ids.append("")
                self.keys.append("")
                self.usable.append(False)
        self.rank_keys = self._distinct_keys()
        # The pool sorted by its keys, so that the order of the pool rows does not matter.
        self.canonical = sorted(range(len(self.ids)), key=self.rank_keys.__getitem__)

    def candidates(self, example: int) -> Iterator[int]:
        """Pool indices in the seeded order of preference of the example with this hash.

        A Fisher-Yates shuffle of the sorted pool, made lazily (only the swaps it made are
        kept), so the cost per example grows with the exemplars taken, not the pool size.
        """
        code = purpose_code("exemplar")
        swapped: dict[int, int] = {}
        remaining = len(self.canonical)
        for step in range(remaining):
            other = step + draw(example, code, step) % (remaining - step)
            found = swapped.get(other, other)
            swapped[other] = swapped.get(step, step)
            yield self.canonical[found]

    def _distinct_keys(self) -> list[str]:
        # Ranking needs distinct keys: the pool ids, made unique by position where they repeat.
        seen: dict[str, int] = {}
        out = []
        for index, ex_id in enumerate(self.ids):
            count = seen.get(ex_id, 0)
            seen[ex_id] = count + 1
            out.append(ex_id if count == 0 else f"{ex_id}#{index}")
        return out


@dataclass(frozen=True)
class Shots:
    """The exemplars chosen for one rendering, already fitted to the budget."""

    exemplars: tuple[Rendered, ...]
    dropped: int


def choose_exemplars(
    pool: Pool,
    target: Rendered,
    target_row: Mapping[str, Any],
    templates: Sequence[Template],
    settings: Settings,
    *,
    with_options: bool,
) -> list[Rendered]:
    """Draw up to ``k`` renderable exemplars for ``target`` (before the length budget)."""
    shots = pool.shots
    dataset = target.dataset
    example = seeded(settings.seed, dataset).example(target.example_id)
    if shots.probability < 1.0 and (
        unit(draw(example, purpose_code(f"fewshot:{target.template.id}"))) >= shots.probability
    ):
        return []
    target_key = content_key(target_row, target.template.task)
    seen_keys = {target_key}
    style: OptionStyle | None = target.options.style if target.options is not None else None
    chosen: list[Rendered] = []
    canonical = sorted(templates, key=lambda t: t.id)
    for index in pool.candidates(example):
        if len(chosen) >= shots.k:
            break
        if not pool.usable[index]:
            continue
        if pool.ids[index] == target.example_id or pool.keys[index] in seen_keys:
            continue
        template = target.template
        if shots.mixed_templates and len(templates) > 1:
            code = purpose_code(f"exemplar-template:{len(chosen)}")
            template = canonical[draw(example, code) % len(canonical)]
        try:
            rendered = render_row(
                template,
                shots.pool[index],
                settings,
                with_options=with_options,
                example_id=pool.ids[index],
                style=style,
            )
        except DataError:
            continue
        seen_keys.add(pool.keys[index])
        chosen.append(rendered)
    return chosen


def flan_prompt(shots: FewShot, exemplars: Sequence[Rendered], target: Rendered) -> str:
    """The one-instruction few-shot prompt (see :class:`FewShot`)."""
    parts = [
        f"{shots.input_prefix}{ex.instruction}{shots.response_separator}"
        f"{shots.response_prefix}{ex.response}"
        for ex in exemplars
    ]
    last = f"{shots.input_prefix}{target.instruction}"
    if shots.response_prefix:
        last += shots.response_separator + shots.response_prefix
    parts.append(last)
    # A cue such as "A: " would otherwise end the prompt with a space the model must not copy.
    return shots.example_separator.join(parts).rstrip()


def chat_messages(exemplars: Sequence[Rendered], target: Rendered) -> list[Message]:
    """The conversation layout: exemplars as earlier user/assistant turns."""
    messages: list[Message] = []
    if target.system is not None:
        messages.append(Message(role="system", content=target.system))
    for ex in (*exemplars, target):
        messages.append(Message(role="user", content=ex.instruction))
        messages.append(Message(role="assistant", content=ex.response))
    return messages


def fit_budget(
    shots: FewShot,
    exemplars: list[Rendered],
    target: Rendered,
    *,
    conversation: bool,
) -> Shots:
    """Keep exemplars in order while the prompt stays within the budget; drop the rest."""
    if shots.budget is None:
        return Shots(tuple(exemplars), 0)
    kept: list[Rendered] = []
    dropped = 0
    for exemplar in exemplars:
        trial = [*kept, exemplar]
        if _prompt_length(shots, trial, target, conversation=conversation) <= shots.budget:
            kept.append(exemplar)
        else:
            dropped += 1
    return Shots(tuple(kept), dropped)


def _prompt_length(
    shots: FewShot, exemplars: Sequence[Rendered], target: Rendered, *, conversation: bool
) -> int:
    if conversation:
        texts = [] if target.system is None else [target.system]
        for ex in exemplars:
            texts += [ex.instruction, ex.response]
        texts.append(target.instruction)
        return sum(shots.length(t) for t in texts)
    prompt = flan_prompt(shots, exemplars, target)
    if target.system is not None:
        return shots.length(target.system) + shots.length(prompt)
    return shots.length(prompt)
