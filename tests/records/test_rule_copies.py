"""The fast copies of the record rules accept and refuse exactly what the records do.

The reference is pydantic validation of the records (``instructkit._records``). Three
copies exist for speed: the column rules (``instructkit._arrow.validate_table``, held to the
reference in tests/arrow/test_arrow.py), the native-row fast path
(``instructkit._io._native_rows``, in tests/io/test_native_rows.py) and the rendering
shortcut (``instructkit._templates._render.instruction_record``), held to it here.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from instructkit import ConfigurationError, Instruction, RecordValidationError
from instructkit._limits import INT_MAX, INT_MIN
from instructkit._templates._render import instruction_record
from instructkit.strategies import instructions, task_rows, texts
from instructkit.templates import Task, Template, render

# Text the shortcut must judge as the records do: empty, ordinary, or holding a lone
# surrogate (which Python and pydantic take, but no UTF-8 writer can write).
rule_texts = st.one_of(
    st.just(""),
    texts(max_size=8),
    st.tuples(texts(max_size=4), st.sampled_from(["\ud800", "\udfff"])).map("".join),
)
# The shortcut's meta is rendering's provenance, which keeps the record rules by
# construction; any meta a valid record holds stands for it.
metas = instructions().map(lambda record: dict(record.meta))


def by_the_records(**fields: Any) -> Instruction | None:
    try:
        return Instruction(**fields)
    except RecordValidationError:
        return None


@given(
    instruction=rule_texts,
    response=rule_texts,
    system=st.none() | rule_texts,
    record_id=rule_texts,
    meta=metas,
)
def test_the_rendering_shortcut_accepts_exactly_what_the_records_accept(
    instruction: str, response: str, system: str | None, record_id: str, meta: dict[str, Any]
) -> None:
    expected = by_the_records(
        instruction=instruction, response=response, system=system, id=record_id, meta=meta
    )
    if expected is None:
        with pytest.raises(RecordValidationError):
            instruction_record(instruction, response, system, record_id, meta)
        return
    built = instruction_record(instruction, response, system, record_id, meta)
    assert built == expected
    assert built.to_dict() == expected.to_dict()
    assert list(built.to_dict()) == list(expected.to_dict())


@given(case=task_rows(), seed=st.integers(INT_MIN - 2**8, INT_MAX + 2**8))
def test_rendered_records_are_records_the_records_accept(case: Any, seed: int) -> None:
    # The shortcut trusts rendering's provenance; the seed is its one free number.
    if not INT_MIN <= seed <= INT_MAX:
        with pytest.raises(ConfigurationError, match="64 bits"):
            render(case.template, case.row, seed=seed)
        return
    record = render(case.template, case.row, seed=seed)
    assert Instruction.model_validate(record.to_dict()) == record


@pytest.mark.parametrize("seed", [INT_MIN - 1, INT_MAX + 1, 2**70])
def test_seeds_beyond_64_bits_are_refused_before_rendering(seed: int) -> None:
    echo = Template(
        id="echo",
        task=Task(name="echo", fields={"text": "text", "reply": "text"}, target="reply"),
        instruction="{text}",
        response="{reply}",
    )
    with pytest.raises(ConfigurationError, match="64 bits"):
        render(echo, {"text": "Say hi.", "reply": "Hi."}, seed=seed)
