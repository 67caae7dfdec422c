"""progress= on the long-running verbs: the callable's counts, the bars, laziness, no tqdm."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import instructkit as ik
from instructkit import _progress

Calls = list[tuple[int, "int | None"]]

NLI_ROWS = [
    {"premise": f"A man plays guitar {i}.", "hypothesis": f"He sings {i}.", "label": i % 3}
    for i in range(40)
]


def recorder() -> tuple[Calls, Callable[[int, int | None], None]]:
    calls: Calls = []
    return calls, lambda done, total: calls.append((done, total))


def records(count: int) -> list[ik.Instruction]:
    return [
        ik.Instruction(instruction=f"Say {n}.", response=str(n), id=f"r{n}") for n in range(count)
    ]


@pytest.fixture
def every_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """Call a progress callable at every update, so the counts it sees are exact."""
    monkeypatch.setattr(_progress, "_CALLBACK_EVERY", 0.0)


def assert_counts(calls: Calls, *, total: int) -> None:
    """The contract: starts at 0, never goes back, ends with (total, total)."""
    dones = [done for done, _ in calls]
    assert dones[0] == 0
    assert dones == sorted(dones)
    assert calls[-1] == (total, total)


# -- the callable's counts, per verb -----------------------------------------------------------


@given(count=st.integers(0, 30))
def test_write_and_describe_count_every_record(count: int, tmp_path_factory: Any) -> None:
    folder = tmp_path_factory.mktemp("progress")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_progress, "_CALLBACK_EVERY", 0.0)
        for fmt in ("jsonl", "parquet"):
            calls, callback = recorder()
            ik.write(records(count), folder / f"out.{fmt}", record="Instruction", progress=callback)
            # Known length: every call carries it; one call per record between start and end.
            assert calls == [(n, count) for n in range(count + 1)] + [(count, count)]
        calls, callback = recorder()
        ik.describe(iter(records(count)), progress=callback)
        assert calls[:-1] == [(n, None) for n in range(count + 1)]
        assert calls[-1] == (count, count)


@given(count=st.integers(0, 30), blank_every=st.integers(2, 5))
def test_read_counts_rows_to_the_total(count: int, blank_every: int, tmp_path_factory: Any) -> None:
    folder = tmp_path_factory.mktemp("progress")
    written = records(count)
    ik.write(written, folder / "a.parquet", record="Instruction")
    lines = [json.dumps(r.to_dict()) for r in written]
    for at in range(0, len(lines) + 1, blank_every):
        lines.insert(at, "")
    jsonl = folder / "a.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = len(lines)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_progress, "_CALLBACK_EVERY", 0.0)
        for path, total in ((folder / "a.parquet", count), (jsonl, rows)):
            calls, callback = recorder()
            with ik.read(path, progress=callback) as reader:
                assert list(reader) == written  # progress changes nothing read
            assert_counts(calls, total=total)
            # A Parquet footer knows the rows in advance; JSON Lines does not.
            assert calls[0][1] == (count if path.suffix == ".parquet" else None)
            calls, callback = recorder()
            with ik.read_raw(path, progress=callback) as reader:
                assert len(list(reader)) == count
            assert_counts(calls, total=total)


def test_convert_adapt_and_mix_count_to_the_end(every_item: None) -> None:
    adapt_calls, on_adapt = recorder()
    rows = list(ik.adapt("snli", NLI_ROWS, progress=on_adapt))
    assert adapt_calls == [(n, 40) for n in range(41)] + [(40, 40)]
    convert_calls, on_convert = recorder()
    templates = ik.templates.builtin_templates("nli")
    converted = list(ik.convert(rows, templates, seed=3, options=0.5, progress=on_convert))
    assert converted == list(ik.convert(rows, templates, seed=3, options=0.5))
    assert convert_calls == [(n, 40) for n in range(41)] + [(40, 40)]
    mix_calls, on_mix = recorder()
    mixture = ik.mix({"a": converted, "b": converted[:10]}, seed=1, cap=20, progress=on_mix)
    mixed = list(mixture)
    planned = round(sum(s.expected for s in mixture.manifest.sources.values()))
    # The plan's size until the end, then the count actually selected.
    assert mix_calls[:-1] == [(n, planned) for n in range(len(mixed) + 1)]
    assert mix_calls[-1] == (len(mixed), len(mixed))


def test_callable_is_throttled(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(10**6))  # a clock that moves 10 ms per look
    monkeypatch.setattr(_progress, "_now", lambda: next(clock) / 100)
    calls, callback = recorder()
    list(ik.convert(NLI_ROWS, ik.templates.builtin_templates("nli"), seed=1, progress=callback))
    # 40 rows over about 0.4 s of clock, at most one call per 0.1 s, plus the first and last.
    assert 3 <= len(calls) <= 7
    assert_counts(calls, total=40)


# -- lazy, closed early, resumed, refused --------------------------------------------------------


def test_lazy_iterators_stay_lazy(tmp_path: Path) -> None:
    taken: list[int] = []

    def source() -> Iterator[dict[str, Any]]:
        for index, row in enumerate(NLI_ROWS):
            taken.append(index)
            yield row

    calls, callback = recorder()
    adapted = ik.adapt("snli", source(), progress=callback)
    converted = ik.convert(
        adapted, ik.templates.builtin_templates("nli"), seed=1, progress=callback
    )
    mixture = iter(ik.mix({"a": converted}, seed=1, sizes={"a": 40}, progress=callback))
    path = tmp_path / "a.jsonl"
    ik.write(records(3), path)
    reader = ik.read(path, progress=callback)
    assert calls == []
    assert taken == []
    next(mixture)
    assert taken
    assert {done for done, _ in calls} <= {0, 1, 2}  # the starts, and the first rows
    reader.close()


class _NoLength(list):  # type: ignore[type-arg]
    def __len__(self) -> int:
        raise AssertionError("len() asked for with progress off")


def test_with_progress_off_nothing_is_asked_of_the_input(tmp_path: Path) -> None:
    templates = ik.templates.builtin_templates("nli")
    converted = list(ik.convert(_NoLength(NLI_ROWS), templates, seed=1))
    assert converted == list(ik.convert(NLI_ROWS, templates, seed=1))
    assert ik.write(_NoLength(converted), tmp_path / "a.jsonl").rows == len(NLI_ROWS)
    assert ik.describe(_NoLength(converted)).total == len(NLI_ROWS)


def test_a_read_closed_early_reports_where_it_stopped(tmp_path: Path, every_item: None) -> None:
    path = tmp_path / "a.parquet"
    ik.write(records(10), path)
    calls, callback = recorder()
    with ik.read(path, progress=callback) as reader:
        next(reader)
    # The whole row group was validated and counted at once; the total stays the footer's.
    assert calls[-1] == (10, 10)
    calls, callback = recorder()
    jsonl = tmp_path / "a.jsonl"
    ik.write(records(10), jsonl)
    with ik.read(jsonl, progress=callback) as reader:
        next(reader)
        next(reader)
    assert calls[-1] == (2, None)
    assert reader.position.line == 2


def test_a_resumed_read_counts_from_its_position(tmp_path: Path, every_item: None) -> None:
    path = tmp_path / "a.jsonl"
    ik.write(records(10), path)
    with ik.read(path) as reader:
        for _ in range(4):
            next(reader)
        position = reader.position
    calls, callback = recorder()
    with ik.read(path, resume=position, progress=callback) as reader:
        assert len(list(reader)) == 6
    assert calls[0] == (4, None)
    assert [done for done, _ in calls] == [4, 5, 6, 7, 8, 9, 10, 10]
    assert calls[-1] == (10, 10)


@pytest.mark.parametrize("bad", ["yes", 1, None, 0.5])
def test_bad_progress_is_refused_at_the_call(bad: object, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    ik.write(records(1), path)
    calls = [
        lambda: ik.read(path, progress=bad),
        lambda: ik.read_raw(path, progress=bad),
        lambda: ik.write(records(1), tmp_path / "b.jsonl", progress=bad),
        lambda: ik.adapt("snli", NLI_ROWS, progress=bad),
        lambda: ik.convert(NLI_ROWS, ik.templates.builtin_templates("nli"), seed=1, progress=bad),
        lambda: ik.mix({"a": records(2)}, seed=1, progress=bad),
        lambda: ik.describe(records(2), progress=bad),
    ]
    for call in calls:
        with pytest.raises(ik.ConfigurationError, match="expected progress to be True, False"):
            call()
    assert not (tmp_path / "b.jsonl").exists()


# -- what True shows ---------------------------------------------------------------------------


def test_true_shows_a_tqdm_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    ik.write(records(5), tmp_path / "a.jsonl", progress=True)
    err = capsys.readouterr().err
    assert "write a.jsonl" in err
    assert "100%" in err
    assert "5/5" in err


def test_without_tqdm_a_throttled_line_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` raises ImportError
    clock = iter(range(10**6))  # 10 ms per look at the clock
    monkeypatch.setattr(_progress, "_now", lambda: next(clock) / 100)
    path = tmp_path / "a.jsonl"
    ik.write(records(300), path, progress=True)
    lines = capsys.readouterr().err.splitlines()
    # 300 records over about 3 s of clock, a line per 0.5 s at most, plus the first and last.
    assert 3 <= len(lines) <= 9
    assert lines[0].startswith("write a.jsonl: 0/300 records (0%)")
    assert lines[-1].startswith("write a.jsonl: 300/300 records (100%)")
    with ik.read(path, progress=True) as reader:
        list(reader)
    last = capsys.readouterr().err.splitlines()[-1]
    size = path.stat().st_size / 1e6
    assert last.startswith("read a.jsonl: 300/300 rows (100%)")
    assert f"{size:,.1f} of {size:,.1f} MB" in last


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_tqdm_on_a_terminal_the_line_is_rewritten_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    clock = iter(range(10**6))
    monkeypatch.setattr(_progress, "_now", lambda: next(clock) / 10)  # 100 ms per look
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    ik.describe(records(20), progress=True)
    shown = terminal.getvalue()
    # One line, redrawn after a carriage return, and ended once at the end.
    assert shown.count("\n") == 1
    assert shown.endswith("\n")
    updates = shown.split("\r")[1:]
    # About 3 s of clock over 20 records: a redraw per 0.5 s at most (not 22, one per record).
    assert 3 <= len(updates) <= 8
    assert updates[-1].startswith("describe: 20/20 records (100%)")
    # Each redraw covers the whole of the line before it (a shorter one is padded).
    for before, after in itertools.pairwise(updates):
        assert len(after.rstrip("\n")) >= len(before.rstrip())


def test_tqdm_is_not_imported_unless_a_bar_is_shown(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        import instructkit as ik
        path = {str(tmp_path / "a.parquet")!r}
        rows = [{{"premise": "p", "hypothesis": "h", "label": 0}}]
        task_rows = list(ik.adapt("snli", rows))
        out = list(ik.convert(task_rows, ik.templates.builtin_templates("nli"), seed=1,
                              progress=lambda done, total: None))
        ik.write(list(ik.mix({{"a": out}}, seed=1)), path)
        with ik.read(path) as reader:
            ik.describe(reader)
        assert "tqdm" not in sys.modules, "tqdm imported"
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
