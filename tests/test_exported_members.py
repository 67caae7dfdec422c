"""Keep the public surface honest: each public module's ``__all__`` is sorted, complete and
names only public objects that say they live there; moved names still work, with a warning."""

from __future__ import annotations
import __future__

import importlib
import inspect
import subprocess
import sys
import types
import warnings

import pytest

import instructkit

PUBLIC_MODULES = (
    "instructkit",
    "instructkit.adapters",
    "instructkit.arrow",
    "instructkit.curation",
    "instructkit.dialects",
    "instructkit.ray",
    "instructkit.strategies",
    "instructkit.templates",
)


def _isort_key(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 keeps: CONSTANTS, then Classes, then everything else.
    if name.isupper() or (name.upper() == name and not name.startswith("_")):
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_sorted(module_name: str) -> None:
    names = importlib.import_module(module_name).__all__
    assert names == sorted(names, key=_isort_key)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_complete_and_nothing_private_leaks(module_name: str) -> None:
    module = importlib.import_module(module_name)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, (types.ModuleType, __future__._Feature))
    }
    assert public == set(module.__all__) - {"__version__"}
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_names_say_where_they_are_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        value = getattr(module, name)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue  # constants and type aliases carry no module of their own
        # instructkit.ray.convert is its own function, named after the one it distributes.
        top = name in instructkit.__all__ and getattr(instructkit, name) is value
        home = "instructkit" if top else module_name
        assert value.__module__ == home, f"{module_name}.{name} says {value.__module__}"


def test_the_top_level_stays_small() -> None:
    assert len(instructkit.__all__) <= 45


@pytest.mark.parametrize("name", sorted(instructkit._MOVED))
def test_moved_names_still_work_with_a_warning(name: str) -> None:
    home = importlib.import_module(f"instructkit.{instructkit._MOVED[name]}")
    with pytest.warns(DeprecationWarning, match=f"instructkit.{home.__name__[12:]}.{name}"):
        value = getattr(instructkit, name)
    assert value is getattr(home, name)
    assert name in home.__all__
    assert name not in instructkit.__all__


def test_from_import_of_a_moved_name_warns() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from instructkit import FewShot  # noqa: F401
    # Python may look the name up more than once; every lookup warns.
    assert caught
    assert all(w.category is DeprecationWarning for w in caught)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        instructkit.nonsense  # noqa: B018


def test_import_does_not_import_hypothesis() -> None:
    code = "import sys, instructkit; print('hypothesis' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_renamed_keywords_still_work_with_a_warning() -> None:
    row = {"instruction": "Say hi.", "output": "Hi."}
    losses = instructkit.LossReport()
    with pytest.warns(DeprecationWarning, match=r"parse_row\(report=\.\.\.\).*use losses="):
        record = instructkit.parse_row(row, dialect="alpaca", report=losses)
    assert record == instructkit.parse_row(row, dialect="alpaca", losses=losses)
    with pytest.warns(DeprecationWarning, match=r"to_row\(report=\.\.\.\)"):
        assert instructkit.to_row(record, dialect="alpaca", report=losses) == row | {"input": ""}
    chat = record.to_conversation()
    with pytest.warns(DeprecationWarning, match=r"to_instruction\(report=\.\.\.\)"):
        assert chat.to_instruction(report=losses) == record
    with pytest.raises(instructkit.ConfigurationError, match="got both losses= and"):
        instructkit.parse_row(row, dialect="alpaca", report=losses, losses=losses)
