"""Keep the public surface honest: ``__all__`` lists exactly the public names, sorted."""

from __future__ import annotations

import subprocess
import sys

import instructkit


def test_all_is_sorted_and_complete() -> None:
    public = {
        name
        for name, value in vars(instructkit).items()
        if not name.startswith("_") and not isinstance(value, type(instructkit))
    }
    assert set(instructkit.__all__) - {"__version__"} == public
    assert len(instructkit.__all__) == len(set(instructkit.__all__))


def test_every_exported_name_resolves() -> None:
    for name in instructkit.__all__:
        assert getattr(instructkit, name) is not None, name


def test_import_does_not_import_hypothesis() -> None:
    code = "import sys, instructkit; print('hypothesis' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
