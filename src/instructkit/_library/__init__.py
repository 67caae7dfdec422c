"""The built-in template library: tasks, task families and templates written for instructkit.

Tasks live in :mod:`instructkit._library._tasks` (dataset adapters import the task constants
from there), and only there; the templates are data, one JSON file per family under
``templates/``, that refer to their tasks by name. They are read with
``load_templates(path, tasks=...)`` when first used.
"""

from __future__ import annotations

from instructkit._library._loader import (
    builtin_families,
    builtin_tasks,
    builtin_templates,
    family_templates,
)
from instructkit._library._tasks import BUILTIN_TASKS, FAMILIES, UNANSWERABLE, Family

__all__ = [
    "BUILTIN_TASKS",
    "FAMILIES",
    "UNANSWERABLE",
    "Family",
    "builtin_families",
    "builtin_tasks",
    "builtin_templates",
    "family_templates",
]
