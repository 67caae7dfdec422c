"""Loading the built-in template files, checked against the built-in tasks."""

from __future__ import annotations

import functools
from importlib import resources

from instructkit._errors import ConfigurationError, TemplateError
from instructkit._library._tasks import BUILTIN_TASKS, FAMILIES
from instructkit._templates import Task, Template, load_templates

__all__ = ["builtin_families", "builtin_tasks", "builtin_templates", "family_templates"]


def builtin_tasks() -> dict[str, Task]:
    """The built-in tasks by name, family by family.

    Each task's ``cluster`` is the name of its family (see :func:`builtin_families`). The
    dict is a fresh copy; the tasks themselves are immutable.

    Returns:
        Task name to :class:`~instructkit.Task`.

    Example:
        >>> import instructkit
        >>> nli = instructkit.templates.builtin_tasks()["nli"]
        >>> nli.cluster, nli.label_text(1)
        ('nli', 'it is not possible to tell')
    """
    return dict(BUILTIN_TASKS)


def builtin_families() -> dict[str, tuple[str, ...]]:
    """The built-in task families (Flan's "task clusters") and the names of their tasks.

    Returns:
        Family name to the names of its tasks, in catalogue order.

    Example:
        >>> import instructkit
        >>> instructkit.templates.builtin_families()["topic_classification"]
        ('news_topic', 'entity_category', 'question_type')
    """
    return {name: family.tasks for name, family in FAMILIES.items()}


@functools.cache
def family_templates(family: str) -> tuple[Template, ...]:
    """The templates of one family, read from its data file once and then cached.

    The file refers to its tasks by name; they are resolved against the family's built-in
    tasks in :mod:`instructkit._library._tasks`, the one place tasks are defined.

    Raises:
        ConfigurationError: no such family.
        TemplateError: the file names a task that is not a built-in task of this family.
    """
    if family not in FAMILIES:
        raise ConfigurationError(
            f"expected a built-in family among {list(FAMILIES)}, got {family!r}"
        )
    tasks = {name: BUILTIN_TASKS[name] for name in FAMILIES[family].tasks}
    resource = resources.files(__package__).joinpath("templates").joinpath(f"{family}.json")
    with resources.as_file(resource) as path:
        templates = load_templates(path, tasks=tasks)
        for index, template in enumerate(templates):
            # Only a task stored in the file itself could get past tasks= above.
            if template.task.name not in tasks:
                raise TemplateError(
                    f"expected templates of the tasks {list(tasks)}, got task "
                    f"{template.task.name!r}",
                    loc=f"$.templates[{index}].task",
                    file=str(path),
                )
    return tuple(templates)


def builtin_templates(
    task: str | Task | None = None, *, family: str | None = None
) -> list[Template]:
    """The built-in templates, written for instructkit and linted in its tests.

    Every task has at least ten templates, at most three of a family's templates are
    inverted, and classification templates show their answer options through ``{options}``
    (so each yields a with-options and a without-options variant).

    Args:
        task: Only this task's templates: a built-in task's name, or the task itself.
        family: Only this family's templates (a name from :func:`builtin_families`).

    Returns:
        The templates, family by family, in file order (a fresh list).

    Raises:
        ConfigurationError: an unknown task or family, a task that is not the built-in one
            of its name, or a task outside the given family.

    Example:
        >>> import instructkit
        >>> templates = instructkit.templates.builtin_templates("sentiment")
        >>> len(templates) >= 10, templates[0].task.name
        (True, 'sentiment')
    """
    if task is None:
        families = [family] if family is not None else list(FAMILIES)
        return [t for name in families for t in family_templates(name)]
    if isinstance(task, Task):
        known = BUILTIN_TASKS.get(task.name)
        if known != task:
            raise ConfigurationError(
                f"expected a built-in task, got a task named {task.name!r} that is not one "
                f"(built-in tasks: {list(BUILTIN_TASKS)})"
            )
        name = task.name
    elif isinstance(task, str):
        if task not in BUILTIN_TASKS:
            raise ConfigurationError(
                f"expected a built-in task name among {list(BUILTIN_TASKS)}, got {task!r}"
            )
        name = task
    else:
        raise ConfigurationError(f"expected a task name or a Task, got {type(task).__name__}")
    cluster = BUILTIN_TASKS[name].cluster
    assert cluster is not None  # every built-in task names its family
    if family is not None and family != cluster:
        raise ConfigurationError(
            f"expected task {name!r} to be asked for with its own family {cluster!r}, "
            f"got family={family!r}"
        )
    return [t for t in family_templates(cluster) if t.task.name == name]
