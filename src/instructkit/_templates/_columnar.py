"""Columnar conversion: a whole Arrow batch rendered with Arrow kernels, no object per row.

The seeded picks are computed for the batch at once (``_hashing`` gives the same numbers per
column as per row). What a record's text is made of depends only on its *variant*: the
template, whether it shows options, and their style and order. Each variant's texts
(instruction, response, system, id and the provenance's JSON text) are literal pieces and
references to per-row values (the row's fields, its label or answer, its dataset and id).
The variants' pieces are aligned slot by slot, so every record's text is one join of the
same number of pieces (``binary_join_element_wise``): a literal taken per record from the
variants' texts, a value chosen per record from the columns. The records come out in row
order, with no grouping and no reordering.

Rows this path cannot render exactly take the per-row path of
:func:`~instructkit.convert` instead, and their records are merged back in place, so the
result is always the same: rows without an id (their id is a hash of their content), values
of other kinds than text and fixed labels (alternatives, numbers, lists, per-row choices),
values a row-level check would refuse (a missing field, a label outside the label space),
rows whose text could render blank, and every row when few-shot exemplars are asked for.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from instructkit._arrow import arrow_schema, holds_json, meta_text, to_arrow
from instructkit._errors import ConfigurationError, DataError
from instructkit._records import Instruction
from instructkit._reports import ItemReport, OnError, reject_row
from instructkit._sources import batch_rows
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
# A table's batches are converted this many rows at a time at most: the kernels' fixed cost
# is paid per slice, and each slice's temporary pieces (a few times its records' size) are
# let go before the next, so the memory they take is reused instead of growing with the table.
_SLICE = 65_536
_U64 = pa.uint64()
# Text that str.strip() leaves empty: only the characters str.isspace() accepts.
_BLANK = (
    r"^[\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}]*$"
)
# Characters JSON text escapes; a value holding none of them is its own JSON body.
_ESCAPED = r'[\x00-\x1f"\\]'
_QUOTES = pa.array([ord('"'), ord("\\")], pa.uint8())
# The first bytes of the UTF-8 of every character str.isspace() accepts.
_SPACE_LEADS = pa.array(
    [*range(0x09, 0x0E), *range(0x1C, 0x21), 0xC2, 0xE1, 0xE2, 0xE3], pa.uint8()
)


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
    for batch in data.to_batches(max_chunksize=_SLICE):
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


def _constant(value: Any, count: int, kind: pa.DataType = _STRING) -> pa.Array:
    return pa.nulls(count, kind).fill_null(pa.scalar(value, kind))


def _mod(values: pa.Array, modulus: int | pa.Array) -> pa.Array:
    # Arrow has no modulo kernel; unsigned integer division truncates.
    divisor = modulus if isinstance(modulus, pa.Array) else pa.scalar(modulus, _U64)
    return pc.cast(pc.subtract(values, pc.multiply(pc.divide(values, divisor), divisor)), _I64)


def _shuffled(examples: pa.Array, code: int | pa.Array, count: int, take: int) -> list[pa.Array]:
    """``_hashing.shuffled`` per row: ``take`` columns of positions in ``range(count)``.

    ``code`` is the decision's purpose code, or a ``uint64`` column of one per row.
    """
    rows = len(examples)
    positions = [_constant(k, rows, _I64) for k in range(count)]
    for step in range(min(take, count)):
        other = pc.add(_mod(draws(examples, code, step), count - step), step)
        chosen = pc.choose(other, *positions)
        for k in range(step + 1, count):
            positions[k] = pc.if_else(pc.equal(other, k), positions[step], positions[k])
        positions[step] = chosen
    return positions[: min(take, count)]


def _octets(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """A text column's data buffer as ``uint8`` values, and its ``len + 1`` offsets into it."""
    buffers = values.buffers()
    large = pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type)
    offsets = pa.Array.from_buffers(
        pa.int64() if large else pa.int32(),
        len(values) + 1,
        [None, buffers[1]],
        offset=values.offset,
    )
    data = buffers[2]
    size = 0 if data is None else data.size
    return pa.Array.from_buffers(pa.uint8(), size, [None, data]), offsets


def _json_body(values: pa.Array) -> pa.Array:
    """The JSON string bodies (without quotes) of text values, as orjson writes them."""
    octets, offsets = _octets(values)
    span = octets.slice(offsets[0].as_py(), offsets[-1].as_py() - offsets[0].as_py())
    # One look at all of the values' bytes first: almost always nothing needs escaping.
    if not pc.any(pc.or_(pc.less(span, 32), pc.is_in(span, value_set=_QUOTES))).as_py():
        return values
    needs = pc.match_substring_regex(values, _ESCAPED)
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


def _blank(column: pa.Array) -> pa.Array | None:
    """Which values ``str.strip()`` leaves empty (``None``: none of them)."""
    # Only a value that is empty or starts with whitespace can be blank: each value's first
    # byte tells whether any needs the whole look.
    octets, offsets = _octets(column)
    empty = pc.equal(pc.binary_length(column), 0)
    if len(octets):
        starts = offsets.slice(0, len(column))
        first = pc.take(octets, pc.if_else(empty, 0, starts))
        maybe = pc.or_(empty, pc.is_in(first, value_set=_SPACE_LEADS))
        if not pc.any(maybe).as_py():
            return None
    return pc.match_substring_regex(column, _BLANK)


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
            if names not in risks:
                risks.append(names)
    return risks


def _meta_storage(column: pa.ChunkedArray) -> pa.ChunkedArray:
    chunks = [c.storage if isinstance(c, pa.ExtensionArray) else c for c in column.chunks]
    return pa.chunked_array(chunks, _STRING)


@dataclass(frozen=True)
class _Ref:
    """A per-row value in a variant's text: a field's column, or one the converter makes."""

    name: str


# The values a variant's text takes per row besides the task's text fields. Their names are
# not identifiers, so no field can be called so.
_LABEL = _Ref(" label")  # the gold label's text
_ANSWER = _Ref(" answer")  # the answer as the variant's options show it
_DATASET = _Ref(" dataset")
_EXAMPLE = _Ref(" example id")
_DATASET_JSON = _Ref(" dataset json")
_EXAMPLE_JSON = _Ref(" example id json")
_NOTHING = _Ref(" nothing")  # fills the slots of a shorter variant: ""

_Spec = tuple[str | _Ref, ...]


@dataclass(frozen=True)
class _Variant:
    """How the records of one (template, options shown, style, order) are made.

    Each text is literal pieces and references to per-row values; ``system`` is ``None``
    for a template without a system pattern.
    """

    instruction: _Spec
    response: _Spec
    system: _Spec | None
    record_id: _Spec
    meta: _Spec
    answers: tuple[str, ...]  # per gold label index, the answer the response shows


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
        # The templates a row's picks index: the given order for "all", else by id.
        self.chosen = self.templates if call.every else self.picks.canonical
        labels = self.task.labels
        self.label_count = 0 if labels is None else len(labels)
        self.shuffle = self.settings.shuffle_options and self.label_count > 1
        self.candidates = [candidate_styles(t, self.settings) for t in self.chosen]
        self.style_span = max(len(c) for c in self.candidates)
        self.order_span = self.label_count**self.label_count if self.shuffle else 1
        # The provenance text splits at these: unique, and their own JSON text.
        self.marks = (uuid.uuid4().hex, uuid.uuid4().hex)
        self.variants: dict[int, _Variant] = {}

    def batch(self, batch: pa.RecordBatch, start: int, report: ItemReport | None) -> Any:
        rows = batch.num_rows
        if rows == 0:
            return _empty()
        batch = _decoded(batch)
        prepared = self._prepare(batch)
        if prepared is None:
            # Every row per row: its records come in row order already.
            part = self._per_row(batch, pa.array(range(rows), _I64), start, report)
            return _record_batch(part.columns[:-1])
        columns, fit = self._render(batch, *prepared)
        fallback = pc.cast(pc.indices_nonzero(pc.invert(fit)), _I64)
        if not len(fallback):
            if report is not None:
                report.seen += rows
                report.valid += rows
            return _record_batch(columns)
        # Some rows take the per-row path: the others' records, and theirs, are merged back
        # into the per-row order by each record's position (row * width + slot).
        width = self.width
        keep = _expanded(fit, width) if width > 1 else fit
        positions = pc.cast(pc.indices_nonzero(keep), _I64)
        rendered = [pc.filter(column, keep) for column in columns]
        part = self._per_row(batch, fallback, start, report)
        keys = pa.concat_arrays([positions, part.column(_KEY).combine_chunks()])
        order = pc.sort_indices(keys)
        merged = [
            pc.take(pa.concat_arrays([ours, *theirs.chunks]), order)
            for ours, theirs in zip(rendered, part.columns[:-1], strict=True)
        ]
        return _record_batch(merged)

    def _prepare(self, batch: pa.RecordBatch) -> tuple[Any, ...] | None:
        """The rows the columnar path may take, their example hashes, ids and datasets.

        The last item is the batch's one dataset name (``None``: the rows name several).
        """
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
        names_ = pc.unique(datasets).to_pylist()
        for name in names_:
            keyed = seeded(settings.seed, name).examples(ids)
            examples = (
                keyed if examples is None else pc.if_else(pc.equal(datasets, name), keyed, examples)
            )
        assert examples is not None
        return fit, examples, ids, datasets, names_[0] if len(names_) == 1 else None

    def _render(
        self,
        batch: pa.RecordBatch,
        fit: pa.Array,
        examples: pa.Array,
        ids: pa.Array,
        datasets: pa.Array,
        dataset: str | None,
    ) -> tuple[list[pa.Array], pa.Array]:
        """Every row's records in row order, and which rows they are right for.

        The records of rows outside the returned mask are to be thrown away (they may be
        null or wrong); those rows take the per-row path.
        """
        rows = batch.num_rows
        width = self.width
        picks = self.picks
        chosen = self.chosen
        if picks.every:
            slots = [_constant(i, rows, _I64) for i in range(len(chosen))]
        elif width == 1:
            slots = [_mod(draws(examples, picks.code), len(chosen))]
        else:
            slots = _shuffled(examples, picks.code, len(chosen), width)
        gold = self._gold(batch)
        unfit: dict[int, Any] = {}
        blanks: dict[str, pa.Array | None] = {}
        for picked in slots:
            for position, template in enumerate(chosen):
                if position not in unfit:
                    unfit[position] = self._unfit(batch, template, gold, blanks)
                bad = unfit[position]
                if bad is None:
                    continue
                members = pc.equal(picked, position)
                fit = pc.and_(fit, pc.invert(members if bad is True else pc.and_(members, bad)))
        # The records in output order: row r's slot s is record r * width + s.
        if width == 1:
            where = None
            picked = slots[0]
        else:
            count = rows * width
            output = pc.subtract(pc.cumulative_sum(_constant(1, count, _I64)), 1)
            where = pc.divide(output, width)
            slot = pc.subtract(output, pc.multiply(where, width))
            picked = pc.take(pa.concat_arrays(slots), pc.add(pc.multiply(slot, rows), where))
            examples = pc.take(examples, where)
            gold = None if gold is None else pc.take(gold, where)
        variant, keys = self._variant_index(picked, examples)
        present = [self._variant(key) for key in keys]
        count = len(variant)
        values = _Values(batch, where, ids, datasets, count)
        if dataset is not None:
            # One dataset for the batch: its name is literal text in every record.
            values.literals[_DATASET] = dataset
            values.literals[_DATASET_JSON] = orjson.dumps(dataset).decode()[1:-1]
        labels = compiled(chosen[0]).labels
        if gold is None or labels is None:
            # Every record that shows a label is unfit then: its value is never used.
            values.made[_LABEL] = values.made[_ANSWER] = pa.nulls(count, _STRING)
        else:
            values.made[_LABEL] = _Lazy(lambda: pc.take(pa.array(labels.texts, _STRING), gold))
            answers = pa.array([text for v in present for text in v.answers], _STRING)
            values.made[_ANSWER] = _Lazy(
                lambda: pc.take(answers, pc.add(pc.multiply(variant, self.label_count), gold))
            )
        columns = [
            _assemble([v.instruction for v in present], variant, values, count),
            _constant("", count),
            _assemble([v.response for v in present], variant, values, count),
            self._system(present, variant, values, count),
            _assemble([v.record_id for v in present], variant, values, count),
            _assemble([v.meta for v in present], variant, values, count),
        ]
        return columns, fit

    def _variant_index(self, picked: pa.Array, examples: pa.Array) -> tuple[pa.Array, list[int]]:
        """Each record's variant (an index into the keys) and the keys of the variants."""
        call = self.call
        chosen = self.chosen
        rate = call.rate
        can_show = [compiled(t).uses_options and self.label_count > 0 for t in chosen]
        positions = pc.cast(picked, _I64)
        shown: Any
        if rate <= 0.0 or not any(can_show):
            shown = None
        else:
            shown = pc.take(pa.array(can_show), positions)
            if rate < 1.0:
                codes = pa.array([self.picks.options[t.id] for t in chosen], _U64)
                drawn = units(draws(examples, pc.take(codes, positions)))
                shown = pc.and_(shown, pc.less(drawn, rate))
        key = pc.multiply(positions, 2)
        if shown is not None:
            key = pc.add(key, pc.cast(shown, _I64))
        key = pc.multiply(key, self.style_span)
        if shown is not None and self.style_span > 1:
            codes = pa.array([purpose("options-style", t.id) for t in chosen], _U64)
            sizes = pa.array([len(c) for c in self.candidates], _U64)
            style = _mod(draws(examples, pc.take(codes, positions)), pc.take(sizes, positions))
            key = pc.add(key, pc.if_else(shown, style, 0))
        key = pc.multiply(key, self.order_span)
        if shown is not None and self.shuffle:
            codes = pa.array([purpose("options-order", t.id) for t in chosen], _U64)
            count = self.label_count
            order = _constant(0, len(key), _I64)
            for column in _shuffled(examples, pc.take(codes, positions), count, count):
                order = pc.add(pc.multiply(order, count), column)
            key = pc.add(key, pc.if_else(shown, order, 0))
        present = pc.unique(key)
        return pc.cast(pc.index_in(key, value_set=present), pa.int32()), present.to_pylist()

    def _variant(self, key: int) -> _Variant:
        """The variant of a key of :meth:`_variant_index`, made once per call."""
        found = self.variants.get(key)
        if found is not None:
            return found
        rest, order_key = divmod(key, self.order_span)
        rest, style_pick = divmod(rest, self.style_span)
        position, shown = divmod(rest, 2)
        template = self.chosen[position]
        task = self.task
        plan = compiled(template)
        labels = plan.labels
        answers: tuple[str, ...] = () if labels is None else labels.texts
        options = None
        order = None
        if shown:
            assert labels is not None
            candidates = self.candidates[position]
            style = candidates[style_order(candidates)[style_pick]]
            count = len(labels.texts)
            if self.shuffle:
                digits = []
                for _ in range(count):
                    order_key, digit = divmod(order_key, count)
                    digits.append(digit)
                canonical = sorted_positions(labels.keys)
                order = tuple(canonical[d] for d in reversed(digits))
            else:
                order = identity(count)
            options = fixed_options(style, tuple(labels.texts[i] for i in order), None)
            shown_answers = options.tokens if style.target == "marker" else options.texts
            # The answer of gold label g is the one displayed where the order puts g.
            answers = tuple(shown_answers[order.index(g)] for g in range(count))
        texts: dict[str, _Spec] = {}
        for part, pattern in plan.patterns.items():
            spec: list[str | _Ref] = []
            for piece in pattern.pieces if shown else pattern.plain:
                if isinstance(piece, str):
                    spec.append(piece)
                elif piece.name == OPTIONS_PLACEHOLDER:
                    assert options is not None
                    spec.append(options.block)
                elif piece.name == task.target and task.labels is not None:
                    spec.append(_ANSWER if part == "response" else _LABEL)
                else:
                    spec.append(_Ref(piece.name))
            texts[part] = tuple(spec)
        found = self.variants[key] = _Variant(
            instruction=texts.get("instruction", ()),
            response=texts.get("response", ()),
            system=texts.get("system"),
            record_id=(_DATASET, "/", _EXAMPLE, f"/{template.id}"),
            meta=self._meta(template, options, order),
            answers=answers,
        )
        return found

    def _meta(
        self, template: Template, options: RenderedOptions | None, order: tuple[int, ...] | None
    ) -> _Spec:
        """The meta JSON text of a variant: its provenance, but for the dataset and id."""
        dataset_mark, id_mark = self.marks
        stand_in = Rendered(
            template=template,
            example_id=id_mark,
            dataset=dataset_mark,
            system=None,
            instruction="",
            response="",
            options=options,
            order=order,
            picks={},
        )
        text = meta_text({PROVENANCE_KEY: stand_in.provenance(self.settings.seed)})
        head, rest = text.split(dataset_mark)
        middle, tail = rest.split(id_mark)
        return (head, _DATASET_JSON, middle, _EXAMPLE_JSON, tail)

    def _system(
        self, present: list[_Variant], variant: pa.Array, values: _Values, count: int
    ) -> pa.Array:
        has = [v.system is not None for v in present]
        if not any(has):
            return pa.nulls(count, _STRING)
        text = _assemble([v.system or () for v in present], variant, values, count)
        if all(has):
            return text
        return pc.if_else(pc.take(pa.array(has), variant), text, pa.scalar(None, _STRING))

    def _unfit(
        self,
        batch: pa.RecordBatch,
        template: Template,
        gold: pa.Array | None,
        blanks: dict[str, pa.Array | None],
    ) -> Any:
        """Which rows the template cannot render here (``blanks``: masks found so far).

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
            if column.null_count:
                missing = pc.is_null(column)
                bad = missing if bad is None else pc.or_(bad, missing)
        if task.labels is not None and (task.target in plan.used or plan.uses_options):
            if gold is None:
                return True
            if gold.null_count:
                missing = pc.is_null(gold)
                bad = missing if bad is None else pc.or_(bad, missing)
        for names_ in _blank_risks(template):
            if not names_:
                return True
            blank: Any = True
            for name in names_:
                if name not in blanks:
                    blanks[name] = _blank(batch.column(name))
                empty = blanks[name]
                if empty is None:
                    blank = None
                    break
                blank = empty if blank is True else pc.and_(blank, empty)
            if blank is not None:
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
        for index, row in zip(rows.to_pylist(), _rows(batch, rows, start), strict=True):
            if report is not None:
                # The columnar rows before this one were valid; counted in row order, so a
                # report stopped by "raise" reads as the per-row one does.
                report.seen += index - previous
                report.valid += index - previous - 1
            previous = index
            try:
                made = convert_row(row, call, self.picks)
            except DataError as err:
                reject_row(err, row=start + index, report=report, on_error=call.on_error)
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


def _rows(batch: pa.RecordBatch, rows: pa.Array, start: int) -> list[dict[str, Any]]:
    """The rows at ``rows`` as ``convert`` gets them (JSON-typed values parsed)."""
    if not any(holds_json(field.type) for field in batch.schema):
        rows_: list[dict[str, Any]] = batch.take(rows).to_pylist()
        return rows_
    # One row at a time, so that a value that is not JSON is located at its own row.
    return [batch_rows(batch.slice(index, 1), start=start + index)[0] for index in rows.to_pylist()]


class _Lazy:
    """A per-record value made only if a variant's text refers to it."""

    def __init__(self, make: Callable[[], pa.Array]) -> None:
        self.make = make


class _Values:
    """The per-record values a variant's text refers to, made when first asked for."""

    def __init__(
        self,
        batch: pa.RecordBatch,
        where: pa.Array | None,
        ids: pa.Array,
        datasets: pa.Array,
        count: int,
    ) -> None:
        self.batch = batch
        self.where = where  # each record's row (None: one record per row)
        self.made: dict[_Ref, pa.Array | _Lazy] = {}
        self.literals: dict[_Ref, str] = {}  # values that are the same for every record
        self.ids = ids
        self.datasets = datasets
        self.count = count

    def __getitem__(self, ref: _Ref) -> pa.Array:
        found = self.made.get(ref)
        if isinstance(found, _Lazy):
            found = self.made[ref] = found.make()
        elif found is None:
            found = self.made[ref] = self._make(ref)
        return found

    def _make(self, ref: _Ref) -> pa.Array:
        if ref == _NOTHING:
            return _constant("", self.count)
        if ref == _DATASET:
            row_values = self.datasets
        elif ref == _EXAMPLE:
            row_values = self.ids
        elif ref == _DATASET_JSON:
            row_values = _json_body(self.datasets)
        elif ref == _EXAMPLE_JSON:
            row_values = _json_body(self.ids)
        else:
            names = self.batch.schema.names
            if ref.name not in names or not _is_text(self.batch.schema.field(ref.name).type):
                # The template is unfit for every row then: the value is never used.
                return pa.nulls(self.count, _STRING)
            row_values = pc.cast(self.batch.column(ref.name), _STRING)
        return row_values if self.where is None else pc.take(row_values, self.where)


def _assemble(specs: Sequence[_Spec], variant: pa.Array, values: _Values, count: int) -> pa.Array:
    """One text column: each record's variant's spec, with its own values in the slots.

    The specs are aligned as literal, value, literal, ... (a shorter one padded with empty
    literals and :data:`_NOTHING`); a literal that differs between variants is taken per
    record from the variants' texts, a value that differs is chosen per record from the
    columns. So each record's text is one join of the same number of pieces, in row order.
    """
    aligned = [_alternating(spec, values.literals) for spec in specs]
    width = max(len(refs) for _, refs in aligned)
    for literals, refs in aligned:
        literals.extend([""] * (width + 1 - len(literals)))
        refs.extend([_NOTHING] * (width - len(refs)))
    parts: list[Any] = []
    for slot in range(width + 1):
        texts = [literals[slot] for literals, _ in aligned]
        if len(set(texts)) == 1:
            if texts[0]:
                parts.append(texts[0])
        else:
            parts.append(pc.take(pa.array(texts, _STRING), variant))
        if slot == width:
            break
        refs = [found[slot] for _, found in aligned]
        distinct = list(dict.fromkeys(refs))
        if len(distinct) == 1:
            parts.append(values[distinct[0]])
        else:
            which = pa.array([distinct.index(ref) for ref in refs], pa.int8())
            parts.append(pc.choose(pc.take(which, variant), *[values[ref] for ref in distinct]))
    return _join(parts, count)


def _alternating(spec: _Spec, known: dict[_Ref, str]) -> tuple[list[str], list[_Ref]]:
    """A spec as literals and references, a literal before, between and after each value.

    References to values in ``known`` (the same for every record) become literal text.
    """
    literals = [""]
    refs: list[_Ref] = []
    for piece in spec:
        if isinstance(piece, _Ref) and piece in known:
            piece = known[piece]
        if isinstance(piece, str):
            literals[-1] += piece
        else:
            refs.append(piece)
            literals.append("")
    return literals, refs


def _expanded(mask: pa.Array, width: int) -> pa.Array:
    """A per-row mask repeated for each of a row's ``width`` records."""
    rows = len(mask)
    output = pc.subtract(pc.cumulative_sum(_constant(1, rows * width, _I64)), 1)
    return pc.take(mask, pc.divide(output, width))


def _record_batch(columns: Sequence[Any]) -> pa.RecordBatch:
    arrays = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns]
    arrays[-1] = pa.ExtensionArray.from_storage(_SCHEMA.field("meta").type, arrays[-1])
    return pa.RecordBatch.from_arrays(arrays, schema=_SCHEMA)
