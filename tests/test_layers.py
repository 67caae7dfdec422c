"""The package's architecture, enforced: layers import downwards only, packages are entered
through their face, and no two modules import each other at import time."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "instructkit"

# Lower layers never import higher ones. Public faces sit above the implementation they
# expose; strategies (which import Hypothesis) sit above everything else.
LAYERS: dict[str, int] = {
    # records: the data model, its errors and its reports
    "_errors": 0,
    "_reports": 0,
    "_public": 0,
    "_version": 0,
    "_bookkeeping": 0,
    "_limits": 0,
    "_progress": 0,
    "_records": 0,
    # dialects and templates (and Arrow, which only knows the records)
    "_dialects": 1,
    "_templates": 1,
    "_library": 1,
    "_arrow": 1,
    # rows that other libraries hold (datasets, Arrow batches), for readers and converters;
    # their JSON-typed values are parsed as Arrow's JSON columns are
    "_sources": 1,
    # files, adapters and curation
    "_io": 2,
    "_adapters": 2,
    "_describe": 2,
    # Ray Data's workers (imports Ray; only the instructkit.ray face imports it)
    "_ray": 2,
    # the public faces
    "__init__": 3,
    "adapters": 3,
    "arrow": 3,
    "curation": 3,
    "dialects": 3,
    "ray": 3,
    "templates": 3,
    # strategies
    "_from_type": 4,
    "strategies": 4,
}


# The one upward import: when Hypothesis is already loaded, `import instructkit` registers
# the strategies for st.from_type itself (see src/_instructkit_hypothesis.py for why).
UPWARD = {("instructkit", "instructkit._from_type")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from instructkit import dialects` imports the submodule
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    modules = {_module_name(p) for p in SRC.rglob("*.py")}
    return {name for name in found if name in modules and name.startswith("instructkit")}


MODULES = {_module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def _unit(module: str) -> str:
    """The layer entry a module belongs to: its top-level package or module."""
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def test_every_module_has_a_layer() -> None:
    assert {_unit(module) for module in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_and_through_faces(module: str) -> None:
    mine = _unit(module)
    for imported in _imports(MODULES[module], top_level_only=False):
        theirs = _unit(imported)
        if theirs == mine or (module, imported) in UPWARD:
            continue
        assert LAYERS[theirs] <= LAYERS[mine], f"{module} imports {imported} from above"
        # Another package's private modules stay private: go through its __init__.
        parts = imported.split(".")
        assert len(parts) <= 2, f"{module} reaches into {imported}"


def test_no_import_cycle_at_import_time() -> None:
    graph = {name: _imports(path, top_level_only=True) for name, path in MODULES.items()}
    # A package's __init__ importing its own modules is how packages work; a cycle means
    # two modules that each need the other before either has finished.
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if nxt == node or nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # a package and its own modules
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt) :] if nxt in trail else trail
                pytest.fail(f"import cycle: {' -> '.join([*cycle, nxt])}")
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
