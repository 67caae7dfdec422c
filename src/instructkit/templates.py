"""Templates: Flan-style tasks, templates, answer options, few-shot prompts and mixtures.

:class:`~instructkit.Task` and :class:`~instructkit.Template` (also at the top level) describe
what a dataset's rows mean and how one becomes an instruction; :func:`~instructkit.convert`
and :func:`~instructkit.mix` (also at the top level) turn rows into records and sources into a
mixture, every random choice seeded per example. This module holds the rest: answer option
styles, few-shot settings, the template linter, template files, mixture plans and the built-in
library. See docs/templates.md.

Example:
    >>> from instructkit.templates import builtin_tasks
    >>> "nli" in builtin_tasks()
    True
"""

from __future__ import annotations

from instructkit._library import builtin_families, builtin_tasks, builtin_templates
from instructkit._public import expose as _expose
from instructkit._templates import (
    BatchConverter,
    FewShot,
    LintFinding,
    Mixture,
    MixtureManifest,
    OptionStyle,
    Task,
    Template,
    convert,
    convert_table,
    lint_templates,
    load_templates,
    mix,
    plan_mixture,
    render,
    save_templates,
)

__all__ = [
    "BatchConverter",
    "FewShot",
    "LintFinding",
    "Mixture",
    "MixtureManifest",
    "OptionStyle",
    "Task",
    "Template",
    "builtin_families",
    "builtin_tasks",
    "builtin_templates",
    "convert",
    "convert_table",
    "lint_templates",
    "load_templates",
    "mix",
    "plan_mixture",
    "render",
    "save_templates",
]

_expose(
    __name__,
    BatchConverter,
    FewShot,
    LintFinding,
    Mixture,
    MixtureManifest,
    OptionStyle,
    builtin_families,
    builtin_tasks,
    builtin_templates,
    convert_table,
    lint_templates,
    load_templates,
    plan_mixture,
    save_templates,
)
