"""Every error the readers raise or collect on bad input carries a location: file and loc.

A problem with a whole line, element or file (bytes that are not JSON, a broken array, a file
that is not Parquet) is located at the root, ``$``; line, row, column and byte offset say the
rest where they apply.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from instructkit import (
    DataError,
    Instruction,
    ItemReport,
    MalformedJSONError,
    read,
    read_raw,
    read_table,
    to_arrow,
)

GOOD = b'{"instruction": "a", "response": "b"}'

CORPUS: dict[str, bytes] = {
    "not-json.jsonl": GOOD + b"\nnot json\n",
    "not-an-object.jsonl": b"[1]\n",
    "repeated-key.jsonl": b'{"instruction": "a", "instruction": "b", "response": "c"}\n',
    "invalid-record.jsonl": b'{"instruction": "", "response": "c"}\n',
    "not-utf8.jsonl": b'{"instruction": "\xff", "response": "c"}\n',
    "inner-bom.jsonl": GOOD + b"\n\xef\xbb\xbf" + GOOD + b"\n",
    "utf16.jsonl": "\ufeff{}".encode("utf-16"),
    "nan.jsonl": b'{"instruction": NaN}\n',
    "truncated.jsonl": GOOD + b'\n{"instruction": "a',
    "truncated.jsonl.gz": gzip.compress(GOOD + b"\n" + GOOD + b"\n", mtime=0)[:-12],
    "damaged.jsonl.gz": b"\x1f\x8b\x08\x00garbage-garbage",
    "no-dialect.jsonl": b'{"zzz": 1}\n',
    "spread.json": b'{\n  "rows": [\n {"instruction": "a", "response": "b"}\n]\n}\n',
    "spread-twice.json": b'{\n "a": 1\n}\n{\n "b": 2\n}\n',
    "after-array.json": b"[" + GOOD + b"] x",
    "missing-comma.json": b"[" + GOOD + b" " + GOOD + b"]",
    "unclosed.json": b"[" + GOOD + b",",
    "trailing-comma.json": b"[" + GOOD + b",]",
    "bad-elements.json": b"[" + GOOD + b',\n{"a": NaN},\n1\n]',
    "not-parquet.parquet": b"PAR1 this is not parquet",
    "empty.parquet": b"",
}


def _parquet_files(folder: Path) -> list[Path]:
    table = to_arrow([Instruction(instruction="x", response="y")] * 2, record=Instruction)
    index = table.schema.get_field_index("instruction")
    invalid = table.set_column(index, "instruction", pa.array(["", "x"]))
    other = pa.table({"instruction": ["a", ""], "input": ["", ""], "output": ["b", "c"]})
    paths = []
    for name, data in [
        ("invalid-rows.parquet", invalid),
        ("alpaca-rows.parquet", other),
        ("other-columns.parquet", pa.table({"x": [1, 2]})),
    ]:
        pq.write_table(data, folder / name)
        paths.append(folder / name)
    return paths


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("bad")
    paths = []
    for name, data in CORPUS.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths + _parquet_files(folder)


def _table(path: Path, **kwargs: Any) -> Any:
    return read_table(path, record=Instruction, **kwargs)


READERS: dict[str, Callable[..., Any]] = {
    "read": lambda path, **kw: list(read(path, **kw)),
    "read_raw": lambda path, **kw: list(read_raw(path, **kw)),
    "read_table": _table,
}


def _errors(reader: str, path: Path, mode: str) -> list[DataError]:
    report = ItemReport()
    found: list[DataError] = []
    try:
        READERS[reader](path, on_error=mode, report=report)
    except DataError as err:
        found.append(err)
    # Under "raise" the error raised is also the last rejection's: count it once.
    found.extend(
        r.error
        for r in report.rejections
        if r.error is not None and not any(r.error is e for e in found)
    )
    assert report.balanced, report.summary()
    return found


@pytest.mark.parametrize("mode", ["raise", "collect"])
@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_reader_error_on_bad_input_is_located(
    corpus: list[Path], reader: str, mode: str
) -> None:
    seen = 0
    for path in corpus:
        if reader == "read_table" and path.suffix == ".json":
            continue  # read_table reads JSON Lines and Parquet only
        for error in _errors(reader, path, mode):
            seen += 1
            assert error.loc is not None, (path.name, str(error))
            assert error.file is not None, (path.name, str(error))
            assert f"- at {error.loc}" in str(error)
    assert seen >= 15  # the corpus did produce errors


def test_malformed_json_is_located_at_the_root_and_a_repeated_key_at_its_path(
    corpus: list[Path],
) -> None:
    folder = corpus[0].parent
    (error,) = _errors("read_raw", folder / "not-json.jsonl", "raise")
    assert isinstance(error, MalformedJSONError)
    assert (error.loc, error.line, error.column) == ("$", 2, 1)
    (error,) = _errors("read_raw", folder / "repeated-key.jsonl", "raise")
    assert error.loc == "$.instruction"
