"""JSONL document strategies, checked against two readers.

One is a small reference reader written here from the documented rules (frame on ``\\n``;
CR before it is whitespace; blank lines are skipped but numbered; a BOM only at the start of
the file; no duplicate keys, NaN or non-objects), so the strategies are checked against the
rules themselves; the other is instructkit's own reader, :func:`instructkit.read_raw`, which
the strategies' expectations must match.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from instructkit import DataError, read_raw
from instructkit.strategies import (
    JSONL_DEFECTS,
    JSONL_NOISE,
    CorruptDocument,
    JsonlDocument,
    corrupt_jsonl_documents,
    jsonl_documents,
)

T = TypeVar("T")


class BadLine(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(f"bad line {line}")
        self.line = line


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def reference_read(data: bytes) -> list[dict[str, Any]]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    rows = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip(b" \t\r"):
            continue
        try:
            value = json.loads(
                raw.decode("utf-8"),
                object_pairs_hook=_no_duplicates,
                parse_constant=_no_constants,
            )
        except ValueError as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise BadLine(number) from err
        if not isinstance(value, dict):
            raise BadLine(number)
        rows.append(value)
    return rows


def read_with_instructkit(data: bytes, **kwargs: Any) -> tuple[list[dict[str, Any]], Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.jsonl"
        path.write_bytes(data)
        with read_raw(path, **kwargs) as reader:
            rows = list(reader)
        return rows, reader.report


def find_any(strategy: st.SearchStrategy[T], condition: Callable[[T], bool]) -> T:
    return find(
        strategy,
        condition,
        settings=settings(max_examples=1000, phases=[Phase.generate], database=None, deadline=None),
    )


# --- valid documents ----------------------------------------------------------------------


@given(jsonl_documents())
def test_valid_documents_read_back_as_their_rows(doc: JsonlDocument) -> None:
    assert reference_read(doc.data) == list(doc.rows)
    rows, report = read_with_instructkit(doc.data)
    assert rows == list(doc.rows)
    assert report.rejected == 0
    assert report.valid == len(doc.rows)


@given(jsonl_documents(min_rows=2, max_rows=3))
def test_row_bounds(doc: JsonlDocument) -> None:
    assert 2 <= len(doc.rows) <= 3


@given(
    jsonl_documents(
        allow_blank_lines=False,
        allow_crlf=False,
        allow_no_final_newline=False,
        allow_leading_bom=False,
    )
)
def test_noise_can_be_turned_off(doc: JsonlDocument) -> None:
    assert doc.noise == ()
    assert b"\r\n" not in doc.data.replace(b"\\r\\n", b"")
    assert not doc.data.startswith(b"\xef\xbb\xbf")
    assert doc.data == b"" or doc.data.endswith(b"\n")
    assert doc.data.count(b"\n") == len(doc.rows)


@given(jsonl_documents(rows=st.fixed_dictionaries({"n": st.integers(-(2**63), 2**63 - 1)})))
def test_rows_strategy_is_used(doc: JsonlDocument) -> None:
    assert all(set(row) == {"n"} for row in doc.rows)


@pytest.mark.parametrize("noise", JSONL_NOISE)
def test_every_kind_of_noise_is_reached_in_valid_documents(noise: str) -> None:
    find_any(jsonl_documents(), lambda d: noise in d.noise)


def test_raw_line_separators_are_reached() -> None:
    # orjson writes U+2028 raw: a reader that splits with str.splitlines() breaks here.
    # (texts() reaching U+2028 is tested with the text strategies; here: it stays raw.)
    rows = st.fixed_dictionaries({"text": st.sampled_from(["plain", "a\u2028b"])})
    found = find_any(jsonl_documents(rows=rows), lambda d: "\u2028".encode() in d.data)
    assert reference_read(found.data) == list(found.rows)


# --- corrupted documents ------------------------------------------------------------------


@given(corrupt_jsonl_documents())
def test_reference_reader_reports_the_promised_line(doc: CorruptDocument) -> None:
    with pytest.raises(BadLine) as caught:
        reference_read(doc.data)
    assert caught.value.line == doc.line


@given(corrupt_jsonl_documents())
def test_instructkit_reader_reports_the_promised_line(doc: CorruptDocument) -> None:
    with pytest.raises(DataError) as caught:
        read_with_instructkit(doc.data)
    assert caught.value.line == doc.line


@given(corrupt_jsonl_documents())
def test_skipping_the_bad_line_leaves_exactly_the_good_rows(doc: CorruptDocument) -> None:
    rows, report = read_with_instructkit(doc.data, on_error="skip")
    assert rows == list(doc.rows)
    assert report.rejected == 1
    assert [r.line for r in report.rejections] == [doc.line]


@pytest.mark.parametrize("defect", JSONL_DEFECTS)
def test_every_defect_is_reached(defect: str) -> None:
    find_any(corrupt_jsonl_documents(), lambda d: d.defect == defect)


@pytest.mark.parametrize("noise", JSONL_NOISE)
def test_every_kind_of_noise_is_reached_with_a_defect(noise: str) -> None:
    find_any(corrupt_jsonl_documents(), lambda d: noise in d.noise and d.line > 1)


def test_a_truncated_last_line_is_reached() -> None:
    find_any(
        corrupt_jsonl_documents(defects=st.just("truncated")),
        lambda d: d.line > 1 and not d.data.endswith(b"\n"),
    )


@given(corrupt_jsonl_documents(defects=st.just("duplicate_keys")))
def test_defects_strategy_chooses_the_defect(doc: CorruptDocument) -> None:
    assert doc.defect == "duplicate_keys"


def test_documents_shrink_to_the_documented_values() -> None:
    # Small rows keep this fast; the shrink targets are about lines, not what rows hold.
    rows = st.fixed_dictionaries({"n": st.integers(0, 9)})
    quick = settings(database=None, max_examples=100)
    assert find(jsonl_documents(rows=rows), lambda _: True, settings=quick) == JsonlDocument(
        b"", (), ()
    )
    found = find(corrupt_jsonl_documents(rows=rows), lambda _: True, settings=quick)
    assert found == CorruptDocument(b"{", 1, "truncated", ("no_final_newline",), ())


@pytest.mark.parametrize(
    "strategy",
    [
        jsonl_documents(min_rows=-1),
        jsonl_documents(min_rows=3, max_rows=1),
        jsonl_documents(allow_crlf=1),  # type: ignore[arg-type]
        jsonl_documents(rows={"a": 1}),  # type: ignore[arg-type]
        corrupt_jsonl_documents(defects=st.just("gremlins")),
        corrupt_jsonl_documents(max_rows=-2),
        corrupt_jsonl_documents(allow_leading_bom="no"),  # type: ignore[arg-type]
        jsonl_documents(rows=st.just({"n": 2**64}), min_rows=1),
        jsonl_documents(rows=st.just({"x": float("nan")}), min_rows=1),
    ],
)
def test_bad_arguments_raise_invalid_argument(strategy: st.SearchStrategy[Any]) -> None:
    @settings(max_examples=1, database=None, phases=[Phase.generate], report_multiple_bugs=False)
    @given(strategy)
    def run(_: object) -> None:
        pass

    with pytest.raises(InvalidArgument):
        run()
