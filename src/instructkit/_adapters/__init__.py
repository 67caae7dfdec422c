"""Dataset adapters: published rows of well-known NLP datasets as rows of the built-in tasks.

An adapter knows one dataset's published schema (as on the Hugging Face Hub): its column
names, its label ids and its quirks. :func:`adapt` runs one over a list of dicts, an Arrow
table or a ``datasets.Dataset`` and yields plain rows keyed by the task's field names, plus
``id`` (the dataset's own id, or a content hash) and ``dataset`` (the adapter's name), ready
for :func:`~instructkit.convert`. Nothing is downloaded: the caller brings the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from instructkit._adapters._base import Adapter
from instructkit._adapters._classification import ADAPTERS as _CLASSIFICATION
from instructkit._adapters._commonsense import ADAPTERS as _COMMONSENSE
from instructkit._adapters._generation import ADAPTERS as _GENERATION
from instructkit._adapters._qa import ADAPTERS as _QA
from instructkit._errors import ConfigurationError
from instructkit._progress import Progress
from instructkit._reports import ItemReport, OnError

__all__ = ["ADAPTERS", "Adapter", "adapt", "adapter_names", "get_adapter", "markdown_table"]

ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter for adapter in (*_CLASSIFICATION, *_QA, *_COMMONSENSE, *_GENERATION)
}
"""Every adapter by name, in catalogue order."""


def adapter_names() -> list[str]:
    """The names of the built-in dataset adapters, in catalogue order.

    Example:
        >>> import instructkit
        >>> "snli" in instructkit.adapters.adapter_names()
        True
    """
    return list(ADAPTERS)


def get_adapter(name: str | Adapter) -> Adapter:
    """The adapter called ``name``: its task, assumed schema, id columns and quirks.

    Raises:
        ConfigurationError: no adapter has that name.

    Example:
        >>> from instructkit.adapters import get_adapter
        >>> squad = get_adapter("squad")
        >>> squad.task.name, squad.id_columns
        ('extractive_qa', ('id',))
    """
    if isinstance(name, Adapter):
        return name
    try:
        return ADAPTERS[name]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"expected an adapter name among {adapter_names()}, got {name!r}"
        ) from None


def adapt(
    name: str | Adapter,
    rows: Any,
    *,
    on_error: OnError = "raise",
    report: ItemReport | None = None,
    progress: Progress = False,
    **options: Any,
) -> Iterator[dict[str, Any]]:
    """Map a dataset's published rows onto its built-in task's fields, lazily.

    Each output row has the task's fields (see :attr:`Adapter.task`), ``id`` (the
    dataset's own id column, or ``"h"`` + a hash of the published columns the adapter reads,
    so ids do not depend on row order or sharding) and ``dataset`` (the adapter's name). Texts
    are stripped of surrounding whitespace; nothing else is rewritten. Pass the rows to
    :func:`~instructkit.convert` with the task's templates and ``dataset=``.

    Args:
        name: An adapter name from :func:`adapter_names` (or an :class:`Adapter`).
        rows: The published rows: an iterable of dicts, a :class:`pyarrow.Table` or
            ``RecordBatch``, a list or iterator of record batches, or a Hugging Face
            ``datasets.Dataset`` / ``IterableDataset`` (one split). Read lazily, Arrow rows
            a batch at a time; nothing is downloaded.
        on_error: ``"raise"`` at the first bad row, or ``"skip"`` / ``"collect"`` it into
            ``report``. Bad rows are those that lack a published column, hold a value of the
            wrong type or an unknown label id, or have no gold label (``-1``, an empty answer
            key: test splits), which are reported as unlabeled rather than rendered.
        report: Counts input rows seen, valid and rejected (with each reason and row index);
            required unless ``on_error="raise"``. One input row counts once even when it
            yields two task rows (translation in both directions).
        progress: ``True`` shows the input rows read on stderr (out of the number of rows
            when ``rows`` has a length): a tqdm bar when tqdm is installed, else a plain line
            a few times a second. A callable is called with ``(rows so far, total or None)``
            (see ``docs/adapters.md``).
        **options: Adapter options (see :attr:`Adapter.options`), such as ``direction="de-en"``
            for ``"wmt"``.

    Returns:
        A lazy iterator of task rows.

    Raises:
        ConfigurationError: an unknown adapter or option, or rows of an unsupported kind (at
            the call).
        DialectError: under ``on_error="raise"``, the first bad row, located by row index and
            column (a :class:`~instructkit.DataError`).

    Example:
        >>> from instructkit import ItemReport, adapt
        >>> published = [
        ...     {"premise": "A man plays a guitar.", "hypothesis": "A person makes music.",
        ...      "label": 0},
        ...     {"premise": "Two dogs run.", "hypothesis": "Cats sleep.", "label": -1},
        ... ]
        >>> report = ItemReport()
        >>> rows = list(adapt("snli", published, on_error="skip", report=report))
        >>> rows[0]["label"], rows[0]["dataset"], rows[0]["id"].startswith("h")
        (0, 'snli', True)
        >>> report.summary()
        'snli: 2 seen, 1 valid, 1 rejected, 0 blank'
    """
    return get_adapter(name).rows(
        rows, on_error=on_error, report=report, progress=progress, **options
    )


def markdown_table() -> str:
    """The adapter table of ``docs/adapters.md``, built from the registry (a test compares).

    Example:
        >>> from instructkit._adapters import markdown_table
        >>> markdown_table().splitlines()[0].startswith("| adapter |")
        True
    """

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| adapter | dataset (Hub id) | task | published columns read | example id | quirks |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for adapter in ADAPTERS.values():
        ids = ", ".join(f"`{c}`" for c in adapter.id_columns) or "content hash"
        columns = ", ".join(f"`{c}`" for c in adapter.columns)
        lines.append(
            f"| `{adapter.name}` | {cell(adapter.title)} (`{cell(adapter.hub)}`) | "
            f"`{adapter.task.name}` | {columns} | {ids} | {cell(adapter.quirks)} |"
        )
    return "\n".join(lines) + "\n"
