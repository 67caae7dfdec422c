"""Converting a stream of rows into records, reproducibly per example."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal, overload

from instructkit._errors import ConfigurationError, DataError, TemplateError
from instructkit._progress import Progress, check_progress, known_length, track
from instructkit._public import renamed_keywords
from instructkit._records import Conversation, Instruction, JsonValue
from instructkit._reports import ItemReport, OnError, check_on_error, reject_row
from instructkit._sources import iter_rows
from instructkit._templates._fewshot import (
    FewShot,
    Pool,
    chat_messages,
    choose_exemplars,
    fit_budget,
    flan_prompt,
)
from instructkit._templates._hashing import Lanes, draw, purpose_code, seeded, shuffled, unit
from instructkit._templates._options import OptionStyle
from instructkit._templates._render import (
    PROVENANCE_KEY,
    Prepared,
    Rendered,
    Settings,
    check_marker_variant,
    example_id_of,
    instruction_record,
    render_row,
)
from instructkit._templates._template import Template

__all__ = ["Call", "Picks", "check_call", "convert", "convert_row", "options_code"]

Output = Literal["instruction", "conversation"]


def _check_record(record: object) -> Output:
    """``Instruction`` or ``Conversation``, as a class or its name in any case."""
    for kind, output in ((Instruction, "instruction"), (Conversation, "conversation")):
        if record is kind or (isinstance(record, str) and record.lower() == output):
            return output  # type: ignore[return-value]
    raise ConfigurationError(
        f"expected record to be Instruction or Conversation (class or name), got {record!r}"
    )


def _check_templates(templates: Template | Sequence[Template]) -> tuple[Template, ...]:
    items = (templates,) if isinstance(templates, Template) else tuple(templates)
    if not items:
        raise ConfigurationError("expected at least one template, got none")
    for item in items:
        if not isinstance(item, Template):
            raise ConfigurationError(f"expected Template objects, got {type(item).__name__}")
    task = items[0].task
    ids: set[str] = set()
    for item in items:
        if item.task != task:
            raise ConfigurationError(
                f"expected templates of one task, got {task.name!r} and {item.task.name!r} "
                "(convert each task's rows separately, then mix them)"
            )
        if item.id in ids:
            raise ConfigurationError(f"expected distinct template ids, got {item.id!r} twice")
        ids.add(item.id)
    return items


def _check_per_example(per_example: object, count: int) -> int:
    if per_example == "all":
        return count
    if isinstance(per_example, bool) or not isinstance(per_example, int) or per_example < 1:
        raise ConfigurationError(
            f"expected per_example to be a positive int or 'all', got {per_example!r}"
        )
    if per_example > count:
        raise ConfigurationError(
            f"expected per_example <= the number of templates ({count}), got {per_example}"
        )
    return per_example


def _check_options(options: object) -> float:
    if isinstance(options, bool):
        return 1.0 if options else 0.0
    if isinstance(options, (int, float)) and math.isfinite(options) and 0 <= options <= 1:
        return float(options)
    raise ConfigurationError(
        f"expected options to be True, False or a probability in [0, 1], got {options!r}"
    )


@overload
def convert(
    rows: Iterable[Mapping[str, Any]],
    templates: Template | Sequence[Template],
    *,
    seed: int,
    dataset: str | None = ...,
    per_example: int | Literal["all"] = ...,
    options: bool | float = ...,
    option_styles: Sequence[str | OptionStyle] | str | OptionStyle | None = ...,
    shuffle_options: bool = ...,
    fewshot: FewShot | None = ...,
    record: type[Instruction] | Literal["instruction", "Instruction"] = ...,
    id_field: str = ...,
    on_error: OnError = ...,
    report: ItemReport | None = ...,
    progress: Progress = ...,
) -> Iterator[Instruction]: ...


@overload
def convert(
    rows: Iterable[Mapping[str, Any]],
    templates: Template | Sequence[Template],
    *,
    seed: int,
    dataset: str | None = ...,
    per_example: int | Literal["all"] = ...,
    options: bool | float = ...,
    option_styles: Sequence[str | OptionStyle] | str | OptionStyle | None = ...,
    shuffle_options: bool = ...,
    fewshot: FewShot | None = ...,
    record: type[Conversation] | Literal["conversation", "Conversation"],
    id_field: str = ...,
    on_error: OnError = ...,
    report: ItemReport | None = ...,
    progress: Progress = ...,
) -> Iterator[Conversation]: ...


@renamed_keywords(output="record")
def convert(
    rows: Iterable[Mapping[str, Any]],
    templates: Template | Sequence[Template],
    *,
    seed: int,
    dataset: str | None = None,
    per_example: int | Literal["all"] = 1,
    options: bool | float = True,
    option_styles: Sequence[str | OptionStyle] | str | OptionStyle | None = None,
    shuffle_options: bool = False,
    fewshot: FewShot | None = None,
    record: type[Instruction] | type[Conversation] | str = Instruction,
    id_field: str = "id",
    on_error: OnError = "raise",
    report: ItemReport | None = None,
    progress: Progress = False,
) -> Iterator[Instruction] | Iterator[Conversation]:
    """Render a stream of rows with a task's templates, reproducibly per example.

    Every random choice (which templates, with or without options, option style and order,
    exemplars, which of several gold answers) is a stable hash of ``(seed, dataset, example
    id, purpose)``. A row therefore renders the same whatever the order of the rows, the
    batch size, the process or the number of shards; ``convert`` of a concatenation equals
    the concatenation of ``convert`` of the parts.

    Args:
        rows: Mappings of the task's fields (and ``id_field``), read lazily; or a
            ``datasets.Dataset`` or ``IterableDataset``, a :class:`pyarrow.Table` or
            :class:`pyarrow.RecordBatch`, or an iterable of record batches, read a batch of
            rows at a time.
        templates: One template or several, all of one task.
        seed: The seed of every choice.
        dataset: The dataset name used for hashing and provenance. By default each row's own
            ``dataset`` (as :func:`~instructkit.adapt` sets it), else the task name; a row
            whose ``dataset`` differs from this is rejected, since every seeded choice
            hashes the name.
        per_example: How many templates render each row: ``1`` (default), ``k`` distinct
            ones, or ``"all"`` (in the given order). The choice is a seeded ranking of the
            template ids, so the order templates are listed in does not matter.
        options: ``True``: with-options variants; ``False``: without; a number ``p``: each
            (row, template) shows options with probability ``p``, seeded. Templates that
            answer with an option marker only have the with-options variant.
        option_styles: Styles to draw from when a template names none.
        shuffle_options: Show options in a seeded per-example order.
        fewshot: Add exemplars (see :class:`FewShot`).
        record: The record type to produce: :class:`~instructkit.Instruction` (default) or
            :class:`~instructkit.Conversation` (few-shot exemplars become earlier turns); the
            class or its name. (Formerly ``output=``, which still works for one release.)
        id_field: The row key holding the example id; rows without one are identified by a
            hash of their task fields.
        on_error: ``"raise"`` at the first row that cannot be rendered, or ``"skip"`` /
            ``"collect"`` it into ``report``. A row is rendered with all of its chosen
            templates or rejected as a whole.
        report: Counts rows seen, valid and rejected, with each rejection's reason and row
            index; required unless ``on_error="raise"``, so that no row disappears untracked.
        progress: ``True`` shows the rows converted on stderr (out of ``len(rows)`` when it
            has one): a tqdm bar when tqdm is installed, else a plain line a few times a
            second. A callable is called with ``(rows so far, total or None)`` (see
            ``docs/templates.md``). Nothing is shown before the first record is asked for.

    Returns:
        A lazy iterator of records, ``id = "dataset/example id/template id"``, each with
        ``meta["provenance"]``.

    Raises:
        ConfigurationError: a bad argument (checked at call time, before any row is read),
            including ``options`` below 1 with a template whose option styles all answer with
            a marker (see :attr:`Template.marker_only`).
        TemplateError: under ``on_error="raise"``, a row that cannot be rendered (a missing
            field, a label outside the label space such as ``-1`` for unlabeled rows).

    Example:
        >>> from instructkit import ItemReport, Task, Template, convert
        >>> task = Task(name="qa", fields={"question": "text", "answer": "alternatives"},
        ...             target="answer")
        >>> t = Template(id="qa-1", task=task, instruction="Answer: {question}",
        ...              response="{answer}")
        >>> rows = [{"id": "a", "question": "2+2?", "answer": ["4", "four"]},
        ...         {"id": "b", "question": "Capital of Peru?"}]
        >>> report = ItemReport()
        >>> [r.response in ("4", "four") for r in convert(rows, t, seed=1, on_error="skip",
        ...                                               report=report)]
        [True]
        >>> report.summary()
        '2 seen, 1 valid, 1 rejected, 0 blank'
    """
    call = check_call(
        templates,
        seed=seed,
        dataset=dataset,
        per_example=per_example,
        options=options,
        option_styles=option_styles,
        shuffle_options=shuffle_options,
        fewshot=fewshot,
        record=record,
        id_field=id_field,
        on_error=on_error,
        report=report,
    )
    progress = check_progress(progress)
    return _run(
        track(
            iter_rows(rows),
            progress,
            desc=f"convert {dataset or call.templates[0].task.name}",
            unit="rows",
            # The rows as given know their length (a list, a table, a dataset); the lazy
            # rows made of them do not. Nothing is asked of them with progress off.
            total=known_length(rows) if progress is not False else None,
        ),
        call,
        report,
    )


@dataclass(frozen=True)
class Call:
    """The checked arguments of one conversion, shared by the per-row and columnar paths."""

    templates: tuple[Template, ...]
    settings: Settings
    count: int
    every: bool
    rate: float
    pool: Pool | None
    output: Output
    on_error: OnError


def check_call(
    templates: Template | Sequence[Template],
    *,
    seed: object,
    dataset: object,
    per_example: object,
    options: object,
    option_styles: Sequence[str | OptionStyle] | str | OptionStyle | None,
    shuffle_options: object,
    fewshot: object,
    record: object,
    id_field: object,
    on_error: object,
    report: ItemReport | None,
) -> Call:
    """Check a conversion's arguments (before any row is read).

    Raises:
        ConfigurationError: a bad argument (see :func:`convert`).
    """
    items = _check_templates(templates)
    count = _check_per_example(per_example, len(items))
    rate = _check_options(options)
    policy = check_on_error(on_error)
    output = _check_record(record)
    if policy != "raise" and report is None:
        raise ConfigurationError(
            f"expected report= with on_error={policy!r}, so that skipped rows are counted"
        )
    if fewshot is not None and not isinstance(fewshot, FewShot):
        raise ConfigurationError(f"expected fewshot to be a FewShot, got {fewshot!r}")
    if not isinstance(id_field, str):
        raise ConfigurationError(f"expected id_field to be text, got {id_field!r}")
    for item in items:
        check_marker_variant(item, with_options=rate)
    settings = Settings.checked(
        seed=seed,
        dataset=dataset,
        option_styles=option_styles,
        shuffle_options=shuffle_options,
        id_field=id_field,
    )
    pool = Pool(fewshot, items[0].task, id_field) if fewshot is not None else None
    return Call(
        templates=items,
        settings=settings,
        count=count,
        every=per_example == "all",
        rate=rate,
        pool=pool,
        output=output,
        on_error=policy,
    )


TEMPLATE_PURPOSE = "template"
"""The purpose of the pick of templates for a row."""


class Picks:
    """The seeded picks of templates (and options) for a row, prepared once per call.

    Templates are drawn from the set sorted by id (so the order they were listed in does not
    matter): the first ``count`` of a seeded shuffle (see ``_hashing``). With ``every``, each
    row gets every template, in the given order.
    """

    __slots__ = ("_prepared", "canonical", "code", "every", "given", "options")

    def __init__(self, templates: Sequence[Template], *, every: bool = False) -> None:
        self.given = list(templates)
        self.every = every
        self.canonical = tuple(sorted(templates, key=lambda t: t.id))
        self.code = purpose_code(TEMPLATE_PURPOSE)
        self.options = {t.id: options_code(t) for t in templates}
        self._prepared: tuple[Call, dict[str, Prepared] | None] | None = None

    def prepared(self, call: Call) -> dict[str, Prepared] | None:
        """Each template :class:`Prepared` for ``call``'s settings, by id (made once).

        ``None`` when the call adds exemplars: a few-shot record is assembled from its
        target's :class:`Rendered`.
        """
        found = self._prepared
        if found is None or found[0] is not call:
            ready = None
            if call.pool is None:
                ready = {t.id: Prepared(t, call.settings) for t in self.given}
            found = self._prepared = (call, ready)
        return found[1]

    def templates(self, example: int, count: int) -> list[Template]:
        """The templates for the example with hash ``example``, best first."""
        if self.every:
            return self.given
        canonical = self.canonical
        if count == 1:
            return [canonical[draw(example, self.code) % len(canonical)]]
        return [canonical[i] for i in shuffled(example, self.code, len(canonical), count)]


def options_code(template: Template) -> int:
    """The purpose code of "does this (row, template) show its options"."""
    return purpose_code(f"with-options:{template.id}")


BATCH_ROWS = 256
"""How many rows the per-row path reads ahead to hash and draw for together.

Their example hashes and seeded picks are computed side by side in one integer per step
(see ``_hashing.Lanes``), which costs a fraction of doing it row by row in the interpreter;
each row is still rendered, rejected and counted on its own, in order.
"""


def _run(rows: Iterable[Mapping[str, Any]], call: Call, report: ItemReport | None) -> Iterator[Any]:
    plan = Picks(call.templates, every=call.every)
    prepared = plan.prepared(call)
    if prepared is None or call.every or call.count != 1:
        # Few-shot targets and several templates per row: one row at a time.
        for index, row in enumerate(rows):
            if report is not None:
                report.seen += 1
            try:
                records = convert_row(row, call, plan)
            except DataError as err:
                reject_row(err, row=index, report=report, on_error=call.on_error)
                continue
            if report is not None:
                report.valid += 1
            yield from records
        return
    source = iter(rows)
    index = 0
    # The batches grow from one row to BATCH_ROWS: the first record needs the first row only,
    # and a short stream is read hardly further ahead than it is converted.
    size = 1
    while True:
        batch: list[Mapping[str, Any]] = []
        failure: Exception | None = None
        try:
            for row in islice(source, size):
                batch.append(row)
        except Exception as err:
            # The rows read before a failing source are converted first, as they would be
            # one at a time; then its error is raised.
            failure = err
        for offset, made in enumerate(_batch(batch, call, plan, prepared)):
            if report is not None:
                report.seen += 1
            if isinstance(made, Exception):
                if not isinstance(made, DataError):
                    raise made
                reject_row(made, row=index + offset, report=report, on_error=call.on_error)
                continue
            if report is not None:
                report.valid += 1
            yield made
        index += len(batch)
        if failure is not None:
            raise failure
        if len(batch) < size:
            return
        size = min(2 * size, BATCH_ROWS)


def _batch(
    batch: list[Mapping[str, Any]], call: Call, plan: Picks, prepared: dict[str, Prepared]
) -> Iterator[Instruction | Conversation | Exception]:
    """Each row's record (one template per row), or the error that rejects it, in order."""
    settings = call.settings
    task = call.templates[0].task
    # A row refused before its picks gives its error at its turn, after the rows before it.
    failed: dict[int, Exception] = {}
    names: list[str] = []
    ids: list[str] = []
    for offset, row in enumerate(batch):
        try:
            _check_row(row)
            name = settings.dataset_for(task, row)
            example_id = example_id_of(row, task, settings.id_field)
        except Exception as err:
            failed[offset] = err
            continue
        names.append(name)
        ids.append(example_id)
    if not ids:
        yield from failed.values()
        return
    if names.count(names[0]) == len(names):
        lanes = seeded(settings.seed, names[0]).example_lanes(ids)
        examples = lanes.values()
    else:  # rows naming their datasets: one key each
        examples = [seeded(settings.seed, n).example(i) for n, i in zip(names, ids, strict=True)]
        lanes = Lanes.of(examples)
    canonical = plan.canonical
    count = len(canonical)
    picked = [d % count for d in lanes.draws(plan.code).values()]
    ready = [prepared[t.id] for t in canonical]
    rate = call.rate
    if rate >= 1.0 or rate <= 0.0:
        shown = [rate >= 1.0] * len(picked)
    else:
        codes = [plan.options[t.id] for t in canonical]
        draws = lanes.draws(Lanes.of([codes[i] for i in picked])).values()
        shown = [unit(d) < rate for d in draws]
    styles = lanes.draws(Lanes.of([ready[i].style_code for i in picked])).values()
    conversation = call.output == "conversation"
    at = 0
    for offset, row in enumerate(batch):
        if failed and offset in failed:
            yield failed[offset]
            continue
        chosen = ready[picked[at]]
        example_id, name, example, with_options = ids[at], names[at], examples[at], shown[at]
        try:
            made = chosen.record(row, with_options, example_id, example, name, styles[at])
            if made is None:
                yield _record(
                    row,
                    call,
                    plan,
                    chosen.template,
                    with_options=with_options,
                    example_id=example_id,
                    example=example,
                    dataset=name,
                )
            else:
                yield made.to_conversation() if conversation else made
        except DataError as err:
            yield err
        at += 1


def _check_row(row: object) -> None:
    if row.__class__ is not dict and not isinstance(row, Mapping):
        raise TemplateError(
            f"expected a row mapping field names to values, got {type(row).__name__}"
        )


def convert_row(
    row: Mapping[str, Any], call: Call, plan: Picks
) -> list[Instruction | Conversation]:
    """The records of one row (all of its picked templates), or the error that rejects it.

    Raises:
        DataError: the row cannot be rendered with one of its templates.
    """
    _check_row(row)
    settings = call.settings
    rate = call.rate
    task = call.templates[0].task
    dataset = settings.dataset_for(task, row)
    example_id = example_id_of(row, task, settings.id_field)
    example = seeded(settings.seed, dataset).example(example_id)
    out: list[Instruction | Conversation] = []
    for template in plan.templates(example, call.count):
        with_options = rate >= 1.0 or (
            rate > 0.0 and unit(draw(example, plan.options[template.id])) < rate
        )
        out.append(
            _record(
                row,
                call,
                plan,
                template,
                with_options=with_options,
                example_id=example_id,
                example=example,
                dataset=dataset,
            )
        )
    return out


def _record(
    row: Mapping[str, Any],
    call: Call,
    plan: Picks,
    template: Template,
    *,
    with_options: bool,
    example_id: str,
    example: int,
    dataset: str,
    style: int | None = None,
) -> Instruction | Conversation:
    """The record of one row with one of its templates (``style``: its option-style draw).

    Raises:
        DataError: the row cannot be rendered with the template.
    """
    prepared = plan.prepared(call)
    if prepared is not None:
        made = prepared[template.id].record(row, with_options, example_id, example, dataset, style)
        if made is not None:
            return made.to_conversation() if call.output == "conversation" else made
    # A row the prepared path leaves alone (a few-shot target, or a row it will reject):
    # rendered, and refused, the straightforward way.
    target = render_row(
        template,
        row,
        call.settings,
        with_options=with_options,
        example_id=example_id,
        example=example,
        dataset=dataset,
    )
    return _assemble(
        target, row, call.templates, call.settings, call.pool, call.output, with_options
    )


def _assemble(
    target: Rendered,
    row: Mapping[str, Any],
    templates: tuple[Template, ...],
    settings: Settings,
    pool: Pool | None,
    output: Output,
    with_options: bool,
) -> Instruction | Conversation:
    conversation = output == "conversation"
    exemplars: tuple[Rendered, ...] = ()
    dropped = 0
    if pool is not None:
        drawn = choose_exemplars(pool, target, row, templates, settings, with_options=with_options)
        fitted = fit_budget(pool.shots, drawn, target, conversation=conversation)
        exemplars, dropped = fitted.exemplars, fitted.dropped
    ids = [ex.example_id for ex in exemplars]
    meta: dict[str, JsonValue] = {PROVENANCE_KEY: target.provenance(settings.seed, ids, dropped)}
    if conversation:
        if exemplars:
            return Conversation(
                messages=chat_messages(exemplars, target), id=target.record_id(), meta=meta
            )
        record = instruction_record(
            target.instruction, target.response, target.system, target.record_id(), meta
        )
        return record.to_conversation()
    instruction = target.instruction
    if pool is not None and exemplars:
        instruction = flan_prompt(pool.shots, exemplars, target)
    return instruction_record(instruction, target.response, target.system, target.record_id(), meta)
