"""Columnar conversion: a whole Arrow batch rendered with Arrow kernels, no object per row.

The seeded picks are computed for the batch at once (``_hashing`` gives the same numbers per
column as per row), the rows are grouped by what was picked (template, with or without
options), and each group is rendered by joining the pattern's literal pieces with its field
columns (``binary_join_element_wise``); the option style and order of a row showing options
pick its block, answer and provenance ``options`` from small tables. The provenance is the
same JSON text for every row of a group but for the dataset, the example id and the
options, so it is joined the same way.

Rows this path cannot render exactly take the per-row path of
:func:`~instructkit.convert` instead, so the result is always the same: rows without an id
(their id is a hash of their content), values of other kinds than text and fixed labels
(alternatives, numbers, lists, per-row choices), values a row-level check would refuse
(a missing field, a label outside the label space), rows whose text could render blank,
and every row when few-shot exemplars are asked for.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from instructkit._arrow import arrow_schema, json_text, meta_text, to_arrow
from instructkit._errors import ConfigurationError, DataError
from instructkit._records import Instruction
from instructkit._reports import ItemReport, OnError
from instructkit._templates._convert import Call, Picks, check_call, convert_row
from instructkit._templates._fewshot import FewShot
from instructkit._templates._hashing import draws, seeded, units
from instructkit._templates._options import OptionStyle, RenderedOptions
from instructkit._templates._pattern import Piece
from instructkit._templates._render import (
    DATASET_FIELD,
    PROVENANCE_KEY,
    Rendered,
    candidate_styles,
    fixed_options,
    identity,
    purpose,
    sorted_positions,
    style_order,
)
from instructkit._templates._task import OPTIONS_PLACEHOLDER
from instructkit._templates._template import Template, compiled

__all__ = ["convert_table"]

_SCHEMA = arrow_schema(Instruction)
_KEY = "__row_order__"
_I64 = pa.int64()
_STRING = pa.string()
# The parts a batch's records are assembled from: the columns (meta as its JSON text), and
# where each record goes.
_PART = pa.schema([pa.field(name, _STRING) for name in _SCHEMA.names] + [pa.field(_KEY, _I64)])
# Shuffled options are grouped by their order: at most this many labels (8**8 orders fit).
_MAX_SHUFFLED = 8
_U64 = pa.uint64()
# Text that str.strip() leaves empty: only the characters str.isspace() accepts.
_BLANK = (
    r"^[\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}]*$"
)
# Characters JSON text escapes; a value holding none of them is its own JSON body.
_ESCAPED = r'[\x00-\x1f"\\]'


def convert_table(
    data: pa.Table | pa.RecordBatch,
    templates: Template | Sequence[Template],
    *,
    seed: int,
    dataset: str | None = None,
    per_example: int | Literal["all"] = 1,
    options: bool | float = True,
    option_styles: Sequence[str | OptionStyle] | str | OptionStyle | None = None,
    shuffle_options: bool = False,
    fewshot: FewShot | None = None,
    id_field: str = "id",
    on_error: OnError = "raise",
    report: ItemReport | None = None,
) -> pa.Table | pa.RecordBatch:
    """Render an Arrow table (or batch) of rows with a task's templates, column by column.

    The result equals ``to_arrow(list(convert(data.to_pylist(), templates, ...)))`` with the
    same arguments, record for record and in the same order (so the files written from
    either are byte for byte the same), but common rows are rendered with Arrow kernels,
    without a Python object per row. Rows (and features) that cannot be rendered that way
    fall back to the per-row path; see docs/templates.md, "Columnar conversion".

    Args:
        data: Rows as a ``pyarrow.Table`` or ``pyarrow.RecordBatch``: one column per field
            (and ``id_field``, and optionally ``dataset``).
        templates: One template or several, all of one task.
        seed: The seed of every choice.
        dataset: As for :func:`~instructkit.convert`.
        per_example: As for :func:`~instructkit.convert`.
        options: As for :func:`~instructkit.convert`.
        option_styles: As for :func:`~instructkit.convert`.
        shuffle_options: As for :func:`~instructkit.convert`.
        fewshot: As for :func:`~instructkit.convert` (rendered per row).
        id_field: As for :func:`~instructkit.convert`.
        on_error: As for :func:`~instructkit.convert`; the row index of a rejection is its
            index in ``data``.
        report: As for :func:`~instructkit.convert`.

    Returns:
        The records in :func:`~instructkit.arrow.arrow_schema` of
        :class:`~instructkit.Instruction`: a ``Table`` for a table, a ``RecordBatch`` for a
        batch.

    Raises:
        ConfigurationError: a bad argument (as :func:`~instructkit.convert` raises them), or
            ``data`` that is not an Arrow table or batch.
        TemplateError: under ``on_error="raise"``, a row that cannot be rendered.

    Example:
        >>> import pyarrow as pa
        >>> from instructkit import Task, Template, convert, to_arrow
        >>> from instructkit.templates import convert_table
        >>> task = Task(name="qa", fields={"question": "text", "answer": "text"},
        ...             target="answer")
        >>> t = Template(id="qa-1", task=task, instruction="Answer: {question}",
        ...              response="{answer}")
        >>> table = pa.table({"id": ["a", "b"], "question": ["2+2?", "1+1?"],
        ...                   "answer": ["4", "2"]})
        >>> out = convert_table(table, t, seed=1)
        >>> out.column("instruction").to_pylist()
        ['Answer: 2+2?', 'Answer: 1+1?']
        >>> out.equals(to_arrow(list(convert(table.to_pylist(), t, seed=1))))
        True
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
        record=Instruction,
        id_field=id_field,
        on_error=on_error,
        report=report,
    )
    if isinstance(data, pa.RecordBatch):
        result: pa.RecordBatch = _Converter(call).batch(data, 0, report)
        return result
    if not isinstance(data, pa.Table):
        raise ConfigurationError(
            f"expected a pyarrow Table or RecordBatch, got {type(data).__name__}"
        )
    converter = _Converter(call)
    batches: list[pa.RecordBatch] = []
    start = 0
    for batch in data.to_batches():
        batches.append(converter.batch(batch, start, report))
        start += batch.num_rows
    return pa.Table.from_batches(batches, schema=_SCHEMA)


def _empty() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=_SCHEMA)


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _decoded(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with dictionary-encoded text columns (as Parquet often reads them) decoded."""
    columns = list(batch.columns)
    changed = False
    for index, column in enumerate(columns):
        kind = column.type
        if pa.types.is_dictionary(kind) and _is_text(kind.value_type):
            columns[index] = pc.cast(column, kind.value_type)
            changed = True
    if not changed:
        return batch
    fields = [pa.field(f.name, c.type) for f, c in zip(batch.schema, columns, strict=True)]
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields))


def _gathered(columns: list[pa.ChunkedArray]) -> pa.Array:
    """The pieces of one column as one array, released as they are copied."""
    kind = columns[0].type
    chunks = [chunk for column in columns for chunk in column.chunks]
    columns.clear()
    if len(chunks) == 1:
        return chunks[0]
    if not chunks:
        return pa.array([], kind)
    combined = pa.concat_arrays(chunks)
    chunks.clear()
    return combined


def _constant(value: Any, count: int, kind: pa.DataType = _STRING) -> pa.Array:
    return pa.nulls(count, kind).fill_null(pa.scalar(value, kind))


def _mod(values: pa.Array, modulus: int) -> pa.Array:
    # Arrow has no modulo kernel; unsigned integer division truncates.
    divisor = pa.scalar(modulus, _U64)
    return pc.cast(pc.subtract(values, pc.multiply(pc.divide(values, divisor), divisor)), _I64)


def _shuffled(examples: pa.Array, code: int, count: int, take: int) -> list[pa.Array]:
    """``_hashing.shuffled`` per row: ``take`` columns of positions in ``range(count)``."""
    rows = len(examples)
    positions = [_constant(k, rows, _I64) for k in range(count)]
    for step in range(min(take, count)):
        other = pc.add(_mod(draws(examples, code, step), count - step), step)
        chosen = pc.choose(other, *positions)
        for k in range(step + 1, count):
            positions[k] = pc.if_else(pc.equal(other, k), positions[step], positions[k])
        positions[step] = chosen
    return positions[: min(take, count)]


def _json_body(values: pa.Array) -> pa.Array:
    """The JSON string bodies (without quotes) of text values, as orjson writes them."""
    needs = pc.match_substring_regex(values, _ESCAPED)
    if not pc.any(needs).as_py():
        return values
    # Rare (quotes, backslashes, control characters): escaped per value, exactly as orjson.
    escaped = [
        orjson.dumps(v).decode()[1:-1] if flag else v
        for v, flag in zip(values.to_pylist(), needs.to_pylist(), strict=True)
    ]
    return pa.array(escaped, _STRING)


def _join(parts: Sequence[Any], count: int) -> pa.Array:
    if not any(isinstance(p, pa.Array) for p in parts):
        return _constant("".join(parts), count)
    return pc.binary_join_element_wise(*parts, "")


def _has_text(pieces: Sequence[Piece]) -> bool:
    return any(isinstance(p, str) and p.strip() for p in pieces)


def _blank_risks(template: Template) -> list[list[str]]:
    """The sets of text fields that, all blank, would make a part of the template blank.

    The per-row path refuses a blank part. A part with non-blank literal text, or showing a
    label or the options (whose texts are never blank), never is; any other part is blank
    exactly when all of its text fields are (an empty set: always).
    """
    task = template.task
    labels = compiled(template).labels
    shown_ok = labels is not None and all(text.strip() for text in labels.texts)
    risks = []
    for pattern in compiled(template).patterns.values():
        for pieces in (pattern.pieces, pattern.plain):
            if _has_text(pieces):
                continue
            names = [p.name for p in pieces if not isinstance(p, str)]
            if shown_ok and any(n in (OPTIONS_PLACEHOLDER, task.target) for n in names):
                continue
            risks.append(names)
    return risks


def _meta_storage(column: pa.ChunkedArray) -> pa.ChunkedArray:
    chunks = [c.storage if isinstance(c, pa.ExtensionArray) else c for c in column.chunks]
    return pa.chunked_array(chunks, _STRING)


class _Converter:
    """Everything prepared once per call, then applied to each batch."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.templates = call.templates
        self.settings = call.settings
        self.task = self.templates[0].task
        self.picks = Picks(self.templates, every=call.every)
        self.width = len(self.templates) if call.every else call.count
        # Few-shot renders per row; per-row answer choices are lists (no label kernels).
        self.columnar = call.pool is None and self.task.choices is None
        # The provenance text splits at these: unique, and their own JSON text.
        self.marks = (uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex)
        # Per template and variant: the provenance text around what differs per row.
        self.meta_pieces: dict[tuple[str, bool], tuple[str, str, tuple[str, ...]]] = {}
        self.batch_ids = pa.array([], _STRING)
        self.batch_datasets = pa.array([], _STRING)

    def batch(self, batch: pa.RecordBatch, start: int, report: ItemReport | None) -> Any:
        rows = batch.num_rows
        if rows == 0:
            return _empty()
        batch = _decoded(batch)
        parts: list[pa.Table] = []
        fit = self._prepare(batch)
        if fit is not None:
            parts, fit = self._render(batch, *fit)
            fallback = pc.indices_nonzero(pc.invert(fit))
        else:
            fallback = pa.array(range(rows), _I64)
        if len(fallback):
            parts.append(self._per_row(batch, fallback, start, report))
        elif report is not None:
            report.seen += rows
            report.valid += rows
        # The records back in the per-row order: each column gathered whole (taking from
        # many chunks costs several times more than from one array), one column at a time,
        # letting go of the groups' pieces of each column once it is gathered, so that the
        # records are held about twice at the most rather than three times.
        pieces = {name: [part.column(name) for part in parts] for name in _PART.names}
        parts.clear()
        order = pc.sort_indices(_gathered(pieces.pop(_KEY)))
        columns = [pc.take(_gathered(pieces.pop(name)), order) for name in _SCHEMA.names]
        columns[-1] = pa.ExtensionArray.from_storage(_SCHEMA.field("meta").type, columns[-1])
        return pa.RecordBatch.from_arrays(columns, schema=_SCHEMA)

    def _prepare(self, batch: pa.RecordBatch) -> tuple[pa.Array, ...] | None:
        """The rows the columnar path may take, their example hashes, ids and datasets."""
        if not self.columnar:
            return None
        rows = batch.num_rows
        names = batch.schema.names
        settings = self.settings
        if settings.id_field not in names:
            return None
        raw = batch.column(settings.id_field)
        if not (pa.types.is_integer(raw.type) or _is_text(raw.type)):
            return None
        ids = pc.cast(raw, _STRING)
        # Rows without an id are identified by a hash of their content: per row.
        fit = pc.fill_null(pc.greater(pc.binary_length(ids), 0), False)
        ids = pc.fill_null(ids, "")
        default = settings.dataset if settings.dataset is not None else self.task.name
        if DATASET_FIELD in names and DATASET_FIELD not in self.task.fields:
            named = batch.column(DATASET_FIELD)
            if pa.types.is_null(named.type):
                named = pa.nulls(rows, _STRING)
            elif not _is_text(named.type):
                return None
            named = pc.cast(named, _STRING)
            agrees = pc.greater(pc.binary_length(named), 0)
            if settings.dataset is not None:
                agrees = pc.and_(agrees, pc.equal(named, settings.dataset))
            fit = pc.and_(fit, pc.fill_null(agrees, True))
            datasets = pc.fill_null(named, default)
        else:
            datasets = _constant(default, rows)
        examples = None
        for name in pc.unique(datasets).to_pylist():
            keyed = seeded(settings.seed, name).examples(ids)
            examples = (
                keyed if examples is None else pc.if_else(pc.equal(datasets, name), keyed, examples)
            )
        assert examples is not None
        return fit, examples, ids, datasets

    def _render(
        self,
        batch: pa.RecordBatch,
        fit: pa.Array,
        examples: pa.Array,
        ids: pa.Array,
        datasets: pa.Array,
    ) -> tuple[list[pa.Table], pa.Array]:
        """The records of the rows that stay fit, and the final mask of those rows."""
        picks = self.picks
        if picks.every:
            chosen: Sequence[Template] = self.templates
            slots = [_constant(i, batch.num_rows, _I64) for i in range(len(chosen))]
        elif self.call.count == 1:
            chosen = picks.canonical
            slots = [_mod(draws(examples, picks.code), len(chosen))]
        else:
            chosen = picks.canonical
            slots = _shuffled(examples, picks.code, len(chosen), self.call.count)
        gold = self._gold(batch)
        # The JSON text of the ids and names, once per batch (each group takes its rows').
        self.json_bodies = (_json_body(datasets), _json_body(ids))
        self.batch_ids, self.batch_datasets = ids, datasets
        groups: list[tuple[int, Template, pa.Array]] = []
        for slot, picked in enumerate(slots):
            for position, template in enumerate(chosen):
                members = pc.equal(picked, position)
                if not pc.any(members).as_py():
                    continue
                unfit = self._unfit(batch, template, gold)
                if unfit is True:
                    fit = pc.and_(fit, pc.invert(members))
                elif unfit is not None:
                    fit = pc.and_(fit, pc.invert(pc.and_(members, unfit)))
                groups.append((slot, template, members))
        tables: list[pa.Table] = []
        for slot, template, members in groups:
            rows = pc.indices_nonzero(pc.and_(members, fit))
            if len(rows):
                group = _Group(self, batch, template, rows, slot)
                tables.extend(
                    group.render(
                        pc.take(examples, rows), None if gold is None else pc.take(gold, rows)
                    )
                )
        return tables, fit

    def _unfit(self, batch: pa.RecordBatch, template: Template, gold: pa.Array | None) -> Any:
        """Which rows the template cannot render here.

        Returns:
            ``True`` for all of them, else a mask over the batch (``None``: no row).
        """
        task = self.task
        plan = compiled(template)
        names = batch.schema.names
        if (
            self.settings.shuffle_options
            and plan.uses_options
            and task.labels is not None
            and len(task.labels) > _MAX_SHUFFLED
        ):
            return True
        bad: Any = None
        for name in plan.used:
            if name == OPTIONS_PLACEHOLDER or (name == task.target and task.labels is not None):
                continue
            if task.fields[name] != "text" or name not in names:
                return True
            column = batch.column(name)
            if not _is_text(column.type):
                return True
            missing = pc.is_null(column)
            bad = missing if bad is None else pc.or_(bad, missing)
        if task.labels is not None and (task.target in plan.used or plan.uses_options):
            if gold is None:
                return True
            missing = pc.is_null(gold)
            bad = missing if bad is None else pc.or_(bad, missing)
        for names_ in _blank_risks(template):
            if not names_:
                return True
            blank = None
            for name in names_:
                empty = pc.match_substring_regex(batch.column(name), _BLANK)
                blank = empty if blank is None else pc.and_(blank, empty)
            bad = blank if bad is None else pc.or_(bad, blank)
        # A null (a missing value met a check) means unfit: no row may fall between paths.
        return None if bad is None else pc.fill_null(bad, True)

    def _gold(self, batch: pa.RecordBatch) -> pa.Array | None:
        """Each row's label as its index in the task's labels (null: none of them)."""
        task = self.task
        if task.labels is None or task.target not in batch.schema.names:
            return None
        column = batch.column(task.target)
        wanted: type
        if pa.types.is_integer(column.type):
            wanted = int
        elif _is_text(column.type):
            column = pc.cast(column, _STRING)
            wanted = str
        else:
            return None  # floats, bools and the rest never equal a label (types must match)
        values: list[Any] = []
        positions: list[int] = []
        for index, (value, _) in enumerate(task.labels):
            if type(value) is not wanted:
                continue
            try:
                pa.scalar(value, column.type)
            except (pa.ArrowInvalid, OverflowError):
                continue  # beyond the column's integer type: no row holds it
            values.append(value)
            positions.append(index)
        if not values:
            return pa.nulls(len(column), _I64)
        found = pc.index_in(column, value_set=pa.array(values, column.type))
        return pc.take(pa.array(positions, _I64), found)

    def _per_row(
        self, batch: pa.RecordBatch, rows: pa.Array, start: int, report: ItemReport | None
    ) -> pa.Table:
        """The per-row path for the rows the columnar one does not take, with their errors."""
        call = self.call
        records: list[Instruction] = []
        keys: list[int] = []
        previous = -1
        for index, row in zip(rows.to_pylist(), batch.take(rows).to_pylist(), strict=True):
            if report is not None:
                # The columnar rows before this one were valid; counted in row order, so a
                # report stopped by "raise" reads as the per-row one does.
                report.seen += index - previous
                report.valid += index - previous - 1
            previous = index
            try:
                made = convert_row(row, call, self.picks)
            except DataError as err:
                located = err.located(row=start + index)
                if report is None:
                    raise located from err
                report.reject(located, on_error=call.on_error)
                continue
            if report is not None:
                report.valid += 1
            for slot, record in enumerate(made):
                assert isinstance(record, Instruction)  # convert_table makes no other
                records.append(record)
                keys.append(index * self.width + slot)
        if report is not None:
            tail = batch.num_rows - previous - 1
            report.seen += tail
            report.valid += tail
        table = to_arrow(records, record=Instruction)
        columns = [*table.columns[:5], _meta_storage(table.column("meta"))]
        return pa.Table.from_arrays([*columns, pa.array(keys, _I64)], schema=_PART)


# Each row's variant of the options (an index into the list), and the variants present.
_Variants = tuple[pa.Array, list[tuple[OptionStyle, tuple[int, ...]]]]


class _Group:
    """The rows of a batch that one template renders in one slot of their picks.

    The rows showing options are rendered together: their option style and order (the
    variant) only change the options block, the answer and the provenance's ``options``,
    which are taken per row from small tables of the variants present.
    """

    def __init__(
        self,
        owner: _Converter,
        batch: pa.RecordBatch,
        template: Template,
        rows: pa.Array,
        slot: int,
    ) -> None:
        self.owner = owner
        self.batch = batch
        self.template = template
        self.rows = rows
        self.slot = slot

    def render(self, examples: pa.Array, gold: pa.Array | None) -> list[pa.Table]:
        owner = self.owner
        template = self.template
        task = template.task
        plan = compiled(template)
        rate = owner.call.rate
        everything = pa.array(range(len(self.rows)), _I64)
        can_show = plan.uses_options and task.labels is not None
        if not can_show or rate <= 0.0:
            variants = [(False, everything)]
        elif rate >= 1.0:
            variants = [(True, everything)]
        else:
            shown = pc.less(units(draws(examples, owner.picks.options[template.id])), rate)
            variants = [
                (True, pc.indices_nonzero(shown)),
                (False, pc.indices_nonzero(pc.invert(shown))),
            ]
        out: list[pa.Table] = []
        for with_options, members in variants:
            if len(members):
                shown = self._variants(pc.take(examples, members)) if with_options else None
                out.append(self._part(members, gold, shown))
        return out

    def _variants(self, examples: pa.Array) -> _Variants:
        """Each row's variant (an index into the list) and the variants: (style, order)."""
        template = self.template
        labels = compiled(template).labels
        assert labels is not None
        count = len(labels.texts)
        candidates = candidate_styles(template, self.owner.settings)
        rows = len(examples)
        if len(candidates) == 1:
            styles = _constant(0, rows, _I64)
        else:
            draw_ = draws(examples, purpose("options-style", template.id))
            styles = _mod(draw_, len(candidates))
        # An order is a permutation of the labels: a number in base ``count``.
        shuffle = self.owner.settings.shuffle_options
        orders = _constant(0, rows, _I64)
        if shuffle:
            code = purpose("options-order", template.id)
            for column in _shuffled(examples, code, count, count):
                orders = pc.add(pc.multiply(orders, count), column)
        combined = pc.add(pc.multiply(styles, count**count), orders)
        present = pc.unique(combined)
        index = pc.cast(pc.index_in(combined, value_set=present), _I64)
        canonical_styles = style_order(candidates)
        canonical_labels = sorted_positions(labels.keys)
        found = []
        for value in present.to_pylist():
            style_pick, key = divmod(value, count**count)
            style = candidates[canonical_styles[style_pick]]
            if shuffle:
                digits = []
                for _ in range(count):
                    key, digit = divmod(key, count)
                    digits.append(digit)
                order = tuple(canonical_labels[d] for d in reversed(digits))
            else:
                order = identity(count)
            found.append((style, order))
        return index, found

    def _part(
        self,
        members: pa.Array,
        gold: pa.Array | None,
        variants: _Variants | None,
    ) -> pa.Table:
        """The records of ``members`` (positions in the group), with or without options."""
        owner = self.owner
        template = self.template
        task = template.task
        plan = compiled(template)
        rows = pc.take(self.rows, members)
        count = len(rows)
        values: dict[str, Any] = {}
        for name in plan.used:
            if name == OPTIONS_PLACEHOLDER or (name == task.target and task.labels is not None):
                continue
            values[name] = pc.cast(pc.take(self.batch.column(name), rows), _STRING)
        row_gold = None if gold is None else pc.take(gold, members)
        labels = plan.labels
        if labels is not None and task.target in plan.used:
            assert row_gold is not None
            values[task.target] = pc.take(pa.array(labels.texts, _STRING), row_gold)
        response_values = values
        options_json = None
        if variants is not None:
            assert labels is not None
            index, found = variants
            blocks: list[str] = []
            answers: list[str] = []
            texts: list[str] = []
            size = len(labels.texts)
            for style, order in found:
                options = fixed_options(style, tuple(labels.texts[i] for i in order), None)
                blocks.append(options.block)
                shown = options.tokens if style.target == "marker" else options.texts
                # The answer of gold label g is the one displayed where order puts g.
                answers.extend(shown[order.index(g)] for g in range(size))
                provenance = self._stand_in(options, order).provenance(owner.settings.seed)
                texts.append(json_text(provenance["options"]))
            values[OPTIONS_PLACEHOLDER] = pc.take(pa.array(blocks, _STRING), index)
            options_json = pc.take(pa.array(texts, _STRING), index)
            if task.target in plan.used:
                assert row_gold is not None
                where = pc.add(pc.multiply(index, size), row_gold)
                response_values = {
                    **values,
                    task.target: pc.take(pa.array(answers, _STRING), where),
                }
        parts: dict[str, Any] = {}
        for part, pattern in plan.patterns.items():
            pieces = pattern.pieces if variants is not None else pattern.plain
            source = response_values if part == "response" else values
            parts[part] = _join(
                [p if isinstance(p, str) else source[p.name] for p in pieces], count
            )
        datasets = pc.take(owner.batch_datasets, rows)
        record_ids = pc.binary_join_element_wise(
            datasets, "/", pc.take(owner.batch_ids, rows), f"/{template.id}", ""
        )
        return pa.table(
            {
                "instruction": parts["instruction"],
                "input": _constant("", count),
                "response": parts["response"],
                "system": parts.get("system", pa.nulls(count, _STRING)),
                "id": record_ids,
                "meta": self._meta(rows, options_json),
                _KEY: pc.add(pc.multiply(rows, owner.width), self.slot),
            },
            schema=_PART,
        )

    def _meta(self, rows: pa.Array, options_json: pa.Array | None) -> pa.Array:
        """The meta JSON text: a stand-in's provenance, split where rows differ."""
        owner = self.owner
        shown = options_json is not None
        key = (self.template.id, shown)
        pieces = owner.meta_pieces.get(key)
        if pieces is None:
            pieces = owner.meta_pieces[key] = self._meta_pieces(shown)
        head, middle, rest = pieces
        parts: list[Any] = [
            head,
            pc.take(owner.json_bodies[0], rows),
            middle,
            pc.take(owner.json_bodies[1], rows),
        ]
        if options_json is not None:
            before, tail = rest
            parts += [before, options_json, tail]
        else:
            parts.append(rest[0])
        return pc.binary_join_element_wise(*parts, "")

    def _stand_in(
        self,
        options: RenderedOptions | None,
        order: tuple[int, ...] | None,
        *,
        dataset: str = "",
        example_id: str = "",
    ) -> Rendered:
        """A rendering of this template whose provenance is every row's, but for the row."""
        return Rendered(
            template=self.template,
            example_id=example_id,
            dataset=dataset,
            system=None,
            instruction="",
            response="",
            options=options,
            order=order,
            picks={},
        )

    def _meta_pieces(self, shown: bool) -> tuple[str, str, tuple[str, ...]]:
        owner = self.owner
        dataset_mark, id_mark, options_mark = owner.marks
        labels = compiled(self.template).labels
        options = None
        if shown:
            # Any style will do: its options object is replaced by the mark below.
            assert labels is not None
            style = candidate_styles(self.template, owner.settings)[0]
            options = fixed_options(style, labels.texts, None)
        order = identity(len(labels.texts)) if labels is not None and shown else None
        stand_in = self._stand_in(options, order, dataset=dataset_mark, example_id=id_mark)
        provenance = stand_in.provenance(owner.settings.seed)
        if shown:
            provenance["options"] = options_mark
        text = meta_text({PROVENANCE_KEY: provenance})
        head, rest = text.split(dataset_mark)
        middle, rest = rest.split(id_mark)
        if not shown:
            return head, middle, (rest,)
        before, tail = rest.split(f'"{options_mark}"')
        return head, middle, (before, tail)
