"""The adapter machinery: reading rows from any supported container, checking published columns.

A dataset adapter is a small function from one row in a dataset's published shape to one (or,
for translation in both directions, several) rows of a built-in task. Everything shared by the
adapters lives here: turning a list, an Arrow table or a Hugging Face ``datasets.Dataset`` into
a stream of plain dicts, typed column access that fails with a located
:class:`~instructkit.DialectError`, the example id, and the ``on_error`` bookkeeping.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from instructkit._errors import ConfigurationError, DataError, DialectError, with_article
from instructkit._progress import Progress, check_progress, known_length, track
from instructkit._records import check_text
from instructkit._reports import ItemReport, OnError, check_on_error, reject_row
from instructkit._sources import BATCH_ROWS, arrow_source, iter_rows
from instructkit._templates import DATASET_FIELD, Task, Template

__all__ = [
    "BATCH_ROWS",
    "Adapter",
    "Mapped",
    "Mapper",
    "Row",
    "iter_source",
]

Mapped = dict[str, Any] | list[tuple[str, dict[str, Any]]]
"""What a row mapper returns: the task fields of one row, or ``(id suffix, fields)`` pairs when
one published row becomes several task rows (translation in both directions)."""

Mapper = Callable[["Row", Mapping[str, Any]], Mapped]
"""A row mapper: a published row and the adapter's options to task fields."""


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an int"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return with_article(type(value).__name__)


class Row:
    """One published row, with typed column access that raises located errors.

    Every accessor raises :class:`~instructkit.DialectError` (a :class:`~instructkit.DataError`)
    located at the column, saying what the dataset publishes there and what came instead.
    """

    def __init__(self, data: Mapping[str, Any], dataset: str) -> None:
        self.data = data
        self.dataset = dataset

    def error(self, column: str, reason: str) -> DialectError:
        """An error about ``column`` of this row."""
        return DialectError(f"adapter {self.dataset!r}: {reason}", loc=_loc(column))

    def has(self, column: str) -> bool:
        """Whether the row has ``column`` (with a non-null value)."""
        return self.data.get(column) is not None

    def raw(self, column: str) -> Any:
        """The value of ``column``, which must be present and not null.

        Raises:
            DialectError: the column is missing or null.
        """
        if column not in self.data:
            keys = ", ".join(sorted(str(k) for k in self.data)) or "none"
            raise self.error(
                column, f"expected a column {column!r}, got a row without it (columns: {keys})"
            )
        value = self.data[column]
        if value is None:
            raise self.error(column, f"expected a value in column {column!r}, got null")
        return value

    def text(self, column: str) -> str:
        """Non-blank text from ``column``, stripped of surrounding whitespace.

        Raises:
            DialectError: missing, not text, or blank.
        """
        value = self.raw(column)
        if not isinstance(value, str):
            raise self.error(column, f"expected text in column {column!r}, got {_type_name(value)}")
        stripped = value.strip()
        if not stripped:
            raise self.error(column, f"expected non-blank text in column {column!r}, got {value!r}")
        return self.encodable(stripped, column)

    def encodable(self, text: str, where: str) -> str:
        """``text`` (found at ``where``), if UTF-8 can encode it: no lone surrogate.

        Python strings (and so rows built in Python) may hold lone surrogates that no record,
        JSON or Arrow writer accepts; refusing them here keeps the error at the column.

        Raises:
            DialectError: ``text`` holds a lone surrogate.
        """
        try:
            return check_text(text)
        except ValueError as err:
            raise self.error(where, f"{err} in {where!r}") from None

    def texts(self, column: str, *, minimum: int = 1, distinct: bool = False) -> list[str]:
        """A list of non-blank texts from ``column`` (each stripped).

        Args:
            column: The column.
            minimum: The fewest items accepted.
            distinct: Reject repeated items (answer choices must differ).

        Raises:
            DialectError: missing, not a list of text, a blank item, too few or repeated items.
        """
        return self.text_list(self.raw(column), column, minimum=minimum, distinct=distinct)

    def text_list(
        self, value: object, where: str, *, minimum: int = 1, distinct: bool = False
    ) -> list[str]:
        """Check that ``value`` (found at ``where``) is a list of non-blank texts; strip them.

        Raises:
            DialectError: not a list of text, a blank item, too few or repeated items.
        """
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise self.error(
                where, f"expected a list of texts in {where!r}, got {_type_name(value)}"
            )
        out: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(
                    f"{where}[{index}]",
                    f"expected text items in {where!r}, got {_type_name(item)}",
                )
            stripped = self.encodable(item.strip(), f"{where}[{index}]")
            if not stripped:
                raise self.error(
                    f"{where}[{index}]", f"expected non-blank items in {where!r}, got {item!r}"
                )
            if distinct and stripped in out:
                raise self.error(
                    f"{where}[{index}]",
                    f"expected distinct items in {where!r}, got {stripped!r} twice",
                )
            out.append(stripped)
        if len(out) < minimum:
            raise self.error(
                where, f"expected at least {minimum} item(s) in {where!r}, got {len(out)}"
            )
        return out

    def mapping(self, column: str) -> Mapping[str, Any]:
        """An object (a struct column) from ``column``.

        Raises:
            DialectError: missing or not an object.
        """
        value = self.raw(column)
        if not isinstance(value, Mapping):
            raise self.error(
                column, f"expected an object in column {column!r}, got {_type_name(value)}"
            )
        return value

    def label(
        self,
        column: str,
        allowed: Sequence[int],
        *,
        unlabeled: Sequence[object] = (-1,),
        meaning: str = "",
    ) -> int:
        """An int label id from ``column``, one of ``allowed``.

        Args:
            column: The column.
            allowed: The label ids the dataset publishes.
            unlabeled: Values that mark a row without a gold label (``-1`` in most releases).
            meaning: What the ids stand for, for the message (``"0 entailment, 1 neutral"``).

        Raises:
            DialectError: missing, not an int, outside ``allowed``, or an unlabeled marker.
        """
        value = _plain_int(self.raw(column))
        if value in unlabeled and not isinstance(value, bool):
            raise self.unlabeled(column, value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(
                column, f"expected an int label id in column {column!r}, got {_type_name(value)}"
            )
        if value not in allowed:
            said = f" ({meaning})" if meaning else ""
            raise self.error(
                column,
                f"expected a label id among {list(allowed)}{said} in column {column!r}, "
                f"got {value}",
            )
        return value

    def unlabeled(self, column: str, value: object) -> DialectError:
        """The error for a row whose gold label is missing (``-1``, ``""``): reported, not used."""
        return self.error(
            column,
            f"expected a labelled row, got {value!r} in column {column!r} (an unlabeled row, "
            "as in a test split without gold labels)",
        )

    def choice_index(self, column: str, keys: Sequence[str], *, what: str) -> int:
        """The position in ``keys`` of the text key in ``column`` (an answer key, ``"2"``...).

        Raises:
            DialectError: missing, not text, empty (unlabeled) or not among ``keys``.
        """
        value = _plain_int(self.raw(column))
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise self.error(
                column, f"expected {what} as text in column {column!r}, got {_type_name(value)}"
            )
        key = value.strip()
        if not key:
            raise self.unlabeled(column, value)
        if key not in keys:
            raise self.error(
                column, f"expected {what} among {list(keys)} in column {column!r}, got {value!r}"
            )
        return list(keys).index(key)


def _plain_int(value: object) -> object:
    # numpy and pandas integers (rows from a DataFrame) are not ints; treat them as their value.
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, int)):
        return int(value)
    return value


def _loc(column: str) -> str:
    # Column names are identifiers in every supported dataset, except nested paths such as
    # "answers.text" or "choices[1]" that the accessors build; both read well after "$.".
    return f"$.{column}"


def content_id(data: Mapping[str, Any], columns: Sequence[str]) -> str:
    """A stable id from the published columns' content: ``"h"`` and 16 hex digits.

    Only ``columns`` count (not their order in the row, not other columns), so the id does
    not depend on where the row sits in its split, on a shuffle or on a shard; identical
    published rows share an id.
    """
    content = {name: data.get(name) for name in columns}
    # numpy values (rows built from arrays) hash like the Python values they hold.
    options = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    raw = orjson.dumps(content, option=options, default=repr)
    return "h" + hashlib.blake2b(raw, digest_size=8).hexdigest()


@dataclass(frozen=True)
class Adapter:
    """A dataset adapter: maps a public dataset's published rows onto a built-in task.

    Get one with :func:`~instructkit.adapters.get_adapter`; run it with :meth:`rows` (or
    :func:`~instructkit.adapt`).

    Attributes:
        name: The adapter's name, also the dataset name put in every row (``"snli"``).
        title: The dataset's usual name (``"SNLI"``).
        hub: Where the assumed schema is published (the Hugging Face Hub id and config).
        task: The built-in task the rows are for.
        schema: The published columns and label ids the adapter reads, as it assumes them.
        columns: The published columns the adapter reads (the first level of nesting).
        id_columns: Columns holding the dataset's own example id, tried in order; rows
            without one get :func:`content_id` of ``columns``.
        quirks: How the adapter handles the dataset's peculiarities, in a sentence or two.
        mapper: The row function: a published :class:`Row` and the options to task fields.
        options: Keyword options :meth:`rows` accepts, with their defaults.
        check_options: Checks resolved options (raises ConfigurationError), if any.
    """

    name: str
    title: str
    hub: str
    task: Task
    schema: str
    columns: tuple[str, ...]
    id_columns: tuple[str, ...]
    quirks: str
    mapper: Mapper = field(repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)
    check_options: Callable[[dict[str, Any]], None] | None = field(default=None, repr=False)

    def templates(self) -> list[Template]:
        """The built-in templates of this adapter's task.

        Example:
            >>> from instructkit.adapters import get_adapter
            >>> templates = get_adapter("snli").templates()
            >>> templates[0].task.name
            'nli'
        """
        # The library imports the template layer, never the adapters, so this stays acyclic.
        from instructkit._library import builtin_templates

        return builtin_templates(self.task)

    def example_id(self, data: Mapping[str, Any]) -> str:
        """The row's id: its first present ``id_columns`` value as text, else a content hash.

        Raises:
            DialectError: the id column holds something other than text or an int.
        """
        for column in self.id_columns:
            value = _plain_int(data.get(column))
            if value is None or value == "":
                continue
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise DialectError(
                    f"adapter {self.name!r}: expected the id in column {column!r} to be text or "
                    f"an int, got {_type_name(value)}",
                    loc=_loc(column),
                )
            return Row(data, self.name).encodable(str(value), column)
        try:
            return content_id(data, self.columns)
        except TypeError:
            # orjson refuses text UTF-8 cannot encode; name the column that holds it.
            for column in self.columns:
                try:
                    content_id(data, (column,))
                except TypeError as err:
                    raise DialectError(
                        f"adapter {self.name!r}: expected values encodable as UTF-8 in column "
                        f"{column!r} (the example id is a hash of them), got {err}",
                        loc=_loc(column),
                    ) from None
            raise

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The adapter's options with ``given`` applied, checked.

        Raises:
            ConfigurationError: an unknown option or a bad value.
        """
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            accepted = sorted(self.options) or "none"
            raise ConfigurationError(
                f"adapter {self.name!r}: expected options among {accepted}, got {unknown}"
            )
        resolved = {**self.options, **given}
        if self.check_options is not None:
            self.check_options(resolved)
        return resolved

    def map_row(self, data: object, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The task rows for one published row (``id`` and ``dataset`` included).

        Raises:
            DialectError: the row does not have the dataset's published shape, or has no gold
                label.
        """
        if not isinstance(data, Mapping):
            raise DialectError(
                f"adapter {self.name!r}: expected a row mapping column names to values, "
                f"got {_type_name(data)}",
                loc="$",
            )
        mapped = self.mapper(Row(data, self.name), options)
        base = self.example_id(data)
        pieces = [("", mapped)] if isinstance(mapped, dict) else mapped
        out = []
        for suffix, fields in pieces:
            row = {"id": base + suffix, DATASET_FIELD: self.name}
            row.update(fields)
            out.append(row)
        return out

    def rows(
        self,
        data: Any,
        *,
        on_error: OnError = "raise",
        report: ItemReport | None = None,
        progress: Progress = False,
        **options: Any,
    ) -> Iterator[dict[str, Any]]:
        """Map published rows onto task rows, lazily; see :func:`~instructkit.adapt`.

        Raises:
            ConfigurationError: a bad argument (at the call, before any row is read).
            DialectError: under ``on_error="raise"``, the first row that does not fit the
                published shape or has no gold label, located by row index and column.
        """
        policy = check_on_error(on_error)
        if policy != "raise" and report is None:
            raise ConfigurationError(
                f"expected report= with on_error={policy!r}, so that rejected rows are counted"
            )
        if report is not None and not isinstance(report, ItemReport):
            raise ConfigurationError(f"expected report to be an ItemReport, got {report!r}")
        resolved = self.resolve_options(options)
        progress = check_progress(progress)
        source = iter_source(data)
        if progress is not False:
            source = iter(
                track(
                    source,
                    progress,
                    desc=f"adapt {self.name}",
                    unit="rows",
                    total=known_length(data),
                )
            )
        if report is not None and report.source is None:
            report.source = self.name
        return self._run(source, resolved, policy, report)

    def _run(
        self,
        source: Iterator[object],
        options: Mapping[str, Any],
        on_error: OnError,
        report: ItemReport | None,
    ) -> Iterator[dict[str, Any]]:
        for index, item in enumerate(source):
            if report is not None:
                report.seen += 1
            try:
                mapped = self.map_row(item, options)
            except DataError as err:
                reject_row(err, row=index, report=report, on_error=on_error)
                continue
            if report is not None:
                report.valid += 1
            yield from mapped


def iter_source(data: object) -> Iterator[object]:
    """The rows of ``data`` as an iterator, checking the container type now.

    Accepted: an iterable of row mappings (a list, a generator), a Hugging Face
    ``datasets.Dataset`` or ``IterableDataset``, a :class:`pyarrow.Table`,
    :class:`pyarrow.RecordBatch`, or a list or iterator of record batches (see
    :func:`instructkit._sources.iter_rows`: Arrow rows are read in batches, honouring a
    dataset's ``select`` and ``shuffle``). ``datasets`` is never imported here.

    Raises:
        ConfigurationError: a single row, text, a ``DatasetDict`` or a pandas DataFrame.
    """
    if isinstance(data, (str, bytes)):
        raise ConfigurationError(
            f"expected rows (a list of dicts, an Arrow table or a datasets.Dataset), got "
            f"{type(data).__name__}"
        )
    # Checked before Mapping: a DatasetDict is a dict of splits (and is refused there).
    source = None if isinstance(data, Iterator) else arrow_source(data)
    if source is not None:
        return iter_rows(data)  # type: ignore[arg-type]
    if isinstance(data, Mapping):
        raise ConfigurationError(
            "expected rows (a list of dicts, an Arrow table or a datasets.Dataset), got a "
            "single mapping (wrap one row in a list; pick a split of a DatasetDict)"
        )
    if type(data).__module__.split(".")[0] == "pandas":
        raise ConfigurationError(
            "expected rows (a list of dicts, an Arrow table or a datasets.Dataset), got a pandas "
            f"{type(data).__name__}; pass pyarrow.Table.from_pandas(frame) or "
            "frame.to_dict('records')"
        )
    if not isinstance(data, Iterable):
        raise ConfigurationError(
            f"expected rows (a list of dicts, an Arrow table or a datasets.Dataset), got "
            f"{type(data).__name__}"
        )
    return iter_rows(data)
