"""Reading a list of files (the shards of a sharded write, say) as one stream."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from instructkit import (
    ConfigurationError,
    Conversation,
    DataError,
    Instruction,
    ItemReport,
    MalformedJSONError,
    RecordValidationError,
    read,
    read_raw,
    read_table,
    write,
)
from record_fixtures import RECORDS_BY_NAME, numbered_instructions

# -- the law: shards read back as one stream equal the records written ------------------------


@given(
    data=st.data(),
    kind=st.sampled_from(sorted(RECORDS_BY_NAME)),
    size=st.integers(1, 4),
    suffix=st.sampled_from(["jsonl", "jsonl.gz", "json", "parquet"]),
)
def test_shards_read_back_in_one_call_equal_the_records(
    data: st.DataObject, kind: str, size: int, suffix: str
) -> None:
    records = data.draw(st.lists(RECORDS_BY_NAME[kind], max_size=7))
    with tempfile.TemporaryDirectory() as folder:
        result = write(
            records, Path(folder) / f"part.{suffix}", max_rows_per_file=size, record=kind
        )
        with read(list(result.paths)) as reader:
            back = list(reader)
        assert back == records
        assert reader.report.balanced
        assert reader.report.valid == len(records)
        rows = list(read_raw(result.paths))
        assert rows == [record.to_dict() for record in records]
        if suffix != "json":
            table = read_table(result.paths, record=kind)
            whole = write(records, Path(folder) / f"whole.{suffix}", record=kind).paths[0]
            assert table.equals(read_table(whole, record=kind), check_metadata=True)


@given(st.lists(st.integers(0, 3), min_size=1, max_size=4))
def test_every_line_of_every_file_is_accounted_for(bad_per_file: list[int]) -> None:
    # Each file: two good lines, then `bad` lines that are not JSON, then a blank line.
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        expected_rejects = []
        for index, bad in enumerate(bad_per_file):
            path = Path(folder) / f"f{index}.jsonl"
            good = b"".join(
                json.dumps(r.to_dict()).encode() + b"\n"
                for r in numbered_instructions(2, start=2 * index)
            )
            junk = [f"not json {index}.{n}".encode() for n in range(bad)]
            path.write_bytes(good + b"".join(line + b"\n" for line in junk) + b"\n")
            paths.append(path)
            expected_rejects += [(str(path), 3 + n, line.decode()) for n, line in enumerate(junk)]
        rejects = Path(folder) / "rejects.jsonl"
        with read(paths, on_error="skip", rejects=rejects, dialect=None) as reader:
            records = list(reader)
        report = reader.report
        assert records == numbered_instructions(2 * len(paths))
        assert report.seen == sum(3 + bad for bad in bad_per_file)
        assert report.blank == len(paths)
        assert report.rejected == sum(bad_per_file)
        assert report.balanced
        entries = [json.loads(line) for line in rejects.read_bytes().splitlines()]
        assert [(e["file"], e["line"], e["raw"]) for e in entries] == expected_rejects
        assert [(r.file, r.line) for r in report.rejections] == [
            (file, line) for file, line, _ in expected_rejects
        ]


# -- errors name the file they come from ----------------------------------------------------------


def test_an_error_in_a_later_file_names_that_file_and_its_own_line(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write(numbered_instructions(3), first)
    second.write_bytes(
        json.dumps(numbered_instructions(1)[0].to_dict()).encode() + b'\n{"instruction": \n'
    )
    reader = read([first, second])
    with pytest.raises(MalformedJSONError) as caught:
        list(reader)
    assert (caught.value.file, caught.value.line) == (str(second), 2)
    assert reader.report.valid == 4
    assert reader.file == str(second)


def test_invalid_rows_in_a_parquet_shard_name_the_shard_and_its_row(tmp_path: Path) -> None:
    result = write(numbered_instructions(5), tmp_path / "t.parquet", max_rows_per_file=2)
    broken = result.paths[1]
    table = pq.read_table(broken)
    responses = pa.array([table.column("response")[0].as_py(), ""], pa.string())
    pq.write_table(table.set_column(2, "response", responses), broken)
    report = ItemReport()
    records = list(read(result.paths, on_error="skip", report=report))
    assert records == [*numbered_instructions(3), numbered_instructions(5)[4]]
    assert [(r.file, r.row, r.loc) for r in report.rejections] == [(str(broken), 1, "$.response")]
    with pytest.raises(RecordValidationError) as caught:
        read_table(result.paths)
    assert (caught.value.file, caught.value.row) == (str(broken), 1)


def test_read_table_refuses_files_of_different_record_types(tmp_path: Path) -> None:
    first = write(numbered_instructions(1), tmp_path / "a.parquet").paths[0]
    other = Conversation.model_validate(
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ho"}]}
    )
    second = write([other], tmp_path / "b.parquet").paths[0]
    with pytest.raises(DataError) as caught:
        read_table([first, second])
    assert caught.value.file == str(second)


# -- one dialect, detected once; formats per file -------------------------------------------------


def test_the_first_file_with_rows_decides_the_dialect(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    alpaca = tmp_path / "alpaca.jsonl"
    write(numbered_instructions(2), alpaca, dialect="alpaca")
    native = tmp_path / "native.jsonl"
    write(numbered_instructions(1), native)
    reader = read([empty, alpaca, alpaca])
    assert list(reader) == numbered_instructions(2) * 2
    assert reader.dialect == "alpaca"
    # The native file's rows are not Alpaca rows: read with the dialect of the first file,
    # they are bad rows of the native file, not silently read another way.
    with pytest.raises(DataError) as caught:
        list(read([alpaca, native]))
    assert (caught.value.file, caught.value.line) == (str(native), 1)


def test_files_of_different_formats_read_in_order(tmp_path: Path) -> None:
    parts = [
        write(numbered_instructions(2, start=0), tmp_path / "a.parquet").paths[0],
        write(numbered_instructions(2, start=2), tmp_path / "b.jsonl.zst").paths[0],
        write(numbered_instructions(2, start=4), tmp_path / "c.json").paths[0],
    ]
    formats = []
    with read(parts) as reader:
        for record in reader:
            formats.append((reader.format, record.instruction))
    assert [f for f, _ in formats] == ["parquet"] * 2 + ["jsonl.zst"] * 2 + ["json"] * 2
    assert [r for _, r in formats] == [r.instruction for r in numbered_instructions(6)]
    assert reader.paths == tuple(parts)
    assert reader.report.summary().startswith(f"{parts[0]} and 2 more files: 6 seen, 6 valid")


def test_each_file_is_closed_before_the_next_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import instructkit._io._reader as io_module

    opened: list[Any] = []
    real = io_module.open_source

    def tracking(path: Any, compression: Any) -> Any:
        source = real(path, compression)
        opened.append(source)
        return source

    monkeypatch.setattr(io_module, "open_source", tracking)
    paths = [
        write(numbered_instructions(2, start=2 * n), tmp_path / f"{n}.jsonl").paths[0]
        for n in range(3)
    ]
    with read(paths) as reader:
        for _ in reader:
            assert sum(not source.closed for source in opened) == 1
    assert all(source.closed for source in opened)


# -- bad arguments fail at the call ----------------------------------------------------------


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ([], "at least one file"),
        ((), "at least one file"),
        (["a.jsonl", 3], "index 1"),
        ({"a.jsonl"}, "a list of file paths"),
        (b"a.jsonl", "a list of file paths"),
        ((p for p in ["a.jsonl"]), "in the order to read them"),
    ],
)
@pytest.mark.parametrize("reader", [read, read_raw, read_table])
def test_bad_lists_of_files_are_configuration_errors(reader: Any, paths: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        reader(paths)


@pytest.mark.parametrize("reader", [read, read_raw, read_table])
def test_a_missing_file_fails_at_the_call_before_any_is_read(tmp_path: Path, reader: Any) -> None:
    present = write(numbered_instructions(1), tmp_path / "a.jsonl").paths[0]
    with pytest.raises(FileNotFoundError):
        reader([present, tmp_path / "missing.jsonl"])


def test_rejects_must_not_be_one_of_the_files_read(tmp_path: Path) -> None:
    paths = [write(numbered_instructions(1), tmp_path / f"{n}.jsonl").paths[0] for n in range(2)]
    with pytest.raises(ConfigurationError, match="different file"):
        read(paths, rejects=paths[1])


def test_read_table_takes_the_record_type_from_the_first_file_with_rows(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n")  # a blank line, no rows
    rows = write(numbered_instructions(2), tmp_path / "rows.jsonl").paths[0]
    report = ItemReport()
    table = read_table([empty, rows, empty], report=report)
    assert table.equals(read_table(rows), check_metadata=True)
    assert report.valid == 2
    assert report.balanced
    with pytest.raises(DataError, match="pass record="):
        read_table([empty, empty])
    assert read_table([empty, empty], record=Instruction).num_rows == 0
