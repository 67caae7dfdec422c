"""Rendering one row with one template: field texts, options, the answer, provenance.

A row's values are checked and turned into text in ``_row_values``. The rest is one module
because it is one seeded pass: the settings, the picks of alternatives and option styles, the
provenance that records them and the record built from it must agree, and each reads the
others' choices.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from instructkit._errors import ConfigurationError, DataError, TemplateError
from instructkit._limits import INT_MAX, INT_MIN
from instructkit._records import Instruction, JsonValue, construct_record
from instructkit._templates._hashing import draw, purpose_code, seeded, shuffled
from instructkit._templates._options import (
    DEFAULT_OPTION_STYLES,
    OptionStyle,
    RenderedOptions,
    render_options,
    resolve_style,
)
from instructkit._templates._row_values import (
    gold_index,
    label_space,
    missing_field,
    scalar_text,
    text_list,
)
from instructkit._templates._task import OPTIONS_PLACEHOLDER, Task
from instructkit._templates._template import LabelSpace, Template, compiled
from instructkit._version import __version__

__all__ = [
    "DATASET_FIELD",
    "PROVENANCE_KEY",
    "Prepared",
    "Rendered",
    "Settings",
    "candidate_styles",
    "check_dataset",
    "check_marker_variant",
    "example_id_of",
    "fixed_options",
    "identity",
    "instruction_record",
    "purpose",
    "render",
    "render_row",
    "resolve_styles",
    "sorted_positions",
    "style_order",
]

PROVENANCE_KEY = "provenance"
"""The ``meta`` key under which every rendered record carries its provenance dict."""

DATASET_FIELD = "dataset"
"""The row key naming the dataset a row comes from (:func:`~instructkit.adapt` sets it)."""


@dataclass(frozen=True)
class Settings:
    """The call-level choices shared by :func:`render` and :func:`~instructkit.convert`."""

    seed: int = 0
    dataset: str | None = None
    styles: tuple[OptionStyle, ...] = ()
    shuffle_options: bool = False
    id_field: str = "id"

    @classmethod
    def checked(
        cls,
        *,
        seed: object,
        dataset: object,
        option_styles: Sequence[str | OptionStyle] | str | OptionStyle | None,
        shuffle_options: object,
        id_field: str,
    ) -> Settings:
        """The settings a caller's arguments give, each checked.

        Raises:
            ConfigurationError: a seed that is not an int, a dataset that is not text, or
                option styles :func:`resolve_styles` refuses.
        """
        return cls(
            seed=check_seed(seed),
            dataset=check_dataset(dataset),
            styles=resolve_styles(option_styles),
            shuffle_options=bool(shuffle_options),
            id_field=id_field,
        )

    def dataset_for(self, task: Task, row: Mapping[str, Any] | None = None) -> str:
        """The dataset name used for hashing and provenance.

        The row's own ``dataset`` (as :func:`~instructkit.adapt` stamps it) when it has one,
        else ``dataset=``, else the task name. A task with a field named ``dataset`` keeps
        that field as data.

        Raises:
            TemplateError: the row's dataset is not non-empty text, or contradicts
                ``dataset=``.
        """
        named = None if row is None or DATASET_FIELD in task.fields else row.get(DATASET_FIELD)
        if named is None:
            return self.dataset if self.dataset is not None else task.name
        if not isinstance(named, str) or not named or not _utf8(named):
            raise TemplateError(
                f"expected the row's dataset name to be non-empty text, got {named!r}",
                loc=f"$.{DATASET_FIELD}",
            )
        if self.dataset is not None and named != self.dataset:
            # Every seeded choice hashes the dataset name, so guessing either would change
            # the picks without a word.
            raise TemplateError(
                f"expected the row's dataset to agree with dataset={self.dataset!r}, got "
                f"{named!r}; pass dataset=None to use the names the rows carry",
                loc=f"$.{DATASET_FIELD}",
            )
        return named


def resolve_styles(
    styles: Sequence[str | OptionStyle] | str | OptionStyle | None,
) -> tuple[OptionStyle, ...]:
    """The call-level option styles (``None``: :data:`DEFAULT_OPTION_STYLES`).

    Raises:
        ConfigurationError: an unknown name, an empty list, or two styles with one name.
    """
    if styles is None:
        styles = DEFAULT_OPTION_STYLES
    if isinstance(styles, (str, OptionStyle)):
        styles = (styles,)
    resolved = tuple(resolve_style(s) for s in styles)
    names = [s.name for s in resolved]
    if not resolved:
        raise ConfigurationError("expected at least one option style, got none")
    if len(set(names)) != len(names):
        raise ConfigurationError(f"expected distinct option style names, got {names}")
    return resolved


def check_seed(seed: object) -> int:
    """Return ``seed`` if it is an int (not a bool) within the integers records may hold.

    The seed goes into every record's provenance and into the hashes that pick options
    and exemplars, so it must be an integer JSON keeps exactly (64 bits, see
    :mod:`instructkit._limits`).

    Raises:
        ConfigurationError: any other value.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigurationError(f"expected seed to be an int, got {seed!r}")
    if not INT_MIN <= seed <= INT_MAX:
        raise ConfigurationError(
            f"expected seed to be an int from {INT_MIN} to {INT_MAX} (64 bits), got {seed}"
        )
    return seed


def check_dataset(dataset: object) -> str | None:
    """Return ``dataset`` if it is text or ``None``.

    Raises:
        ConfigurationError: any other value (it goes into record ids and provenance).
    """
    if dataset is not None and (not isinstance(dataset, str) or not _utf8(dataset)):
        raise ConfigurationError(
            f"expected dataset to be text (encodable as UTF-8) or None, got {dataset!r}"
        )
    return dataset


def example_id_of(row: Mapping[str, Any], task: Task, id_field: str) -> str:
    """The example's id: ``row[id_field]`` as text, or a hash of the task fields present.

    A content hash keeps the id independent of the row's position, so an input without ids
    still renders the same in any order or shard (identical rows share an id).

    Raises:
        TemplateError: the id is neither text nor an int, or the row is not JSON data.
    """
    value = row.get(id_field)
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TemplateError(
                f"expected the example id to be text or an int, got {type(value).__name__}",
                loc=f"$.{id_field}",
            )
        text = str(value)
        if not (text.isascii() or _utf8(text)):
            # Caught here: the id is hashed as JSON for every seeded choice.
            raise TemplateError(
                f"expected an example id encodable as UTF-8, got {text!r} (a lone surrogate)",
                loc=f"$.{id_field}",
            )
        if text:
            return text
    content = {name: row[name] for name in task.fields if name in row}
    try:
        raw = orjson.dumps(content, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError as err:
        raise TemplateError(f"expected JSON-compatible field values, got {err}", loc="$") from err
    return "h" + hashlib.blake2b(raw, digest_size=8).hexdigest()


@dataclass
class Rendered:
    """One row rendered with one template, before it becomes a record (never changed after).

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, a cost
    paid for every rendering.
    """

    template: Template
    example_id: str
    dataset: str
    system: str | None
    instruction: str
    response: str
    options: RenderedOptions | None
    order: tuple[JsonValue, ...] | None
    picks: dict[str, int] = field(default_factory=dict)

    @property
    def template_type(self) -> str:
        """``"zs_opt"`` or ``"zs_noopt"`` (few-shot renders change the prefix to ``fs``)."""
        return "zs_opt" if self.options is not None else "zs_noopt"

    def provenance(
        self, seed: int, exemplar_ids: Sequence[str] = (), dropped: int = 0
    ) -> dict[str, JsonValue]:
        """The provenance dict stored under ``meta["provenance"]`` (always the same keys)."""
        template = self.template
        plan = compiled(template)
        options: JsonValue = None
        if self.options is not None:
            options = {
                "style": self.options.style.name,
                "order": list(self.order or ()),
                "target": self.options.style.target,
            }
        kind = self.template_type
        if exemplar_ids:
            kind = "fs" + kind[2:]
        out: dict[str, JsonValue] = {
            "task": template.task.name,
            "cluster": template.task.cluster,
            "dataset": self.dataset,
            "example_id": self.example_id,
            "template_id": template.id,
            "template_hash": plan.content_hash,
            "inverted": template.inverted,
            "language": template.language,
            "template_type": kind,
            "cot": plan.cot,
            "options": options,
            "exemplar_ids": list(exemplar_ids),
            "exemplars_dropped": dropped,
            "picks": dict(self.picks),
            "seed": seed,
            "version": __version__,
        }
        return out

    def record_id(self) -> str:
        """The output record's id: ``dataset/example id/template id``."""
        return f"{self.dataset}/{self.example_id}/{self.template.id}"


@functools.lru_cache(maxsize=4096)
def sorted_positions(keys: tuple[str, ...]) -> tuple[int, ...]:
    """The positions of ``keys`` in the order of the keys.

    A seeded order starts from it, so that it does not depend on the order the keys were
    listed in.
    """
    return tuple(sorted(range(len(keys)), key=keys.__getitem__))


_STYLE_ORDERS: dict[int, tuple[tuple[OptionStyle, ...], tuple[int, ...]]] = {}


def style_order(candidates: tuple[OptionStyle, ...]) -> tuple[int, ...]:
    """:func:`sorted_positions` of the styles' names: a style is drawn from this order."""
    # Keyed by the tuple's identity (hashing styles hashes all their fields); the entry
    # holds the tuple, so its identity is not reused while the entry exists.
    found = _STYLE_ORDERS.get(id(candidates))
    if found is None or found[0] is not candidates:
        if len(_STYLE_ORDERS) >= 4096:
            _STYLE_ORDERS.clear()
        found = _STYLE_ORDERS[id(candidates)] = (
            candidates,
            sorted_positions(tuple(s.name for s in candidates)),
        )
    return found[1]


@functools.lru_cache(maxsize=256)
def identity(count: int) -> tuple[int, ...]:
    """``(0, 1, ..., count - 1)``: the order of options that are not shuffled."""
    return tuple(range(count))


@functools.lru_cache(maxsize=4096)
def purpose(prefix: str, name: str) -> int:
    """The purpose code of ``f"{prefix}:{name}"`` (``name``: a template id, a field name)."""
    # Cached: the same few repeat for every row of a dataset.
    return purpose_code(f"{prefix}:{name}")


_FIXED_OPTIONS: dict[tuple[int, tuple[str, ...], int | None], RenderedOptions] = {}


def fixed_options(
    style: OptionStyle, shown: tuple[str, ...], answer: int | None
) -> RenderedOptions:
    """:func:`render_options` of a fixed label space's texts, made once and kept."""
    # A fixed label space has few orders and styles, so its blocks repeat row after row.
    # Keyed by the style's identity (hashing a style hashes all its fields); the block
    # keeps its style alive, so the identity is not reused while the entry exists.
    key = (id(style), shown, answer)
    found = _FIXED_OPTIONS.get(key)
    if found is None:
        if len(_FIXED_OPTIONS) >= 4096:
            _FIXED_OPTIONS.clear()
        found = _FIXED_OPTIONS[key] = render_options(style, shown, answer=answer)
    return found


@functools.cache
def _default_styles() -> tuple[OptionStyle, ...]:
    return resolve_styles(None)


def candidate_styles(template: Template, settings: Settings) -> tuple[OptionStyle, ...]:
    """The option styles a row's style is drawn from: the template's, else the call's."""
    return compiled(template).styles or settings.styles or _default_styles()


def _pick_style(
    template: Template,
    styles: tuple[OptionStyle, ...],
    settings: Settings,
    example: int,
) -> OptionStyle:
    candidates = styles or settings.styles or _default_styles()
    if len(candidates) == 1:
        return candidates[0]
    canonical = style_order(candidates)
    pick = draw(example, purpose("options-style", template.id)) % len(candidates)
    return candidates[canonical[pick]]


def check_marker_variant(template: Template, *, with_options: bool | float) -> None:
    """Refuse to render a marker-answer template without its options block.

    A template whose option styles all answer with a marker (``"letters-answer"``) asks for
    a letter or a number; without the options block the answer would refer to nothing.

    Args:
        template: The template.
        with_options: ``True`` (or a probability of 1) when options are always shown.

    Raises:
        ConfigurationError: the template is marker-only and would render without options.
    """
    if not template.marker_only:
        return
    names = [style.name for style in template.styles]
    if not template.uses_options or not template.task.has_label_space:
        reason = (
            "has no {options} block"
            if not template.uses_options
            else f"its task {template.task.name!r} has no label space"
        )
        raise ConfigurationError(
            f"template {template.id!r} answers with an option marker (options_style {names}) "
            f"but {reason}, so the answer would refer to nothing: show {{options}} or use a "
            "style that answers with the option text"
        )
    if float(with_options) < 1.0:
        raise ConfigurationError(
            f"template {template.id!r} answers with an option marker (options_style {names}), "
            "so it has no without-options variant: render it with options=True, or add a style "
            "that answers with the option text"
        )


def render_row(
    template: Template,
    row: Mapping[str, Any],
    settings: Settings,
    *,
    with_options: bool,
    example_id: str | None = None,
    example: int | None = None,
    dataset: str | None = None,
    style: OptionStyle | None = None,
) -> Rendered:
    """Render ``row`` with ``template`` (the engine behind :func:`render` and ``convert``).

    Args:
        template: The template.
        row: The example's fields.
        settings: Seed, dataset name, default option styles, shuffling, id field.
        with_options: Render the with-options variant (else the without-options one).
        example_id: The example id, if already known.
        example: The example's hash under ``(seed, dataset)`` (see ``_hashing``), if
            already known.
        dataset: The row's dataset name (``settings.dataset_for(task, row)``), if already
            known.
        style: Force this option style (few-shot exemplars follow their target's style).

    Returns:
        The rendered texts with what is needed for provenance.

    Raises:
        TemplateError: the row lacks a field, has a value of the wrong kind, a label outside
            the label space, or renders an empty text.
    """
    if row.__class__ is not dict and not isinstance(row, Mapping):
        raise TemplateError(
            f"expected a row mapping field names to values, got {type(row).__name__}"
        )
    plan = compiled(template)
    task = template.task
    if dataset is None:
        dataset = settings.dataset_for(task, row)
    ex_id = example_id if example_id is not None else example_id_of(row, task, settings.id_field)
    if example is None:
        example = seeded(settings.seed, dataset).example(ex_id)
    used = plan.used
    labelled = task.labels is not None or task.choices is not None
    shows_options = with_options and plan.uses_options and labelled
    needs_gold = labelled and task.target in used
    space: LabelSpace | None = None
    gold: int | None = None
    if labelled and (shows_options or needs_gold):
        space = label_space(template, task, row)
        if needs_gold:
            gold = gold_index(task, row, space)
    options: RenderedOptions | None = None
    order: tuple[JsonValue, ...] | None = None
    text_values: dict[str, str] = {}
    if shows_options:
        assert space is not None
        chosen = (
            style if style is not None else _pick_style(template, plan.styles, settings, example)
        )
        options, order = _options_block(
            template, space, gold, chosen, settings, example, fixed=plan.labels is not None
        )
        text_values[OPTIONS_PLACEHOLDER] = options.block
    elif plan.uses_options:
        text_values[OPTIONS_PLACEHOLDER] = ""
    picks = _field_texts(task, row, used, space, gold, example, text_values)
    response_values = text_values
    if options is not None and options.answer is not None and task.target in used:
        if options.answer not in options.answers:  # pragma: no cover - guarded invariant
            raise TemplateError(
                f"template {template.id!r}: the answer {options.answer!r} is not one of the "
                f"rendered options {list(options.answers)}"
            )
        response_values = {**text_values, task.target: options.answer}
    texts: dict[str, str | None] = {"system": None}
    for part, pattern in plan.patterns.items():
        rendered = (pattern.formatted if shows_options else pattern.plain_formatted).format_map(
            response_values if part == "response" else text_values
        )
        if not rendered.strip():
            raise TemplateError(
                f"template {template.id!r}: expected a non-blank {part}, got {rendered!r} "
                "for this row",
                loc="$",
            )
        texts[part] = rendered
    return Rendered(
        template=template,
        example_id=ex_id,
        dataset=dataset,
        system=texts["system"],
        instruction=texts.get("instruction") or "",
        response=texts.get("response") or "",
        options=options,
        order=order,
        picks=picks,
    )


_Shown = tuple[str, str | None, str, tuple[JsonValue, ...], str]
"""An options block as a prepared rendering shows it: the block, the response's target
(``None``: the target's own text), and the style name, order and target for provenance."""

_INVALID = "\x00invalid answer"
"""A stand-in for an answer outside the rendered options (never made: a guarded invariant)."""


class Prepared:
    """One template under one call's settings, with everything constant for it worked out once.

    The per-row path of :func:`~instructkit.convert` renders a row straight into its record
    with it: the patterns, option styles and their draws, the fixed options blocks and the
    constant part of the provenance are looked up instead of made again for every row, and
    no :class:`Rendered` is built in between. It does only what :func:`render_row` followed
    by :meth:`Rendered.provenance` and :func:`instruction_record` does, and gives the same
    record; for anything it does not take on (a row that will be rejected, a few-shot
    target) the caller takes that straightforward path, so errors stay the ones it raises.
    """

    __slots__ = (
        "_blocks",
        "_candidates",
        "_canonical",
        "_fixed",
        "_gold",
        "_gold_field",
        "_label",
        "_labelled",
        "_needs_gold",
        "_other",
        "_patterns",
        "_plain",
        "_provenance",
        "_settings",
        "_shows",
        "_simple_options",
        "_space",
        "_suffix",
        "_target",
        "_task",
        "_text",
        "_uses_options",
        "style_code",
        "template",
    )

    def __init__(self, template: Template, settings: Settings) -> None:
        plan = compiled(template)
        task = template.task
        used = plan.used
        self.template = template
        self._task = task
        self._gold_field = task.target
        self._settings = settings
        labelled = task.labels is not None or task.choices is not None
        self._labelled = labelled
        self._uses_options = plan.uses_options
        self._shows = plan.uses_options and labelled
        self._needs_gold = labelled and task.target in used
        # The response sees the options' answer only when it uses the target.
        self._target = task.target if task.target in used else None
        # Text fields are the common case and go in as they are, and the target label is
        # the gold label's text; the other kinds (alternatives, numbers, lists, a second
        # label) take _field_texts, in the template's order.
        kinds = {n: task.fields[n] for n in used if n != OPTIONS_PLACEHOLDER}
        self._label = task.target if kinds.get(task.target) == "label" else None
        self._text = tuple(n for n, kind in kinds.items() if kind == "text")
        self._other = tuple(n for n, kind in kinds.items() if kind != "text" and n != self._label)
        # (system or None, instruction, response) as format_map patterns, with options and
        # without (a template always has the instruction and response patterns).
        patterns = plan.patterns
        system = patterns.get("system")
        self._patterns = (
            None if system is None else system.formatted,
            patterns["instruction"].formatted,
            patterns["response"].formatted,
        )
        self._plain = (
            None if system is None else system.plain_formatted,
            patterns["instruction"].plain_formatted,
            patterns["response"].plain_formatted,
        )
        candidates = candidate_styles(template, settings)
        self._candidates = candidates
        self._canonical = style_order(candidates)
        self.style_code = purpose("options-style", template.id)
        labels = plan.labels
        self._space = labels
        # gold_index's test (equal and of the same type) as one dict lookup; a label value
        # the dict does not hold goes to gold_index, which finds it or says why not.
        self._gold: dict[tuple[type, object], int] | None = None
        if labels is not None and task.labels is not None:
            self._gold = {(type(v), v): i for i, v in enumerate(labels.values)}
        self._fixed = labels is not None
        self._simple_options = labels is not None and not settings.shuffle_options
        self._blocks: dict[tuple[int, int | None], _Shown] = {}
        self._suffix = f"/{template.id}"
        constant: dict[str, JsonValue] = {
            "task": task.name,
            "cluster": task.cluster,
            "dataset": None,
            "example_id": None,
            "template_id": template.id,
            "template_hash": plan.content_hash,
            "inverted": template.inverted,
            "language": template.language,
            "template_type": None,
            "cot": plan.cot,
            "options": None,
            "exemplar_ids": None,
            "exemplars_dropped": 0,
            "picks": None,
            "seed": settings.seed,
            "version": __version__,
        }
        # Copied per record (a copy in C keeps the key order); only what differs is set.
        self._provenance = (
            {**constant, "template_type": "zs_noopt"},
            {**constant, "template_type": "zs_opt"},
        )

    def _shown(
        self,
        options: RenderedOptions,
        order: tuple[JsonValue, ...],
        space: LabelSpace,
        gold: int | None,
    ) -> _Shown:
        answer: str | None = options.answer
        if answer is None or self._target is None:
            answer = None
        elif answer not in options.answers:  # pragma: no cover - guarded invariant
            answer = _INVALID
        elif self._target == self._label and gold is not None and answer == space.texts[gold]:
            answer = None  # the target's text already
        style = options.style
        return (options.block, answer, style.name, order, style.target)

    def record(
        self,
        row: Mapping[str, Any],
        with_options: bool,
        example_id: str,
        example: int,
        dataset: str,
        style: int | None = None,
    ) -> Instruction | None:
        """The zero-shot record of ``row``, or ``None``: the row takes :func:`render_row`.

        The arguments are those of :func:`render_row` (positional: this runs per row), and
        ``style``, the option-style draw (``draw(example, self.style_code)``) when it was
        made already.
        """
        template = self.template
        task = self._task
        shows = with_options and self._shows
        space: LabelSpace | None = None
        gold: int | None = None
        try:
            if self._labelled and (shows or self._needs_gold):
                space = self._space or label_space(template, task, row)
                if self._needs_gold:
                    gold = None
                    if self._gold is not None:
                        value = row.get(self._gold_field)
                        try:
                            gold = self._gold.get((value.__class__, value))
                        except TypeError:  # an unhashable value: gold_index says why
                            gold = None
                    if gold is None:
                        gold = gold_index(task, row, space)
            values: dict[str, str] = {}
            if self._label is not None:
                assert space is not None
                assert gold is not None
                values[self._label] = space.texts[gold]
            for name in self._text:
                value = row.get(name)
                if value.__class__ is not str:
                    return None
                values[name] = value
            # Shown options: the block, what the response's target becomes (None: as it is)
            # and the provenance's style, order and target.
            shown: _Shown | None = None
            if shows:
                assert space is not None
                candidates = self._candidates
                if len(candidates) == 1:
                    pick = 0
                else:
                    if style is None:
                        style = draw(example, self.style_code)
                    pick = self._canonical[style % len(candidates)]
                if self._simple_options:
                    key = (pick, gold)
                    shown = self._blocks.get(key)
                    if shown is None:
                        options = fixed_options(candidates[pick], space.texts, gold)
                        shown = self._blocks[key] = self._shown(
                            options, identity(len(space.texts)), space, gold
                        )
                else:
                    options, order = _options_block(
                        template,
                        space,
                        gold,
                        candidates[pick],
                        self._settings,
                        example,
                        fixed=self._fixed,
                    )
                    shown = self._shown(options, order, space, gold)
                values[OPTIONS_PLACEHOLDER] = shown[0]
            elif self._uses_options:
                values[OPTIONS_PLACEHOLDER] = ""
            picks: dict[str, Any] = (
                _field_texts(task, row, self._other, space, gold, example, values)
                if self._other
                else {}
            )
        except DataError:
            return None
        response_values = values
        if shown is not None and shown[1] is not None:
            if shown[1] is _INVALID:  # pragma: no cover - guarded invariant
                return None
            response_values = {**values, self._target: shown[1]}  # type: ignore[dict-item]
        # A blank part (`not text.strip()`, tested without a copy) is left to render_row,
        # which names the first one in the template's order.
        system_pattern, instruction_pattern, response_pattern = (
            self._patterns if shows else self._plain
        )
        instruction = instruction_pattern.format_map(values)
        if not instruction or instruction.isspace():
            return None
        response = response_pattern.format_map(response_values)
        if not response or response.isspace():
            return None
        system: str | None = None
        if system_pattern is not None:
            system = system_pattern.format_map(values)
            if not system or system.isspace():
                return None
        provenance = self._provenance[shown is not None].copy()
        provenance["dataset"] = dataset
        provenance["example_id"] = example_id
        if shown is not None:
            provenance["options"] = {"style": shown[2], "order": list(shown[3]), "target": shown[4]}
        provenance["exemplar_ids"] = []
        provenance["picks"] = picks
        return instruction_record(
            instruction,
            response,
            system,
            dataset + "/" + example_id + self._suffix,
            {PROVENANCE_KEY: provenance},
        )


def _options_block(
    template: Template,
    space: LabelSpace,
    gold: int | None,
    style: OptionStyle,
    settings: Settings,
    example: int,
    *,
    fixed: bool,
) -> tuple[RenderedOptions, tuple[JsonValue, ...]]:
    """The options block in its (possibly shuffled) order, and that order for provenance."""
    if fixed and not settings.shuffle_options:
        # The common case: the labels in their own order, one block per (style, answer).
        return fixed_options(style, space.texts, gold), identity(len(space.texts))
    positions = list(range(len(space.texts)))
    if settings.shuffle_options:
        # Shuffled from the labels sorted by key, so their listed order does not matter.
        canonical = sorted_positions(space.keys)
        code = purpose("options-order", template.id)
        positions = [canonical[i] for i in shuffled(example, code, len(canonical))]
    shown = tuple([space.texts[i] for i in positions])
    answer = positions.index(gold) if gold is not None else None
    if fixed:
        return fixed_options(style, shown, answer), tuple(positions)
    return render_options(style, shown, answer=answer), tuple(positions)


def _field_texts(
    task: Task,
    row: Mapping[str, Any],
    used: tuple[str, ...],
    space: LabelSpace | None,
    gold: int | None,
    example: int,
    out: dict[str, str],
) -> dict[str, int]:
    """Put the text of every field the template uses into ``out``; return the picks made.

    A picked alternative is recorded (by index) only when there was a choice.
    """
    picks: dict[str, int] = {}
    fields = task.fields
    for name in used:
        if name == OPTIONS_PLACEHOLDER:
            continue
        kind = fields[name]
        if kind == "label":
            if name == task.target:
                assert space is not None
                assert gold is not None
                out[name] = space.texts[gold]
                continue
            # A second label-kind field (rare): render its value through the fixed labels.
            if name not in row:
                raise missing_field(name, row)
            try:
                out[name] = task.label_text(row[name])
            except TemplateError as err:
                raise TemplateError(err.reason, loc=f"$.{name}") from None
            continue
        value = row.get(name)
        if value is None:
            raise missing_field(name, row)
        if kind == "text" and value.__class__ is str:
            out[name] = value
        elif kind == "alternatives":
            items = text_list(name, value, what="text or a list of alternatives")
            if not items:
                raise TemplateError(
                    f"expected at least one alternative in field {name!r}, got []",
                    loc=f"$.{name}",
                )
            index = 0 if len(items) == 1 else draw(example, purpose("pick", name)) % len(items)
            if len(items) > 1:
                picks[name] = index
            out[name] = items[index]
        else:
            out[name] = scalar_text(name, kind, value)
    return picks


def render(
    template: Template,
    row: Mapping[str, Any],
    *,
    seed: int = 0,
    dataset: str | None = None,
    options: bool = True,
    option_styles: Sequence[str | OptionStyle] | str | OptionStyle | None = None,
    shuffle_options: bool = False,
    id_field: str = "id",
) -> Instruction:
    r"""Render one row with one template into an :class:`~instructkit.Instruction`.

    Args:
        template: The template.
        row: A mapping of the task's field names to values (other keys are ignored).
        seed: Seeds every choice (option style, option order, which gold answer); the same
            seed, dataset and example id always give the same record. An int from ``-2**63``
            to ``2**64 - 1``, as it is kept in the record's provenance.
        dataset: The dataset name used for hashing and provenance. By default the row's own
            ``dataset`` (as :func:`~instructkit.adapt` sets it), else the task name; a row
            whose ``dataset`` differs from this is refused.
        options: Render the with-options variant (``False``: the without-options one).
        option_styles: Styles to draw from when the template names none (default
            :data:`~instructkit._templates._options.DEFAULT_OPTION_STYLES`).
        shuffle_options: Show the options in a seeded per-example order.
        id_field: The row key holding the example id (rows without one get a content hash).

    Returns:
        The instruction record, with provenance under ``meta["provenance"]``.

    Raises:
        TemplateError: the row cannot be rendered (missing field, label outside the label
            space, wrong value kind, blank result).
        ConfigurationError: a bad argument, or ``options=False`` for a template whose option
            styles all answer with a marker (see :attr:`Template.marker_only`).

    Example:
        >>> from instructkit import Task, Template, render
        >>> task = Task(name="sentiment", fields={"text": "text", "label": "label"},
        ...             target="label", labels={0: "negative", 1: "positive"})
        >>> t = Template(id="s1", task=task, instruction="{text}\nHow does the writer feel?\n"
        ...              "{options}", response="{label}", options_style="flan")
        >>> record = render(t, {"id": 1, "text": "Great film!", "label": 1})
        >>> print(record.instruction)
        Great film!
        How does the writer feel?
        OPTIONS:
        - negative
        - positive
        >>> record.response
        'positive'
        >>> bare = render(t, {"id": 1, "text": "Great film!", "label": 1}, options=False)
        >>> print(bare.instruction)
        Great film!
        How does the writer feel?
    """
    settings = Settings.checked(
        seed=seed,
        dataset=dataset,
        option_styles=option_styles,
        shuffle_options=shuffle_options,
        id_field=id_field,
    )
    check_marker_variant(template, with_options=bool(options))
    rendered = render_row(template, row, settings, with_options=bool(options))
    return to_instruction(rendered, settings.seed)


def to_instruction(rendered: Rendered, seed: int, exemplar_ids: Sequence[str] = ()) -> Instruction:
    """The record for a zero-shot rendering."""
    return instruction_record(
        rendered.instruction,
        rendered.response,
        rendered.system,
        rendered.record_id(),
        {PROVENANCE_KEY: rendered.provenance(seed, exemplar_ids)},
    )


# The shortcut below knows these fields and no validators beyond their types; if the record
# changes, it switches itself off.
_SHORTCUT = tuple(Instruction.model_fields) == (
    "instruction",
    "input",
    "response",
    "system",
    "id",
    "meta",
)


def _utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def instruction_record(
    instruction: str,
    response: str,
    system: str | None,
    record_id: str,
    meta: dict[str, JsonValue],
) -> Instruction:
    """An :class:`~instructkit.Instruction` from rendered parts, built without re-validation.

    Validating the provenance dict (a JSON value, checked node by node) was a fifth of the
    time of :func:`~instructkit.convert`. Rendering makes the texts and the provenance
    itself, so only what it does not guarantee is checked here (non-empty text that encodes
    as UTF-8); anything else goes through full validation and its located error. ``meta``
    must keep the record's rules (rendering's provenance does: its one free number, the
    seed, is checked by :func:`check_seed`); it is not checked again.

    Raises:
        RecordValidationError: a text is empty or holds a lone surrogate.
    """
    if (
        _SHORTCUT
        and instruction
        and response
        and record_id
        # isascii first, inline: almost every text is ASCII, and this runs per record.
        and (instruction.isascii() or _utf8(instruction))
        and (response.isascii() or _utf8(response))
        and (record_id.isascii() or _utf8(record_id))
        and (system is None or (system != "" and (system.isascii() or _utf8(system))))
    ):
        return construct_record(
            Instruction,
            {
                "instruction": instruction,
                "input": "",
                "response": response,
                "system": system,
                "id": record_id,
                "meta": meta,
            },
            {"instruction", "response", "system", "id", "meta"},
        )
    return Instruction(
        instruction=instruction, response=response, system=system, id=record_id, meta=meta
    )
