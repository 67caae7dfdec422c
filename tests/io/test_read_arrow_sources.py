"""read and read_raw take rows other libraries hold: datasets, Arrow tables, record batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instructkit import (
    ConfigurationError,
    Conversation,
    DataError,
    Instruction,
    ItemReport,
    RecordValidationError,
    convert,
    read,
    read_raw,
    to_arrow,
    to_dataset,
    write,
)
from instructkit._io import _reader
from instructkit.strategies import instructions
from instructkit.templates import builtin_templates

datasets = pytest.importorskip("datasets")


def make(n: int) -> list[Instruction]:
    return [
        Instruction(instruction=f"Add {i} and {i}.", response=str(2 * i), meta={"i": i})
        for i in range(n)
    ]


ALPACA = [{"instruction": f"Say {i}.", "input": "", "output": str(i)} for i in range(5)]


def _generated() -> Any:
    records = make(1500)

    def rows() -> Any:
        for record in records:
            yield {"instruction": record.instruction, "input": "", "output": record.response}

    return datasets.IterableDataset.from_generator(rows)


def test_a_dataset_an_iterable_dataset_and_a_glob_of_shards(tmp_path: Path) -> None:
    records = make(2500)  # more than one batch
    dataset = datasets.Dataset(to_arrow(records))
    with read(dataset) as reader:
        assert list(reader) == records
    assert (reader.file, reader.path, reader.paths) == ("<datasets.Dataset>", None, ())
    assert (
        reader.report.summary() == "<datasets.Dataset>: 2500 seen, 2500 valid, 0 rejected, 0 blank"
    )

    # Streamed: from a generator (alpaca rows, detected) and from a JSON Lines file.
    streamed = list(read(_generated()))
    assert [(r.instruction, r.response) for r in streamed] == [
        (r.instruction, r.response) for r in make(1500)
    ]
    write(records, tmp_path / "train.jsonl")
    lines = datasets.load_dataset(
        "json",
        data_files=str(tmp_path / "train.jsonl"),
        split="train",
        streaming=True,
        cache_dir=str(tmp_path / "cache"),
    )
    assert list(read(lines)) == records

    # A glob of shards, in the shards' order.
    (tmp_path / "mix").mkdir()
    write(records, tmp_path / "mix" / "train.parquet", max_rows_per_file=700)
    assert list(read(str(tmp_path / "mix" / "*.parquet"))) == records


def test_every_arrow_container_reads_the_same(tmp_path: Path) -> None:
    records = make(2100)
    table = to_arrow(records)
    batches = table.to_batches(max_chunksize=1000)
    sources = [
        table,
        batches[0],
        batches,
        tuple(batches),
        iter(batches),
        (batch for batch in batches),
        table.to_reader(),
        datasets.Dataset(table),
        datasets.Dataset(table).to_iterable_dataset(num_shards=3),
    ]
    for source in sources:
        expected = records[: batches[0].num_rows] if source is batches[0] else records
        assert list(read(source)) == expected, type(source)


def test_a_selected_shuffled_dataset_reads_in_its_own_order() -> None:
    records = make(50)
    dataset = datasets.Dataset(to_arrow(records)).shuffle(seed=3).select(range(10))
    order = [int(row["response"]) // 2 for row in dataset]
    assert list(read(dataset)) == [records[i] for i in order]


def test_own_schema_takes_the_typed_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Like Parquet files of instructkit's schema: batches become records without a dict per
    # row and a second validation.
    seen: list[str] = []
    typed = _reader.batch_records
    monkeypatch.setattr(
        _reader, "batch_records", lambda *a, **k: seen.append("typed") or typed(*a, **k)
    )
    assert list(read(to_dataset(make(3)))) == make(3)
    assert seen == ["typed"]
    assert list(read(pa.Table.from_pylist(ALPACA))) == list(read(pa.Table.from_pylist(ALPACA)))
    assert seen == ["typed"]  # alpaca rows went through their dialect


def test_rows_of_another_layout_go_through_their_dialect() -> None:
    dataset = datasets.Dataset.from_list(ALPACA)
    with read(dataset) as reader:
        got = list(reader)
    assert reader.dialect == "alpaca"
    assert [r.response for r in got] == [row["output"] for row in ALPACA]
    chats = list(read(dataset, record=Conversation))
    assert chats[0].messages[1].content == "0"
    with read_raw(dataset) as rows:
        assert list(rows) == ALPACA


def test_errors_name_the_source_and_the_row(tmp_path: Path) -> None:
    rows = [*ALPACA[:2], {"instruction": "Say x.", "input": "", "output": ""}, ALPACA[3]]
    dataset = datasets.Dataset.from_list(rows)
    with pytest.raises(DataError) as caught:
        list(read(dataset))
    assert (caught.value.file, caught.value.row, caught.value.loc) == (
        "<datasets.Dataset>",
        2,
        "$.output",
    )
    assert "(<datasets.Dataset>, row 2)" in str(caught.value)
    rejects = tmp_path / "rejects.jsonl"
    with read(dataset, on_error="skip", rejects=rejects) as reader:
        assert len(list(reader)) == 3
    (entry,) = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert (entry["file"], entry["row"], entry["raw_encoding"]) == (
        "<datasets.Dataset>",
        2,
        "json",
    )

    # instructkit's own schema, through the typed path: the same location.
    table = to_arrow(make(3)).to_pylist()
    table[1]["response"] = ""
    from instructkit._arrow import storage_schema
    from instructkit.arrow import arrow_schema

    bad = pa.Table.from_pylist(table, schema=storage_schema(arrow_schema(Instruction)))
    with pytest.raises(RecordValidationError) as typed:
        list(read(bad))
    assert (typed.value.file, typed.value.row, typed.value.loc) == (
        "<pyarrow.Table>",
        1,
        "$.response",
    )


@settings(max_examples=20)
@given(
    st.lists(instructions(), min_size=1, max_size=12),
    st.integers(0, 12),
    st.sampled_from(["dataset", "iterable", "table", "batches"]),
)
def test_resuming_by_row_gives_the_rest(records: list[Instruction], stop: int, kind: str) -> None:
    table = to_arrow(records)

    def source() -> Any:
        if kind == "dataset":
            return datasets.Dataset(table)
        if kind == "iterable":
            return datasets.Dataset(table).to_iterable_dataset()
        if kind == "table":
            return table
        return iter(table.to_batches(max_chunksize=5))

    stop = min(stop, len(records))
    reader = read(source())
    first = [next(reader) for _ in range(stop)]
    position = reader.position
    reader.close()
    assert position.item == stop
    with read(source(), resume=position) as rest:
        assert first + list(rest) == records
    assert rest.report.seen == len(records)


def test_bad_arguments_are_refused() -> None:
    dataset = datasets.Dataset.from_list(ALPACA)
    with pytest.raises(ConfigurationError, match="format=None"):
        read(dataset, format="jsonl")
    with pytest.raises(ConfigurationError, match="one split"):
        read(datasets.DatasetDict({"train": dataset}))
    with pytest.raises(ConfigurationError, match="first item is a dict"):
        read(iter(ALPACA))


def test_adapt_and_convert_take_the_same_sources() -> None:
    from instructkit import adapt

    rows = [
        {"premise": f"A man plays {i}.", "hypothesis": "A man plays.", "label": i % 3}
        for i in range(6)
    ]
    table = pa.Table.from_pylist(rows)
    expected = list(adapt("snli", rows))
    for source in (
        table,
        table.to_batches(max_chunksize=4),
        iter(table.to_batches(max_chunksize=4)),
        datasets.Dataset(table),
        datasets.Dataset(table).to_iterable_dataset(),
    ):
        assert list(adapt("snli", source)) == expected
    templates = builtin_templates("nli")
    once = list(convert(expected, templates, seed=1, dataset="snli"))
    task_table = pa.Table.from_pylist(expected)
    for source in (
        task_table,
        task_table.to_batches(max_chunksize=4),
        iter(task_table.to_batches(max_chunksize=4)),
        datasets.Dataset(task_table),
        datasets.Dataset(task_table).to_iterable_dataset(),
    ):
        report = ItemReport()
        assert list(convert(source, templates, seed=1, dataset="snli", report=report)) == once
        assert report.seen == len(expected)


def test_an_iterable_dataset_is_streamed_a_batch_at_a_time() -> None:
    made = [0]

    def rows() -> Any:
        for i in range(50_000):
            made[0] += 1
            yield {"instruction": f"Say {i}.", "input": "", "output": str(i)}

    reader = read(datasets.IterableDataset.from_generator(rows))
    next(reader)  # the dialect is decided on the first 100 rows
    assert made[0] <= 2 * 1024
    for _ in range(3000):
        next(reader)
    assert made[0] <= 3001 + 2 * 1024
    reader.close()
