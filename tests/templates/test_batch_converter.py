"""BatchConverter: convert() over batches, the same records for any split of the rows."""

from __future__ import annotations

import itertools
import os
import pickle
import random
import subprocess
import sys
from typing import Any

import datasets
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from template_fixtures import nli_rows, nli_templates

import instructkit as ik
from instructkit import (
    ConfigurationError,
    DataError,
    Instruction,
    Task,
    Template,
    TemplateError,
)
from instructkit.arrow import arrow_schema
from instructkit.templates import BatchConverter, FewShot, builtin_templates

datasets.disable_progress_bars()

# A system prompt on one template, so that batches carry the system column too.
TEMPLATES = nli_templates(system_at=2)


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {key: [row[key] for row in rows] for key in ("id", "premise", "hypothesis", "label")}


_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_rows = st.lists(
    st.fixed_dictionaries(
        {"premise": _texts, "hypothesis": _texts, "label": st.integers(0, 2)},
        optional={"dataset": st.just("snli")},
    ),
    max_size=20,
).map(lambda rows: [{"id": f"r{i}", **row} for i, row in enumerate(rows)])
ROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("premise", pa.string()),
        ("hypothesis", pa.string()),
        ("label", pa.int64()),
        ("dataset", pa.string()),
    ]
)
_arguments = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32),
        "per_example": st.sampled_from([1, 2, "all"]),
        "options": st.sampled_from([True, False, 0.5]),
        "shuffle_options": st.booleans(),
    }
)


def _parts(rows: list[Any], cuts: list[int], order: random.Random) -> list[list[Any]]:
    """``rows`` split at ``cuts`` (1 to 8 parts, some maybe empty), in a shuffled order."""
    bounds = [0, *sorted(c % (len(rows) + 1) for c in cuts), len(rows)]
    parts = [rows[a:b] for a, b in itertools.pairwise(bounds)]
    order.shuffle(parts)
    return parts


def _sorted_rows(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda row: row["id"])


@settings(max_examples=30, deadline=None)
@given(
    rows=_rows,
    arguments=_arguments,
    cuts=st.lists(st.integers(0, 40), max_size=7),
    order=st.randoms(use_true_random=False),
    fewshot=st.booleans(),
)
def test_any_split_of_the_rows_gives_the_records_of_one_convert(
    rows: list[dict[str, Any]],
    arguments: dict[str, Any],
    cuts: list[int],
    order: random.Random,
    fewshot: bool,
) -> None:
    shots = FewShot(pool=nli_rows(6), k=2) if fewshot else None
    records = ik.convert(rows, TEMPLATES, fewshot=shots, **arguments)
    whole = ik.to_arrow(list(records), record=Instruction)
    converter = BatchConverter(TEMPLATES, fewshot=shots, **arguments)
    # Arrow has a column for every row: a row without a dataset holds a null there.
    schema = ROW_SCHEMA
    tables = [
        converter(pa.Table.from_pylist(part, schema=schema)) for part in _parts(rows, cuts, order)
    ]
    for table in tables:
        assert table.schema.equals(arrow_schema(Instruction))
    assert _sorted_rows(pa.concat_tables(tables)) == _sorted_rows(whole)
    # In one piece the order is convert's own.
    assert converter(pa.Table.from_pylist(rows, schema=schema)).equals(whole)


@settings(max_examples=20, deadline=None)
@given(rows=_rows, arguments=_arguments, cuts=st.lists(st.integers(0, 40), max_size=7))
def test_a_table_in_chunks_gives_the_records_of_one_convert_in_its_order(
    rows: list[dict[str, Any]], arguments: dict[str, Any], cuts: list[int]
) -> None:
    pieces = [
        pa.Table.from_pylist(part, schema=ROW_SCHEMA)
        for part in _parts(rows, cuts, random.Random(0))
    ]
    chunked = pa.concat_tables(pieces) if pieces else pa.Table.from_pylist([], schema=ROW_SCHEMA)
    out = BatchConverter(TEMPLATES, **arguments)(chunked)
    expected = ik.to_arrow(
        list(ik.convert(chunked.to_pylist(), TEMPLATES, **arguments)), record=Instruction
    )
    assert out.equals(expected)


def test_a_table_in_chunks_is_converted_as_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    # datasets memory-maps its files as batches of 1,000 rows, and Ray builds batches from
    # blocks: converted chunk by chunk, such a table paid convert_table's fixed cost per
    # template once for every chunk.
    from instructkit._templates import _batch

    seen: list[int] = []
    original = _batch.convert_table

    def spy(data: pa.Table | pa.RecordBatch, *args: Any, **kwargs: Any) -> Any:
        seen.append(data.column(0).num_chunks if isinstance(data, pa.Table) else 1)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(_batch, "convert_table", spy)
    rows = nli_rows(40)
    chunked = pa.Table.from_pylist(rows).to_batches(max_chunksize=7)
    table = pa.Table.from_batches(chunked)
    assert table.column(0).num_chunks == 6
    out = BatchConverter(TEMPLATES, seed=3, options=0.5)(table)
    assert seen == [1]
    assert out.equals(ik.to_arrow(list(ik.convert(rows, TEMPLATES, seed=3, options=0.5))))


@settings(max_examples=20, deadline=None)
@given(rows=_rows.filter(bool), arguments=_arguments)
def test_a_mapping_batch_gives_the_table_of_the_same_records(
    rows: list[dict[str, Any]], arguments: dict[str, Any]
) -> None:
    columns = {key: [row.get(key) for row in rows] for key in ROW_SCHEMA.names}
    converter = BatchConverter(TEMPLATES, **arguments)
    out = converter(columns)
    assert out.schema.equals(arrow_schema(Instruction))
    assert ik.from_arrow(out) == list(ik.convert(rows, TEMPLATES, **arguments))


def test_a_first_batch_without_a_system_prompt_keeps_system_typed_for_datasets() -> None:
    # datasets types a dict's columns from the first batch it writes: an all-null `system`
    # there failed on the first batch with a system prompt.
    task = Task(name="qa", fields={"question": "text", "answer": "text"}, target="answer")
    plain = Template(id="plain", task=task, instruction="Q: {question}", response="{answer}")
    system = plain.model_copy(update={"id": "system", "system": "Be brief."})
    rows = [{"id": f"r{i}", "question": f"Question {i}?", "answer": "yes"} for i in range(30)]
    source = datasets.Dataset.from_list(rows)
    mapped = source.map(
        BatchConverter([plain, system], seed=0),
        batched=True,
        batch_size=1,
        remove_columns=source.column_names,
        load_from_cache_file=False,
    )
    records = ik.from_arrow(mapped.data.table)
    assert {r.system for r in records} == {None, "Be brief."}
    assert records == list(ik.convert(rows, [plain, system], seed=0))


def test_the_converter_pickles_and_converts_the_same_after() -> None:
    rows = nli_rows(12)
    converter = BatchConverter(
        TEMPLATES, seed=5, options=0.5, fewshot=FewShot(pool=nli_rows(5), k=1)
    )
    copy = pickle.loads(pickle.dumps(converter))
    batch = pa.Table.from_pylist(rows)
    assert copy(batch).equals(converter(batch))
    assert repr(copy) == "BatchConverter([nli-0, nli-1, nli-2, nli-3], seed=5)"


_FINGERPRINT = """
from datasets.fingerprint import Hasher
from instructkit.templates import BatchConverter, builtin_templates
print(Hasher.hash(BatchConverter(builtin_templates("nli"), seed=5, options=0.5)))
"""


def test_the_datasets_fingerprint_is_the_same_in_every_process_and_after_use() -> None:
    # datasets finds a map's cached result by this hash: one that changed with the process
    # (its hash seed) or once the converter had converted would convert everything again.
    from datasets.fingerprint import Hasher

    converter = BatchConverter(builtin_templates("nli"), seed=5, options=0.5)
    before = Hasher.hash(converter)
    converter(pa.Table.from_pylist(nli_rows(30)))
    assert Hasher.hash(converter) == before
    for hash_seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", _FINGERPRINT],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert done.stdout.strip() == before


def test_an_empty_batch_gives_an_empty_instruction_table() -> None:
    converter = BatchConverter(TEMPLATES, seed=0)
    empty = converter(pa.Table.from_pylist([], schema=pa.Table.from_pylist(nli_rows(1)).schema))
    assert empty.num_rows == 0
    assert empty.schema.equals(arrow_schema(Instruction))
    assert converter({"id": [], "premise": [], "hypothesis": [], "label": []}).num_rows == 0


@pytest.mark.parametrize("policy", ["skip", "collect"])
def test_policies_that_need_a_report_are_refused(policy: str) -> None:
    with pytest.raises(ConfigurationError, match=r"expected on_error='raise'.*ItemReport"):
        BatchConverter(TEMPLATES, seed=0, on_error=policy)  # type: ignore[arg-type]


def test_bad_arguments_fail_when_the_converter_is_built() -> None:
    with pytest.raises(ConfigurationError, match="per_example"):
        BatchConverter(TEMPLATES, seed=0, per_example=9)
    with pytest.raises(ConfigurationError, match="seed"):
        BatchConverter(TEMPLATES, seed="1")  # type: ignore[arg-type]


def test_other_batches_are_refused_and_bad_rows_raise() -> None:
    converter = BatchConverter(TEMPLATES, seed=0)
    with pytest.raises(ConfigurationError, match="got list"):
        converter(nli_rows(2))
    with pytest.raises(DataError, match="expected a batch of equally long columns"):
        converter({"id": ["a", "b"], "premise": ["p", 3], "hypothesis": ["h", "h"]})
    rows = nli_rows(3)
    rows[1]["label"] = 7
    with pytest.raises(TemplateError) as caught:
        converter(pa.Table.from_pylist(rows))
    assert caught.value.row == 1


@pytest.mark.parametrize(
    ("num_proc", "batch_size", "arrow"),
    [(1, 7, False), (2, 5, False), (2, 1000, False), (2, 9, True)],
)
def test_datasets_map_with_num_proc_gives_the_records_of_one_convert(
    num_proc: int, batch_size: int, arrow: bool, tmp_path: Any
) -> None:
    rows = nli_rows(40)
    arguments: dict[str, Any] = {"seed": 11, "options": 0.5, "per_example": 2}
    source = datasets.Dataset.from_list(rows)
    mapped = (source.with_format("arrow") if arrow else source).map(
        BatchConverter(TEMPLATES, **arguments),
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        remove_columns=source.column_names,
        cache_file_name=str(tmp_path / "mapped.arrow"),
    )
    # datasets keeps a returned column where the input had it (id first); names decide.
    assert sorted(mapped.column_names) == sorted(arrow_schema(Instruction).names)
    # Arrow's JSON type, which datasets reads as its Json() feature, for either batch kind.
    assert isinstance(mapped.features["meta"], datasets.Json)
    assert isinstance(mapped.with_format(None)[0]["meta"]["provenance"], dict)
    records = ik.from_arrow(mapped.data.table)
    expected = list(ik.convert(rows, TEMPLATES, **arguments))
    assert sorted(records, key=lambda r: r.id or "") == sorted(expected, key=lambda r: r.id or "")


@settings(max_examples=10, deadline=None)
@given(
    shards=st.integers(1, 8),
    contiguous=st.booleans(),
    batch_size=st.integers(1, 50),
    order=st.randoms(use_true_random=False),
    arguments=_arguments,
)
def test_datasets_shards_in_any_order_give_the_records_of_one_convert(
    shards: int, contiguous: bool, batch_size: int, order: random.Random, arguments: dict[str, Any]
) -> None:
    rows = nli_rows(30)
    source = datasets.Dataset.from_list(rows)
    converter = BatchConverter(TEMPLATES, **arguments)
    parts = [
        source.shard(num_shards=shards, index=index, contiguous=contiguous).map(
            converter,
            batched=True,
            batch_size=batch_size,
            remove_columns=source.column_names,
            load_from_cache_file=False,
        )
        for index in range(shards)
    ]
    order.shuffle(parts)
    records = ik.from_arrow(datasets.concatenate_datasets(parts).data.table)
    expected = list(ik.convert(rows, TEMPLATES, **arguments))
    assert sorted(records, key=lambda r: r.id or "") == sorted(expected, key=lambda r: r.id or "")
