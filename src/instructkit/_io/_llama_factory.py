"""LLaMA-Factory's ``dataset_info.json``: the entry that lets LLaMA-Factory load a data file.

LLaMA-Factory loads a local file only through an entry in ``dataset_info.json`` in its
dataset folder, naming the file, its ``formatting`` (``alpaca`` or ``sharegpt``), whether it
is a preference (``ranking``) dataset, the ``columns`` it uses and, for ShareGPT, the
``tags`` (message keys and role words). :func:`llama_factory_dataset_info` writes that entry
for a file instructkit wrote, next to it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from instructkit._dialects import Conversion, detect_dialect, get_dialect
from instructkit._errors import ConfigurationError
from instructkit._io._atomic import atomic_open
from instructkit._io._reader import read_raw

__all__ = ["llama_factory_dataset_info"]

# LLaMA-Factory's column names -> the dialect's (alpaca, sharegpt).
_ALPACA_COLUMNS = {
    "prompt": "instruction",
    "query": "input",
    "response": "output",
    "chosen": "chosen",
    "rejected": "rejected",
    "system": "system",
    "history": "history",
    "tools": "tools",
    "images": "images",
}
_SHAREGPT_COLUMNS = {
    "messages": "conversations",
    "chosen": "chosen",
    "rejected": "rejected",
    "system": "system",
    "tools": "tools",
    "images": "images",
}
# LLaMA-Factory's tag names -> (instructkit role, LLaMA-Factory's default word).
_ROLE_TAGS = {
    "user_tag": ("user", "human"),
    "assistant_tag": ("assistant", "gpt"),
    "observation_tag": ("tool", "observation"),
    "system_tag": ("system", "system"),
}


def llama_factory_dataset_info(
    *,
    path: str | os.PathLike[str],
    dialect: str | None = None,
    name: str | None = None,
    column_map: Mapping[str, str] | None = None,
    role_map: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Add (or replace) the ``dataset_info.json`` entry for a data file, next to the file.

    The file is read once to find the columns its rows use (LLaMA-Factory fails on a declared
    column that no row has) and whether they are preference (ranking) rows. Other entries of
    an existing ``dataset_info.json`` are kept; the file is written atomically.

    Args:
        path: The data file (JSON Lines, JSON or Parquet), in the ``alpaca`` or ``sharegpt``
            dialect.
        dialect: ``"alpaca"`` or ``"sharegpt"``; ``None`` detects it from the rows.
        name: The dataset name (the entry's key, what ``dataset:`` names in a LLaMA-Factory
            config); default the file name without its extension.
        column_map: As passed to :func:`~instructkit.write`, so the entry names your columns
            and message keys.
        role_map: As passed to :func:`~instructkit.write`, so the entry names your role words.

    Returns:
        The entry that was written.

    Raises:
        ConfigurationError: another dialect, no rows, or rows of both the supervised and the
            ranking layout (LLaMA-Factory reads one per dataset).

    Example:
        >>> import pathlib, tempfile, instructkit as ik
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> pair = ik.Preference(prompt=[{"role": "user", "content": "Hi"}],
        ...     chosen=[{"role": "assistant", "content": "Hello!"}],
        ...     rejected=[{"role": "assistant", "content": "Go away."}])
        >>> _ = ik.write([pair], folder / "pairs.json", dialect="alpaca")
        >>> ik.dialects.llama_factory_dataset_info(path=folder / "pairs.json")
        {'file_name': 'pairs.json', 'ranking': True, 'columns': {'prompt': 'instruction', 'query': 'input', 'chosen': 'chosen', 'rejected': 'rejected'}}
    """  # noqa: E501
    data = Path(path)
    with read_raw(data) as reader:
        rows = list(reader)
    if not rows:
        raise ConfigurationError(f"expected rows in {data.name} to describe, got none")
    if dialect is None:
        dialect = detect_dialect(rows, column_map=column_map).dialect
    if dialect not in ("alpaca", "sharegpt"):
        raise ConfigurationError(
            f"expected a file in the alpaca or sharegpt dialect (LLaMA-Factory's formats), "
            f"got {dialect!r}"
        )
    conv = Conversion(get_dialect(dialect), column_map=column_map, role_map=role_map)
    present = {key for row in rows for key, value in row.items() if value is not None}
    ranking = {conv.col("chosen") in row or conv.col("rejected") in row for row in rows}
    if len(ranking) > 1:
        raise ConfigurationError(
            f"expected rows of one layout in {data.name}, got both ranking rows (chosen, "
            "rejected) and supervised rows; LLaMA-Factory reads one per dataset"
        )
    entry: dict[str, Any] = {"file_name": data.name}
    if dialect == "sharegpt":
        entry["formatting"] = "sharegpt"
    if ranking == {True}:
        entry["ranking"] = True
    table = _ALPACA_COLUMNS if dialect == "alpaca" else _SHAREGPT_COLUMNS
    entry["columns"] = {
        theirs: conv.col(ours) for theirs, ours in table.items() if conv.col(ours) in present
    }
    if dialect == "sharegpt":
        tags = _tags(conv)
        if tags:
            entry["tags"] = tags
    target = data.parent / "dataset_info.json"
    info: dict[str, Any] = orjson.loads(target.read_bytes()) if target.exists() else {}
    info[data.stem.split(".")[0] if name is None else name] = entry
    with atomic_open(target) as handle:
        handle.write(orjson.dumps(info, option=orjson.OPT_INDENT_2) + b"\n")
    return entry


def _tags(conv: Conversion) -> dict[str, str]:
    """The ShareGPT ``tags`` that differ from LLaMA-Factory's defaults."""
    tags = {}
    for tag, key, default in (("role_tag", "from", "from"), ("content_tag", "value", "value")):
        if conv.col(key) != default:
            tags[tag] = conv.col(key)
    for tag, (role, default) in _ROLE_TAGS.items():
        if conv.role_out(role) != default:
            tags[tag] = conv.role_out(role)
    return tags
