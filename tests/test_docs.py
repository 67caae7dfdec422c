"""Execute every Python example in the docs, the README and the docstrings.

Markdown pages: each fenced ``python`` block runs in order in one namespace per page, inside a
fresh temporary working directory, so a page reads like a session a user would type. A block
fenced as ``python no-run`` is shown but not executed (use it only for code that needs
something the test machine lacks, and say so on the page).
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import instructkit

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([*(ROOT / "docs").glob("**/*.md"), ROOT / "README.md"])
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(page: Path) -> list[str]:
    return FENCE.findall(page.read_text(encoding="utf-8"))


# A page that starts a local Ray runs on the xdist worker of the Ray tests (see
# tests/ray/test_ray.py), so that two Rays never run at once on the test machine.
RAY_PAGES = {"scale.md"}
# Ray warns about its own deprecations from inside its modules.
RAY_MARKS = [
    pytest.mark.xdist_group("ray"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),
]


@pytest.mark.parametrize(
    "page",
    [pytest.param(page, marks=RAY_MARKS) if page.name in RAY_PAGES else page for page in PAGES],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_markdown_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for index, block in enumerate(python_blocks(page)):
        code = compile(block, f"{page.name} [block {index}]", "exec")
        exec(code, namespace)


def all_modules() -> list[str]:
    names = [instructkit.__name__]
    for info in pkgutil.walk_packages(instructkit.__path__, prefix="instructkit."):
        names.append(info.name)
    return sorted(names)


class _SourceFinder(doctest.DocTestFinder):
    """Finds each docstring in the module whose source defines it.

    Public names say they live in their public module (``__module__``), so doctest's own check
    would skip them in the private module that defines them, methods included.
    """

    def _from_module(self, module: object, object: object) -> bool:
        file = getattr(module, "__file__", None)
        if file is None:
            return super()._from_module(module, object)  # type: ignore[misc, no-any-return]
        function = inspect.unwrap(object) if callable(object) else object
        if inspect.isfunction(function):
            return function.__code__.co_filename == file
        if inspect.isclass(object):
            source = Path(file).read_text(encoding="utf-8")
            return re.search(rf"^class {object.__name__}\b", source, re.MULTILINE) is not None
        return super()._from_module(module, object)  # type: ignore[misc, no-any-return]


@pytest.mark.parametrize("module_name", all_modules())
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    finder = _SourceFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, module_name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"


def test_every_page_with_code_is_checked() -> None:
    # Guards against a fence typo (```py, ```Python) silently excluding a page's examples.
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        stray = re.findall(r"^```(py|Python|python3)\s*$", text, re.MULTILINE)
        assert not stray, f"{page.name} uses fence(s) {stray}; write ```python"
