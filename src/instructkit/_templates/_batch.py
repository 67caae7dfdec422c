"""Converting batches of rows in worker processes: Ray Data and ``datasets``' ``map``.

A :class:`BatchConverter` holds :func:`~instructkit.convert`'s arguments and converts one
batch at a time. It is a plain picklable object, so engines that ship a function to other
processes (Ray's ``map_batches``, ``datasets.Dataset.map(num_proc=N)``) can call it there.
Every seeded choice of ``convert`` depends only on the seed, the dataset and the example, so
the records of a batch do not depend on which batch, worker or machine converts it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa

from instructkit._errors import ConfigurationError, DataError
from instructkit._records import Instruction
from instructkit._reports import OnError
from instructkit._templates._columnar import convert_table
from instructkit._templates._convert import check_call
from instructkit._templates._fewshot import FewShot
from instructkit._templates._options import OptionStyle
from instructkit._templates._template import Template

__all__ = ["BatchConverter"]


class BatchConverter:
    """:func:`~instructkit.convert` as a picklable callable over batches of rows.

    Built for engines that split a dataset into batches and hand each to a worker process:

    * Ray Data: ``dataset.map_batches(BatchConverter(...), batch_format="pyarrow")`` (or
      :func:`instructkit.ray.convert`); a batch is a :class:`pyarrow.Table` and the result
      is a table with :func:`~instructkit.arrow.arrow_schema` of
      :class:`~instructkit.Instruction`, made by
      :func:`~instructkit.templates.convert_table` (equal to
      ``to_arrow(list(convert(rows, ...)))``).
    * Hugging Face ``datasets``: ``dataset.map(BatchConverter(...), batched=True,
      num_proc=N, remove_columns=dataset.column_names)``; a batch is a mapping of column
      names to lists (or a table, with ``with_format("arrow")``), and the result is the same
      table. ``datasets`` takes its types as they are: ``meta`` becomes its ``Json()``
      feature (Python values when read), as in instructkit's Parquet files, and no column is
      typed from the first batch alone (a first batch without a system prompt would
      otherwise fix ``system`` as null).

    The records of a row depend only on the row and the arguments, never on the batch it
    came in, so any split of the rows into batches, in any order, gives the same records.

    Args:
        templates: One template or several, all of one task.
        seed: The seed of every choice.
        dataset: As for :func:`~instructkit.convert` (rows may carry their own
            ``dataset``, as :func:`~instructkit.adapt` sets it).
        per_example: As for :func:`~instructkit.convert`.
        options: As for :func:`~instructkit.convert`.
        option_styles: As for :func:`~instructkit.convert`.
        shuffle_options: As for :func:`~instructkit.convert`.
        fewshot: As for :func:`~instructkit.convert`; its pool travels with the converter
            to every worker.
        id_field: As for :func:`~instructkit.convert`.
        on_error: Only ``"raise"``: a worker cannot hand an
            :class:`~instructkit.ItemReport` back, and a row left out without a count would
            disappear untracked. Filter the rows first (the engines' ``filter``), or convert
            in one process with ``on_error="skip"`` and ``report=``.

    Raises:
        ConfigurationError: a bad argument (checked here, before any batch is converted), or
            ``on_error`` other than ``"raise"``.

    Example:
        >>> import pyarrow as pa
        >>> from instructkit import Task, Template
        >>> task = Task(name="qa", fields={"question": "text", "answer": "text"},
        ...             target="answer")
        >>> t = Template(id="qa-1", task=task, instruction="Q: {question}", response="{answer}")
        >>> converter = BatchConverter(t, seed=1)
        >>> converter(pa.table({"id": ["a"], "question": ["2+2?"], "answer": ["4"]}))[
        ...     "instruction"].to_pylist()
        ['Q: 2+2?']
        >>> converter({"id": ["a"], "question": ["2+2?"], "answer": ["4"]})["id"].to_pylist()
        ['qa/a/qa-1']
    """

    def __init__(
        self,
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
    ) -> None:
        if on_error != "raise":
            raise ConfigurationError(
                f"expected on_error='raise' for a BatchConverter (a worker cannot hand back "
                f"an ItemReport), got {on_error!r}: filter the rows first, or convert in one "
                "process with on_error='skip' and report="
            )
        self._templates = (templates,) if isinstance(templates, Template) else tuple(templates)
        self._arguments: dict[str, Any] = {
            "seed": seed,
            "dataset": dataset,
            "per_example": per_example,
            "options": options,
            "option_styles": option_styles,
            "shuffle_options": shuffle_options,
            "fewshot": fewshot,
            "id_field": id_field,
        }
        # The checks convert and convert_table make, now: a mistake shows on the driver
        # instead of in the first worker.
        check_call(
            self._templates, record=Instruction, on_error="raise", report=None, **self._arguments
        )

    def __repr__(self) -> str:
        ids = ", ".join(t.id for t in self._templates)
        return f"BatchConverter([{ids}], seed={self._arguments['seed']!r})"

    def __call__(self, batch: Any) -> pa.Table:
        """Convert one batch.

        Args:
            batch: A :class:`pyarrow.Table` or :class:`pyarrow.RecordBatch` of rows, or a
                mapping of column names to equally long lists (``datasets``' batches).

        Returns:
            A :class:`pyarrow.Table` with :func:`~instructkit.arrow.arrow_schema` of
            :class:`~instructkit.Instruction`, for either kind of batch.

        Raises:
            ConfigurationError: a batch of another kind.
            DataError: a mapping whose columns Arrow cannot hold (unequal lengths, or two
                types in one column).
            TemplateError: a row that cannot be rendered (its ``row`` counts within the
                batch).
        """
        if isinstance(batch, (pa.Table, pa.RecordBatch)):
            return self._convert_batch(batch)
        if isinstance(batch, Mapping):
            # A table, not a dict of lists: datasets would type each column from the first
            # batch it writes, and a first batch without a system prompt would fix `system`
            # as null and fail on the next.
            try:
                table = pa.Table.from_pydict(dict(batch))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
                raise DataError(
                    "expected a batch of equally long columns, each of one type, got one "
                    f"Arrow cannot hold: {err}"
                ) from err
            return self._convert_batch(table)
        raise ConfigurationError(
            "expected a batch as a pyarrow Table or RecordBatch, or a mapping of column names "
            f"to lists, got {type(batch).__name__}"
        )

    def _convert_batch(self, table: pa.Table | pa.RecordBatch) -> pa.Table:
        """The Instruction table of one batch's records (the schema even when empty)."""
        converted = convert_table(_one_chunk(table), self._templates, **self._arguments)
        if isinstance(converted, pa.RecordBatch):
            return pa.Table.from_batches([converted])
        return converted


def _one_chunk(table: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """``table`` as one batch of its rows, when it comes in pieces.

    The engines hand over tables in many small chunks: ``datasets`` memory-maps its Arrow
    files as record batches of 1,000 rows (its ``writer_batch_size``), and Ray builds a batch
    from several blocks. ``convert_table`` pays a fixed cost per template for every chunk,
    so a batch of 25,000 rows in 25 chunks converts about 2.5 times slower than the same rows
    in one. Joining the chunks copies the input once, which costs far less (pyarrow keeps
    more text than one string array holds, 2 GiB, in as few chunks as it needs).
    """
    if not isinstance(table, pa.Table) or all(column.num_chunks <= 1 for column in table.columns):
        return table
    return table.combine_chunks()
