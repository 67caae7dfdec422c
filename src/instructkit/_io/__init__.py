"""Files in and out: JSONL (plain, gzip, zstd), JSON arrays and Parquet.

One module per concern: ``_jsonl`` and ``_json`` frame and parse text files,
``_compression`` reads and writes gzip and Zstandard, ``_parquet`` reads Parquet and
``_parquet_writer`` writes it, ``_table`` reads whole files into Arrow tables, ``_native_rows``
is the fast path from native rows to records, ``_atomic`` makes writes atomic, ``_paths`` is
the one table of formats, suffixes and shard names (and expands globs and folders),
``_keywords`` checks the keywords reading and writing share, ``_reader`` holds
:func:`read`/:func:`read_raw` and ``_writer`` :func:`write`. The rest of the library imports
from here, never from the modules inside.
"""

from instructkit._io._atomic import ShardSet, check_max_rows
from instructkit._io._llama_factory import llama_factory_dataset_info
from instructkit._io._parquet_writer import write_parquet_table
from instructkit._io._reader import Reader, ReadPosition, read, read_raw
from instructkit._io._table import read_table
from instructkit._io._writer import WriteResult, write

__all__ = [
    "ReadPosition",
    "Reader",
    "ShardSet",
    "WriteResult",
    "check_max_rows",
    "llama_factory_dataset_info",
    "read",
    "read_raw",
    "read_table",
    "write",
    "write_parquet_table",
]
