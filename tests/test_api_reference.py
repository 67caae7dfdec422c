"""The API reference pages list every public name and match the docstrings they come from."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import api_reference  # noqa: E402

from test_exported_members import PUBLIC_MODULES  # noqa: E402


def test_every_public_module_has_a_page() -> None:
    assert set(api_reference.MODULES) == set(PUBLIC_MODULES)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_the_page_lists_every_public_name(module_name: str) -> None:
    text = (api_reference.OUTPUT / f"{module_name}.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (\S+)$", text, re.MULTILINE)
    assert headings == list(importlib.import_module(module_name).__all__)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_the_page_is_current(module_name: str) -> None:
    path = api_reference.OUTPUT / f"{module_name}.md"
    assert path.read_text(encoding="utf-8") == api_reference.page(module_name), (
        f"{path.name} is out of date: run python scripts/api_reference.py"
    )
