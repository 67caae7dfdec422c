"""The built-in template library: tasks, task families and templates written for instructkit.

Tasks live in :mod:`instructkit._library._tasks`, and only there (dataset adapters import the
task constants from this package); the templates are data, one JSON file per family under
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
from instructkit._library._tasks import *  # noqa: F403 (the task constants, listed in its __all__)
from instructkit._library._tasks import __all__ as _TASK_NAMES

__all__ = [
    *_TASK_NAMES,
    "builtin_families",
    "builtin_tasks",
    "builtin_templates",
    "family_templates",
]
