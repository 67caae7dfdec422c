"""The named column rules: the record rules, checked on a whole Arrow table at once.

A copy of the rules of :mod:`instructkit._records`, kept for speed: :func:`validate_table`
checks every row of a table with Arrow compute, without a Python object per row, and only
the rows it finds bad are turned into records, so that the record layer words the error.
The constants the rules name (``ROLES``, ``EARLY_ROLES``) come from :mod:`instructkit._records`,
and a property test holds this copy to the reference on generated valid and invalid rows.
It is one module over 600 lines because its parts share the per-column facts (``_Turns``)
and the findings (``Findings``) of one scan.

The table is checked, column-wise, with Arrow compute:

* required texts present and non-empty (instruction, response, system/name/id when set,
  tool-call id and name, tool_call_id), ``input`` present;
* roles in the known set; content ``None`` only on an assistant turn with tool calls, ``""``
  only on tool turns and assistant turns with tool calls;
* ``tool_calls`` only on assistant turns, ``reasoning`` only on assistant turns,
  ``tool_call_id`` on (and only on) tool turns; weights in [0, 1] (NaN refused);
* at least one message in ``messages``, ``chosen`` and ``rejected``; lists never null;
* the cross-turn rules: system and developer turns only before the first user turn (a
  running count of user turns over all turns of a column); tool-call ids unique within a
  transcript, and every tool turn answering a call issued by an earlier turn of its
  transcript, once (group-bys and joins over just the tool turns and calls); for a
  preference, each of ``prompt + chosen`` and ``prompt + rejected``;
* valid UTF-8 everywhere (Arrow's full validation, on worker threads while the rest runs).

The checks cost about a tenth of pyarrow's parse, so they avoid work where they can: a
message field is extracted and the roles are hashed once per column; a rule about a field
that is null in every turn (``name``, ``reasoning``, ``weight``, ``tool_call_id``, tool
calls in data without any) builds no mask, as Arrow knows each column's null count.

Two checks look at values in Python, once per *distinct* value rather than per row: that
tool-call arguments and tool schemas are valid JSON text, and that ``meta`` texts other
than ``"{}"`` are JSON objects. Only rows found bad are then turned into records, to report
the record layer's own message for them. The result is exactly the rows
:func:`~instructkit.from_arrow` accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from instructkit._arrow._convert import records_from_batch
from instructkit._arrow._json import meta_value
from instructkit._arrow._schema import (
    MESSAGE_TYPE,
    TOOL_CALL_TYPE,
    conform_table,
    record_type_of,
    retype,
    storage_type,
)
from instructkit._errors import DataError, RecordValidationError
from instructkit._limits import MAX_DEPTH, may_break_limits
from instructkit._records import (
    EARLY_ROLES,
    MAX_WEIGHT,
    MIN_WEIGHT,
    ROLES,
    Conversation,
    Instruction,
    Preference,
    Record,
    check_json_text,
    check_meta_limits,
    resolve_record_type,
)
from instructkit._reports import ItemReport, OnError, check_on_error

__all__ = ["Findings", "check_utf8", "scan_table", "settle_table", "validate_table"]


# --- validation ----------------------------------------------------------------------------


def check_utf8(table: pa.Table, file: str) -> None:
    for name in table.schema.names:
        try:
            table.column(name).validate(full=True)
        except pa.ArrowInvalid as err:
            raise DataError(
                f"expected valid UTF-8 text in column {name!r}, got invalid bytes ({err})",
                file=file,
            ) from err


_ROLE_VALUES = pa.array(ROLES, pa.string())
_MSG = {MESSAGE_TYPE.field(i).name: i for i in range(MESSAGE_TYPE.num_fields)}
_CALL = {TOOL_CALL_TYPE.field(i).name: i for i in range(TOOL_CALL_TYPE.num_fields)}
_STORED_MESSAGE = storage_type(MESSAGE_TYPE)  # the checks see the storage types (see scan_table)


def _rows(mask: Any) -> pa.Array:
    """Indices where a boolean mask is true (nulls count as false)."""
    return pc.indices_nonzero(pc.fill_null(mask, False))


def _typed(value: int, kind: pa.DataType) -> pa.Scalar:
    # A Python int would be an int64 scalar, and the kernel would first cast a whole int32
    # array to int64 to compare it.
    return pa.scalar(value, kind)


def _empty(values: Any) -> Any:
    lengths = pc.binary_length(values)
    return pc.equal(lengths, _typed(0, lengths.type))


def _missing_or_empty(values: Any) -> Any:
    return pc.or_(pc.is_null(values), pc.fill_null(_empty(values), False))


def _set_but_empty(values: Any) -> Any:
    return pc.fill_null(_empty(values), False)


def _bad_json_texts(values: Any, *, objects: bool = False) -> Any:
    """Mask of values (texts) that are not valid JSON (or not JSON objects), via distinct values."""
    distinct = pc.unique(pc.drop_null(values))
    bad: list[str] = []
    for text in distinct.to_pylist():
        if objects:
            if text == "{}":
                continue
            try:
                value = meta_value(text)
                # The record's limits too (depth, 64-bit integers), as from_arrow applies them;
                # walked only when the text's bytes say it could break one (meta sits a
                # level inside its record).
                if may_break_limits(text.encode("utf-8", "surrogatepass"), limit=MAX_DEPTH - 1):
                    check_meta_limits(value)
            except DataError:
                bad.append(text)
            continue
        try:
            check_json_text(text)  # the record's own rule: JSON within the limits
        except ValueError:
            bad.append(text)
    if not bad:
        return None
    return pc.is_in(values, value_set=pa.array(bad, pa.string()))


class Findings:
    """Row indices (table-wide) that fail some check, with the first check's label."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, pa.Array]] = []
        # Rows whose messages hold content parts: the record layer checks those parts.
        self.suspects: list[pa.Array] = []

    def add(self, label: str, rows: Any) -> None:
        if len(rows):
            if isinstance(rows, pa.ChunkedArray):
                rows = rows.combine_chunks()
            self.parts.append((label, rows.cast(pa.int64())))

    def check_suspects(self, table: pa.Table, kind: type[Record]) -> None:
        """Check the rows holding content parts through the records; add the bad ones."""
        if not self.suspects:
            return
        chunks = [c.cast(pa.int64()) for r in self.suspects for c in pa.chunked_array(r).chunks]
        rows = pc.unique(pa.concat_arrays(chunks))
        probe = ItemReport()
        records_from_batch(table.take(rows), kind, on_error="collect", report=probe)
        failed = [rejection.row for rejection in probe.rejections if rejection.row is not None]
        if failed:
            self.add("content parts", pc.take(rows, pa.array(failed, pa.int64())))

    def bad_rows(self) -> list[int]:
        if not self.parts:
            return []
        joined = pa.concat_arrays([rows for _, rows in self.parts])
        return sorted(pc.unique(joined).to_pylist())

    def label(self, row: int) -> str:
        for label, rows in self.parts:
            if pc.any(pc.equal(rows, row)).as_py():
                return label
        return "a rule"


def _any_set(values: Any) -> bool:
    """Whether any value is non-null: free, Arrow keeps each chunk's null count."""
    return bool(values.null_count < len(values))


def _check_text_columns(table: pa.Table, kind: type[Record], out: Findings) -> None:
    required = {"instruction": False, "input": True, "response": False}
    if kind is Instruction:
        for name, allow_empty in required.items():
            column = table.column(name)
            mask = pc.is_null(column) if allow_empty else _missing_or_empty(column)
            out.add(f"$.{name} present and non-empty", _rows(mask))
        out.add("$.system non-empty", _rows(_set_but_empty(table.column("system"))))
    out.add("$.id non-empty", _rows(_set_but_empty(table.column("id"))))
    meta = table.column("meta")
    out.add("$.meta present", _rows(pc.is_null(meta)))
    bad_meta = _bad_json_texts(meta, objects=True)
    if bad_meta is not None:
        out.add("$.meta a JSON object", _rows(bad_meta))
    if kind is not Instruction:
        tools = table.column("tools")
        out.add("$.tools a list", _rows(pc.is_null(tools)))
        flat = pc.list_flatten(tools)
        if len(flat):
            parents = pc.list_parent_indices(tools)
            out.add("$.tools[] present", pc.take(parents, _rows(pc.is_null(flat))))
            bad = _bad_json_texts(flat)
            if bad is not None:
                out.add("$.tools[] JSON text", pc.take(parents, _rows(bad)))


_ROLE_CODE = {role: index for index, role in enumerate(ROLES)}
_EARLY_CODES = tuple(_ROLE_CODE[role] for role in EARLY_ROLES)
# The rule "system and developer turns only before the first user turn" tests for the
# smallest role codes with one comparison: ROLES lists the early roles first.
assert sorted(_EARLY_CODES) == list(range(len(EARLY_ROLES)))


class _Turns:
    """The flattened messages of one list column, with the per-turn facts the checks share.

    Built once per column and shared by the per-turn rules and the cross-turn rules, so each
    field is extracted, and each role string hashed, once.
    """

    def __init__(self, column: Any) -> None:
        self.column = column
        values = pc.list_flatten(column)
        self.count = len(values)
        if values.null_count:
            # A null message: pc.struct_field folds the struct's nulls into every field, so
            # the rules (role required, ...) see a missing value there.
            fields = [pc.struct_field(values, [i]) for i in range(MESSAGE_TYPE.num_fields)]
        else:
            # No null message (what the JSON reader and to_arrow give): the children as they
            # are, without the per-field bitmap merge pc.struct_field allocates.
            fields = [
                pa.chunked_array(
                    [chunk.field(i) for chunk in values.chunks], _STORED_MESSAGE.field(i).type
                )
                for i in range(MESSAGE_TYPE.num_fields)
            ]
        self.role = fields[_MSG["role"]]
        self.content = fields[_MSG["content"]]
        self.parts = fields[_MSG["parts"]]
        self.tool_calls = fields[_MSG["tool_calls"]]
        self.tool_call_id = fields[_MSG["tool_call_id"]]
        self.name = fields[_MSG["name"]]
        self.reasoning = fields[_MSG["reasoning"]]
        self.weight = fields[_MSG["weight"]]
        # Each turn's role as its index in ROLES, null when missing or unknown: the strings
        # are hashed once, and every role test below compares small integers.
        self.code = pc.index_in(self.role, value_set=_ROLE_VALUES)
        # Tool calls are rare in most data; with none at all, their rules are skipped.
        self.calls = pc.list_flatten(self.tool_calls)
        self.call_count = len(self.calls)
        self._parents: Any = None
        self._starts: Any = None
        self._users_before: pa.Array | None = None

    def is_role(self, role: str) -> Any:
        return pc.fill_null(pc.equal(self.code, _typed(_ROLE_CODE[role], self.code.type)), False)

    def is_early(self) -> Any:
        """System and developer turns."""
        last = _typed(max(_EARLY_CODES), self.code.type)
        return pc.fill_null(pc.less_equal(self.code, last), False)

    @property
    def parents(self) -> Any:
        """Each turn's row (int64), made only when a rule needs it."""
        if self._parents is None:
            self._parents = pc.list_parent_indices(self.column).cast(pa.int64())
        return self._parents

    @property
    def starts(self) -> Any:
        """Each row's first turn, as an index among all flattened turns."""
        if self._starts is None:
            lengths = self.lengths()
            self._starts = pc.subtract(pc.cumulative_sum(lengths), lengths)
        return self._starts

    def lengths(self) -> Any:
        """Each row's number of turns (0 for a null list)."""
        return pc.fill_null(pc.list_value_length(self.column), 0).cast(pa.int64())

    def positions(self, index: Any, rows: Any) -> Any:
        """0-based positions within their lists of the turns at flat ``index`` (of ``rows``)."""
        return pc.subtract(index, pc.take(self.starts, rows))

    def users_before(self) -> pa.Array:
        """``counts[k]``: how many of the first ``k`` flattened turns are user turns.

        One more entry than turns, so that the count at the end of the last row exists too;
        the user turns of a row before a turn are then a difference of two lookups.
        """
        if self._users_before is None:
            running = pc.cumulative_sum(self.is_role("user").cast(pa.int64()))
            if isinstance(running, pa.ChunkedArray):
                running = running.combine_chunks()
            self._users_before = pa.concat_arrays([pa.array([0], pa.int64()), running])
        return self._users_before

    def early_after_user(self) -> pa.Array:
        """Rows with a system or developer turn after a user turn of the same list."""
        early = pc.indices_nonzero(self.is_early())
        if not len(early):
            return early
        counts = self.users_before()
        rows = pc.take(self.parents, early)
        before = pc.subtract(pc.take(counts, early), pc.take(counts, pc.take(self.starts, rows)))
        return rows.filter(pc.greater(before, 0))

    def users_per_row(self) -> Any:
        """How many user turns each row's list holds."""
        counts = self.users_before()
        starts = self.starts
        return pc.subtract(pc.take(counts, pc.add(starts, self.lengths())), pc.take(counts, starts))


def _any_of(masks: list[Any]) -> Any:
    combined = masks[0]
    for mask in masks[1:]:
        combined = pc.or_(combined, mask)
    return combined


def _check_turns(turns: _Turns, field: str, out: Findings) -> None:
    """Per-turn rules, one combined mask (the record layer words the message later).

    A rule about a field that is null in every turn cannot fail, and Arrow knows each
    column's null count for free, so such rules (``name``, ``reasoning``, ``weight``,
    ``tool_call_id``, tool calls in data without any) build no mask at all.
    """
    if not turns.count:
        return
    assistant = turns.is_role("assistant")
    tool = turns.is_role("tool")
    not_assistant = pc.invert(assistant)
    masks = [pc.is_null(turns.code)]  # a missing or unknown role
    if turns.tool_calls.null_count:
        masks.append(pc.is_null(turns.tool_calls))
    calling = None  # assistant turns with tool calls: None when no turn has any
    if turns.call_count:
        has_calls = pc.fill_null(pc.greater(pc.list_value_length(turns.tool_calls), 0), False)
        calling = pc.and_(assistant, has_calls)
        masks.append(pc.and_(has_calls, not_assistant))
    # content: None only when calling; "" only when calling or on a tool turn
    content = turns.content
    if content.null_count:
        missing = pc.is_null(content)
        if _any_set(turns.parts):
            # Content given as parts: the records check those turns (rare; see suspects).
            given = pc.is_valid(turns.parts)
            out.suspects.append(pc.take(turns.parents, _rows(given)))
            missing = pc.and_(missing, pc.invert(given))
        masks.append(missing if calling is None else pc.and_(missing, pc.invert(calling)))
    empty = _set_but_empty(content)
    if pc.any(empty).as_py():
        allowed = tool if calling is None else pc.or_(tool, calling)
        masks.append(pc.and_(empty, pc.invert(allowed)))
    if _any_set(turns.name):
        masks.append(_set_but_empty(turns.name))
    if _any_set(turns.reasoning):
        masks.append(pc.and_(pc.is_valid(turns.reasoning), not_assistant))
    answers = turns.tool_call_id
    if answers.null_count:
        masks.append(pc.and_(tool, pc.is_null(answers)))
    if _any_set(answers):
        masks.append(pc.and_(pc.is_valid(answers), pc.invert(tool)))
        masks.append(_set_but_empty(answers))
    weight = turns.weight
    if _any_set(weight):
        in_range = pc.fill_null(
            pc.and_(pc.greater_equal(weight, MIN_WEIGHT), pc.less_equal(weight, MAX_WEIGHT)),
            False,
        )
        masks.append(pc.and_(pc.is_valid(weight), pc.invert(in_range)))
    found = _rows(_any_of(masks))
    if len(found):
        out.add(f"$.{field}[] turn rules", pc.take(turns.parents, found))
    if turns.call_count:
        calls = turns.calls
        arguments = pc.struct_field(calls, [_CALL["arguments"]])
        masks = [
            _missing_or_empty(pc.struct_field(calls, [_CALL["id"]])),
            _missing_or_empty(pc.struct_field(calls, [_CALL["name"]])),
            pc.is_null(arguments),
        ]
        bad_json = _bad_json_texts(arguments)
        if bad_json is not None:
            masks.append(pc.fill_null(bad_json, False))
        found = _rows(_any_of(masks))
        if len(found):
            owners = pc.take(turns.parents, pc.list_parent_indices(turns.tool_calls))
            out.add(f"$.{field}[].tool_calls[] rules", pc.take(owners, found))


def _arange(count: int) -> pa.Array:
    """``0, 1, ..., count - 1`` built in Arrow (no Python int per item, no numpy)."""
    return pc.subtract(pc.cumulative_sum(pa.nulls(count, pa.int64()).fill_null(1)), 1)


class _ToolLinks:
    """The tool-call facts of the cross-turn rules, gathered per list column, checked once.

    Every turn belongs to a transcript (``tid``: the row, or ``2 * row + side`` for the two
    transcripts of a preference) at a position. Only tool turns (with the call id they
    answer) and tool calls (with their id) are kept, usually a small part of all turns,
    and the group-bys and joins run once over the whole table.
    """

    def __init__(self, per_row: int) -> None:
        self.per_row = per_row
        self.tools: list[pa.Table] = []
        self.calls: list[pa.Table] = []

    def _tid(self, rows: Any, side: int) -> Any:
        return rows if self.per_row == 1 else pc.add(pc.multiply(rows, 2), side)

    def add(self, turns: _Turns, side: int = 0, shift: Any = None) -> None:
        """Add a column's tool turns and calls; ``shift``: per row, added to positions."""
        answers = turns.tool_call_id
        if _any_set(answers):  # else no tool turn answers anything: nothing to link
            index = pc.indices_nonzero(pc.and_(turns.is_role("tool"), pc.is_valid(answers)))
            if len(index):
                rows = pc.take(turns.parents, index)
                self.tools.append(
                    pa.table(
                        {
                            "tid": self._tid(rows, side),
                            "pos": self._positions(turns, index, rows, shift),
                            "answers": pc.take(answers, index),
                        }
                    )
                )
        if turns.call_count:
            calls = turns.calls
            ids = pc.struct_field(calls, [_CALL["id"]])
            valid = pc.is_valid(ids)
            owner = pc.list_parent_indices(turns.tool_calls).cast(pa.int64()).filter(valid)
            rows = pc.take(turns.parents, owner)
            self.calls.append(
                pa.table(
                    {
                        "tid": self._tid(rows, side),
                        "call_pos": self._positions(turns, owner, rows, shift),
                        "answers": ids.filter(valid),
                    }
                )
            )

    @staticmethod
    def _positions(turns: _Turns, index: Any, rows: Any, shift: Any) -> Any:
        positions = turns.positions(index, rows)
        return positions if shift is None else pc.add(positions, pc.take(shift, rows))

    def bad_rows(self) -> pa.Array:
        bad: list[Any] = []
        # One chunk each: the gathered columns come from takes over the table's many chunks,
        # and Acero's group-bys and joins pay per batch.
        calls = pa.concat_tables(self.calls).combine_chunks() if self.calls else None
        if calls is not None and calls.num_rows:
            # A call id used twice in one transcript.
            repeated = calls.group_by(["tid", "answers"]).aggregate([("call_pos", "count")])
            bad.append(repeated.filter(pc.greater(repeated["call_pos_count"], 1))["tid"])
        tools = pa.concat_tables(self.tools).combine_chunks() if self.tools else None
        if tools is not None and tools.num_rows:
            # A call answered twice, or a tool turn answering no earlier call.
            twice = tools.group_by(["tid", "answers"]).aggregate([("pos", "count")])
            bad.append(twice.filter(pc.greater(twice["pos_count"], 1))["tid"])
            if calls is None or not calls.num_rows:
                bad.append(tools["tid"])
            else:
                linked = tools.join(calls, ["tid", "answers"], join_type="left outer")
                unanswered = pc.or_(
                    pc.is_null(linked["call_pos"]),
                    pc.fill_null(pc.greater_equal(linked["call_pos"], linked["pos"]), True),
                )
                bad.append(linked.filter(unanswered)["tid"])
        chunks = [chunk.cast(pa.int64()) for column in bad for chunk in column.chunks]
        if not chunks:
            return pa.array([], pa.int64())
        tids = pc.unique(pa.concat_arrays(chunks))
        if self.per_row == 1:
            return tids
        return pc.unique(pc.divide(tids, self.per_row))


def _check_cross_turn(
    table: pa.Table, kind: type[Record], found: dict[str, _Turns], out: Findings
) -> None:
    """The rules that span turns: system placement and tool-call linkage."""
    label = "cross-turn rules"
    links = _ToolLinks(2 if kind is Preference else 1)
    if kind is Conversation:
        turns = found["messages"]
        out.add(label, turns.early_after_user())
        links.add(turns)
    else:
        # Two transcripts per row, prompt + chosen and prompt + rejected: the prompt's turns
        # belong to both, and the positions of the other turns follow the prompt's.
        prompt = found["prompt"]
        out.add(label, prompt.early_after_user())
        prompt_users = prompt.users_per_row() if prompt.count else None
        prompt_length = prompt.lengths()
        for side, name in enumerate(("chosen", "rejected")):
            turns = found[name]
            out.add(label, turns.early_after_user())
            if prompt_users is not None and turns.count:
                # An early turn after a user turn of the prompt.
                rows = pc.take(turns.parents, pc.indices_nonzero(turns.is_early()))
                out.add(label, rows.filter(pc.greater(pc.take(prompt_users, rows), 0)))
            links.add(prompt, side)
            links.add(turns, side, prompt_length)
    out.add(label, links.bad_rows())


def _check_lists(table: pa.Table, kind: type[Record], out: Findings) -> None:
    names = ("messages",) if kind is Conversation else ("prompt", "chosen", "rejected")
    found: dict[str, _Turns] = {}
    for name in names:
        column = table.column(name)
        out.add(f"$.{name} a list", _rows(pc.is_null(column)))
        if name != "prompt":
            length = pc.list_value_length(column)
            out.add(f"$.{name} non-empty", _rows(pc.equal(length, 0)))
        turns = _Turns(column)
        _check_turns(turns, name, out)
        found[name] = turns
    _check_cross_turn(table, kind, found, out)


def validate_table(
    table: pa.Table,
    record: type[Record] | str | None = None,
    *,
    on_error: OnError = "raise",
    report: ItemReport | None = None,
    file: str | None = None,
    line_of: Callable[[set[int]], dict[int, int]] | None = None,
) -> pa.Table:
    """Check every row of a table with Arrow compute; return it (without bad rows if skipping).

    Args:
        table: A table of a record type's columns (conformed first; see
            :func:`~instructkit._arrow.conform_table`).
        record: The record type; by default from the schema.
        on_error: ``"raise"`` raises for the first bad row; ``"skip"`` and ``"collect"`` drop
            bad rows and count them in ``report``.
        report: An :class:`~instructkit.ItemReport` to fill.
        file: The file name, for errors.
        line_of: Maps rows to 1-based lines, for errors (JSONL).

    Returns:
        The table with exactly the rows that are valid records.

    Raises:
        RecordValidationError: the first bad row, located (``on_error="raise"``).
        DataError: the table's columns are not a record type's.
    """
    policy = check_on_error(on_error)
    if record is not None:
        kind = resolve_record_type(record)
    else:
        found = record_type_of(table.schema)
        if found is None:
            raise DataError(
                f"expected the columns of an Instruction, Conversation or Preference table, "
                f"got {table.schema.names}",
                file=file,
            )
        kind = found
    table = conform_table(table, kind, file=file)
    return settle_table(table, kind, scan_table(table, kind), policy, report, file, line_of)


def scan_table(table: pa.Table, kind: type[Record]) -> Findings:
    """Every check, column-wise; the rows that fail some check."""
    out = Findings()
    # Compute functions take no extension types: check JSON text as the text it is stored as
    # (a cast that shares the buffers).
    table = pa.Table.from_arrays(
        [retype(column, storage_type(column.type)) for column in table.columns],
        names=table.column_names,
    )
    # Whole columns at once: compute functions loop over the chunks in C++, while a Python
    # loop over pyarrow's ~1 MiB JSON blocks would pay the call overhead a thousand times.
    _check_text_columns(table, kind, out)
    if kind is not Instruction:
        _check_lists(table, kind, out)
    return out


def settle_table(
    table: pa.Table,
    kind: type[Record],
    out: Findings,
    policy: OnError,
    report: ItemReport | None,
    file: str | None,
    line_of: Callable[[set[int]], dict[int, int]] | None,
) -> pa.Table:
    """Apply the ``on_error`` policy to the rows ``out`` found bad."""
    tally = report if report is not None else ItemReport()
    out.check_suspects(table, kind)
    bad = out.bad_rows()
    if bad and policy == "raise":
        # The read stops at the first bad row: the rows after it were never looked at, so
        # they are not counted, and the report balances with the one rejection.
        tally.seen += bad[0] + 1
        tally.valid += bad[0]
    else:
        tally.seen += table.num_rows
        tally.valid += table.num_rows - len(bad)
    if not bad:
        return table
    targets = bad[:1] if policy == "raise" else bad
    lines = line_of(set(targets)) if line_of is not None else {}
    for row in targets:
        error = _describe(table, kind, row, out, file, lines.get(row))
        tally.reject(error, on_error=policy)
    keep = pc.invert(pc.is_in(_arange(table.num_rows), value_set=pa.array(bad, pa.int64())))
    return table.filter(keep)


def _describe(
    table: pa.Table,
    kind: type[Record],
    row: int,
    out: Findings,
    file: str | None,
    line: int | None,
) -> DataError:
    # The record layer words the message, so read_table and from_arrow say the same thing.
    probe = ItemReport()
    records_from_batch(table.slice(row, 1), kind, start=row, on_error="collect", report=probe)
    if probe.rejections and probe.rejections[0].error is not None:
        return probe.rejections[0].error.located(file=file, line=line, row=row)
    return RecordValidationError(  # pragma: no cover - the checks mirror the record rules
        f"expected a row that keeps {out.label(row)}, got one that breaks it",
        file=file,
        line=line,
        row=row,
    )
