"""to_dataset: records out to Hugging Face datasets with fixed features, and back."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings

from instructkit import (
    ConfigurationError,
    Conversation,
    DataError,
    Instruction,
    Message,
    RecordValidationError,
    ToolCall,
    from_arrow,
    read,
    to_arrow,
    to_dataset,
)
from instructkit._arrow import storage_schema
from instructkit.arrow import arrow_schema
from record_fixtures import record_lists

datasets = pytest.importorskip("datasets")


def _types(schema: pa.Schema) -> list[tuple[str, str]]:
    # datasets has no non-nullable fields: compare names and types, not nullability.
    return [(field.name, str(field.type).replace(" not null", "")) for field in schema]


@settings(max_examples=25)
@given(record_lists())
def test_to_dataset_round_trips_every_record_type(case: tuple[type[Any], list[Any]]) -> None:
    kind, records = case
    dataset = to_dataset(records, record=kind)
    assert len(dataset) == len(records)
    # The fixed features of the record type, whatever the rows hold (none, say).
    assert dataset.features == datasets.Features.from_arrow_schema(arrow_schema(kind))
    assert _types(dataset.data.schema) == _types(arrow_schema(kind))
    # Back through instructkit's reader, and through datasets' own iteration (Arrow batches,
    # which are exact; its Python rows parse JSON with a decoder that may round floats).
    assert list(read(dataset)) == records
    batches = dataset.with_format("arrow").iter(batch_size=3)
    assert [r for batch in batches for r in from_arrow(batch, record=kind)] == records
    # The text columns as datasets' Python rows give them equal the table's.
    plain = [f.name for f in arrow_schema(kind) if f.type in (pa.string(),)]
    assert [{k: row[k] for k in plain} for row in dataset] == to_arrow(records, record=kind).select(
        plain
    ).to_pylist()


@settings(max_examples=15)
@given(record_lists())
def test_to_dataset_of_a_table_equals_to_dataset_of_its_records(
    case: tuple[type[Any], list[Any]],
) -> None:
    kind, records = case
    table = to_arrow(records, record=kind)
    dataset = to_dataset(table)
    assert dataset.features == to_dataset(records, record=kind).features
    assert list(read(dataset)) == records


def test_datasets_hands_out_the_json_columns_as_values() -> None:
    chat = Conversation(
        messages=[
            Message(role="user", content="Weather in Oslo?"),
            Message(
                role="assistant",
                content=None,
                tool_calls=[ToolCall(id="c1", name="weather", arguments='{"city": null}')],
            ),
            Message(role="tool", content="4 C", tool_call_id="c1"),
            Message(role="assistant", content="Cold."),
        ],
        tools=['{"type": "function", "function": {"name": "weather"}}'],
        meta={"source": "docs", "n": [1, None]},
    )
    (row,) = to_dataset([chat])
    assert row["meta"] == {"source": "docs", "n": [1, None]}
    assert row["tools"] == [{"type": "function", "function": {"name": "weather"}}]
    assert row["messages"][1]["tool_calls"][0]["arguments"] == {"city": None}
    assert str(to_dataset([chat]).features["meta"]) == "Json(decode=True)"


def test_a_table_from_elsewhere_is_conformed_and_validated() -> None:
    schema = storage_schema(arrow_schema(Instruction))
    good = {"instruction": "Hi", "input": "", "response": "Yo", "system": None, "id": None}
    table = pa.Table.from_pylist([{**good, "meta": "{}"}], schema=schema)
    assert list(read(to_dataset(table))) == [Instruction(instruction="Hi", response="Yo")]
    bad = pa.Table.from_pylist(
        [{**good, "meta": "{}"}, {**good, "response": "", "meta": "{}"}], schema=schema
    )
    with pytest.raises(RecordValidationError) as caught:
        to_dataset(bad)
    assert (caught.value.row, caught.value.loc) == (1, "$.response")
    with pytest.raises(DataError, match="expected the columns"):
        to_dataset(pa.table({"question": ["?"]}))


def test_no_records_need_a_record_type() -> None:
    with pytest.raises(ConfigurationError):
        to_dataset([])


def test_importing_instructkit_never_imports_datasets() -> None:
    code = (
        "import sys, instructkit, instructkit.arrow, instructkit.templates, "
        "instructkit.adapters; print('datasets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_missing_datasets_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['datasets'] = None\n"
        "import instructkit\n"
        "try:\n"
        "    instructkit.to_dataset([], record='Instruction')\n"
        "except instructkit.ConfigurationError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'instructkit[datasets]'" in out.stdout
