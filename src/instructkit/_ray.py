"""Converting, mixing and writing sharded Parquet with Ray Data, partition by partition.

The public face is :mod:`instructkit.ray`. Every step here works on Arrow batches in the
workers and gives the records one process gives, whatever the partitioning:

* converting runs a :class:`~instructkit.templates.BatchConverter` in ``map_batches``;
  every seeded choice depends only on the seed, the dataset and the example;
* mixing plans on the driver (:func:`~instructkit.templates.plan_mixture`, from the sources'
  counts) and keeps or copies each record in the workers by
  :func:`~instructkit._templates.copies_in_mixture`, the choice :func:`~instructkit.mix`
  makes; hard ``limits`` depend on the order of a stream, so they are refused here;
* writing lets each worker write its batches as Parquet files into the hidden workspace of
  one :class:`~instructkit._io.ShardSet` (on a file system the driver sees), which the driver
  then commits as ``train-0000k-of-0000N`` shards with their manifest, exactly as
  :func:`~instructkit.write` commits a sharded set.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import ray.data

from instructkit._arrow import (
    conform_table,
    from_arrow,
    record_type_of,
    to_arrow,
    validate_table,
)
from instructkit._errors import ConfigurationError, DataError
from instructkit._io import ShardSet, WriteResult, check_max_rows, write_parquet_table
from instructkit._records import Record, resolve_record_type
from instructkit._reports import OnError
from instructkit._templates import (
    BatchConverter,
    FewShot,
    OptionStyle,
    Template,
    copies_in_mixture,
    mix_key,
    plan_mixture,
)

__all__ = ["convert", "mix", "write_parquet"]

_PARQUET = ".parquet"


def convert(
    rows: ray.data.Dataset,
    templates: Template | Sequence[Template],
    /,
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
    batch_size: int | None = 65_536,
) -> ray.data.Dataset:
    """Render a Ray dataset of rows with a task's templates, in the workers.

    The records are those :func:`~instructkit.convert` gives for the same rows and
    arguments, however the dataset is partitioned; the result has the Instruction schema
    (:func:`~instructkit.arrow.arrow_schema`).

    Args:
        rows: A Ray dataset of rows of the task's fields (and ``id_field``).
        templates: One template or several, all of one task.
        seed: The seed of every choice.
        dataset: The dataset name, as for :func:`~instructkit.convert`.
        per_example: As for :func:`~instructkit.convert`.
        options: As for :func:`~instructkit.convert`.
        option_styles: As for :func:`~instructkit.convert`.
        shuffle_options: As for :func:`~instructkit.convert`.
        fewshot: As for :func:`~instructkit.convert`.
        id_field: As for :func:`~instructkit.convert`.
        on_error: Only ``"raise"`` (see :class:`~instructkit.templates.BatchConverter`).
        batch_size: Rows per batch handed to a worker; ``None``: each block whole. Each
            batch is converted column by column at a fixed cost per template, so batches of
            tens of thousands of rows convert several times faster than Ray's default of
            about a thousand.

    Returns:
        A lazy Ray dataset of Instruction rows.

    Raises:
        ConfigurationError: a bad argument (checked before anything runs).
    """
    converter = BatchConverter(
        templates,
        seed=seed,
        dataset=dataset,
        per_example=per_example,
        options=options,
        option_styles=option_styles,
        shuffle_options=shuffle_options,
        fewshot=fewshot,
        id_field=id_field,
        on_error=on_error,
    )
    return rows.map_batches(converter, batch_format="pyarrow", batch_size=batch_size)


def _record_type(schema: pa.Schema, record: type[Record] | str | None, name: str) -> type[Record]:
    if record is not None:
        return resolve_record_type(record)
    # Ray keeps the columns of a table but not always its schema's metadata: the column
    # names tell the record type then.
    kind = record_type_of(schema)
    if kind is None:
        raise DataError(
            f"expected the columns of an Instruction, Conversation or Preference table in "
            f"{name}, got {schema.names}"
        )
    return kind


class _Select:
    """Keeps (or copies) each record of one mixture source, as :func:`~instructkit.mix` does."""

    def __init__(self, *, seed: int, source: str, probability: float) -> None:
        self.seed = seed
        self.source = source
        self.probability = probability

    def __call__(self, batch: pa.Table) -> pa.Table:
        kind = _record_type(batch.schema, None, f"source {self.source!r}")
        table = conform_table(batch, kind)
        keys: list[str | None] = table.column("id").to_pylist()
        missing = [row for row, key in enumerate(keys) if not key]
        if missing:
            # A record without an id is known by a hash of its data, as in one process.
            records = from_arrow(table.take(missing), record=kind)
            for row, record in zip(missing, records, strict=True):
                keys[row] = mix_key(record)
        indices = [
            row
            for row, key in enumerate(keys)
            for _ in range(copies_in_mixture(self.seed, self.source, str(key), self.probability))
        ]
        return table.take(pa.array(indices, pa.int64()))


def mix(
    sources: Mapping[str, ray.data.Dataset],
    *,
    seed: int,
    cap: int | None = 3000,
    weights: Mapping[str, float] | None = None,
    temperature: float | None = None,
    limits: Mapping[str, int] | None = None,
    total: int | None = None,
    sizes: Mapping[str, int] | None = None,
    repeat: bool = False,
) -> ray.data.Dataset:
    """Mix Ray datasets of records, choosing the records :func:`~instructkit.mix` chooses.

    The plan comes from :func:`~instructkit.templates.plan_mixture` over the sources' sizes
    (``sizes``, else each dataset's ``count()``, which runs it). Each record is kept, or
    copied, by a seeded hash of ``(seed, source name, record id)`` in the workers, so the
    mixture holds the same records as ``instructkit.mix`` of the same sources, for any
    partitioning; only their order differs (the sources one after another, not
    interleaved).

    Args:
        sources: Name to a Ray dataset of one record type's rows (Arrow schema or its
            storage form, as :func:`convert` or ``ray.data.read_parquet`` of instructkit's
            files give).
        seed: As for :func:`~instructkit.mix`.
        cap: As for :func:`~instructkit.mix`.
        weights: As for :func:`~instructkit.mix`.
        temperature: As for :func:`~instructkit.mix`.
        limits: Refused unless empty: a hard limit keeps the first records of a stream, and
            which records come first depends on the partitioning.
        total: As for :func:`~instructkit.mix`.
        sizes: Sizes of sources, to save counting them.
        repeat: As for :func:`~instructkit.mix`.

    Returns:
        The sources' selected records, as one lazy Ray dataset.

    Raises:
        ConfigurationError: a bad argument, or ``limits``.
    """
    if limits:
        raise ConfigurationError(
            f"expected no limits= in a distributed mix, got {dict(limits)}: a hard limit "
            "keeps a source's first records, which depend on how the data is partitioned; "
            "lower the source's weight or the total instead, or mix in one process"
        )
    if not isinstance(sources, Mapping) or not sources:
        raise ConfigurationError("expected sources to be a non-empty mapping of name to datasets")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigurationError(f"expected seed to be an int, got {seed!r}")
    given = dict(sizes or {})
    unknown = sorted(set(given) - set(sources))
    if unknown:
        raise ConfigurationError(f"expected sizes keys among the sources, got {unknown}")
    counts = {name: given[name] if name in given else ds.count() for name, ds in sources.items()}
    plan = plan_mixture(
        counts, cap=cap, weights=weights, temperature=temperature, total=total, repeat=repeat
    )
    parts = []
    for name, dataset in sources.items():
        expected = plan[name][1]
        if expected <= 0 or counts[name] == 0:
            continue
        select = _Select(seed=seed, source=name, probability=expected / counts[name])
        parts.append(dataset.map_batches(select, batch_format="pyarrow"))
    if not parts:
        return next(iter(sources.values())).limit(0)
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


class _WriteShards:
    """Writes each batch as Parquet files of at most ``max_rows`` rows into a workspace."""

    def __init__(
        self,
        *,
        workspace: Path,
        record: type[Record] | None,
        max_rows: int | None,
        options: dict[str, Any],
    ) -> None:
        self.workspace = workspace
        self.record = record
        self.max_rows = max_rows
        self.options = options

    def __call__(self, batch: pa.Table) -> pa.Table:
        files: list[str] = []
        rows: list[int] = []
        if batch.num_rows:
            kind = _record_type(batch.schema, self.record, "the dataset")
            # The same checks as every instructkit reader: a file written here is one they
            # read back, with the same records.
            table = validate_table(conform_table(batch, kind), kind)
            step = self.max_rows or table.num_rows
            # A retried task writes under a new name; only the names returned are adopted.
            token = secrets.token_hex(8)
            for number, start in enumerate(range(0, table.num_rows, step)):
                path = self.workspace / f"{token}-{number:05d}{_PARQUET}"
                rows.append(write_parquet_table(table.slice(start, step), path, **self.options))
                files.append(path.name)
        return pa.table({"file": pa.array(files, pa.string()), "rows": pa.array(rows, pa.int64())})


def write_parquet(
    dataset: ray.data.Dataset,
    path: str | os.PathLike[str],
    *,
    record: type[Record] | str | None = None,
    max_rows_per_file: int | None = None,
    compression: str = "zstd",
    compression_level: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> WriteResult:
    """Write a Ray dataset of records as one atomic set of Parquet shards, from the workers.

    Each worker checks its batch as instructkit's readers do and writes it as Parquet files
    (instructkit's schema and footer, as :func:`~instructkit.write` writes them) into the
    set's hidden temporary folder next to ``path``; the driver then commits them as
    ``<stem>-0000k-of-0000N.parquet`` with the set's manifest. Until that commit the
    destination keeps its previous set; on any error no final name is touched.
    :func:`~instructkit.read` and :func:`~instructkit.read_table` take ``result.paths``.

    ``path``'s folder must be on a file system every worker and the driver see (a local
    folder on one machine; a shared mount on a cluster), since the shards are renamed, not
    copied, into place.

    Args:
        dataset: Rows of one record type (Arrow schema or its storage form).
        path: The unsharded destination (``out/train.parquet``); shards are named from it.
        record: The record type; by default from the columns.
        max_rows_per_file: At most this many rows per shard; ``None``: one shard per batch
            a worker gets. A batch is never split across workers, so shards may be smaller.
        compression: As for :func:`~instructkit.write`.
        compression_level: As for :func:`~instructkit.write`.
        metadata: Extra footer key-value metadata, as for :func:`~instructkit.write`.

    Returns:
        What was written: the shards in the order Ray returned the batches (the dataset's
        order when its ``DataContext`` preserves order), and the rows of each.

    Raises:
        ConfigurationError: a bad argument, or a path that is not ``.parquet``.
        DataError: a batch whose columns are not a record type's, or a bad row (the first
            one, located within its batch). Ray hands an error raised in a worker back
            wrapped in its ``UserCodeException`` unless the dataset's ``DataContext`` has
            ``raise_original_map_exception = True``; then it is instructkit's own error.
    """
    if not os.fspath(path).lower().endswith(_PARQUET):
        raise ConfigurationError(f"expected a .parquet destination, got {os.fspath(path)!r}")
    kind = resolve_record_type(record) if record is not None else None
    # The workers' current folder is not the driver's: they get the absolute path.
    path = os.path.abspath(os.fspath(path))
    options: dict[str, Any] = {
        "compression": compression,
        "compression_level": compression_level,
        "metadata": metadata,
    }
    max_rows = check_max_rows(max_rows_per_file)
    with ShardSet(path, max_rows_per_file=max_rows) as shards:
        writer = _WriteShards(
            workspace=shards.workspace(), record=kind, max_rows=max_rows, options=options
        )
        written = dataset.map_batches(writer, batch_format="pyarrow").take_all()
        counts = []
        for item in written:
            shards.adopt(shards.workspace() / item["file"])
            counts.append(int(item["rows"]))
        if not written:
            # No rows at all: one empty file with the schema, as write() makes.
            empty = to_arrow([], record=kind or _empty_record_type(dataset))
            counts.append(write_parquet_table(empty, shards.add(), **options))
    return WriteResult(tuple(shards.paths), sum(counts), tuple(counts), "parquet", "instructkit")


def _empty_record_type(dataset: ray.data.Dataset) -> type[Record]:
    schema = dataset.schema()
    arrow = getattr(schema, "base_schema", None)
    kind = record_type_of(arrow) if isinstance(arrow, pa.Schema) else None
    if kind is None:
        raise ConfigurationError(
            "expected record= (Instruction, Conversation or Preference) for a dataset without "
            f"rows, got none, and columns {None if schema is None else list(schema.names)}"
        )
    return kind
