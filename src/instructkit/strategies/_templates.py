"""Tasks, templates, and rows that render with them, valid by construction.

A rendered part (system, instruction, response) must not be blank, whatever the row holds, so
every generated pattern carries a literal anchor: a piece of text that starts with a letter,
digit, punctuation mark or symbol. Row values can then be anything their field kind allows
(empty and whitespace-only text included), and render still succeeds.
"""

from __future__ import annotations

import string
from typing import Any, NamedTuple

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from instructkit._templates import BUILTIN_OPTION_STYLES, Task, Template
from instructkit.strategies._core import check_size, check_strategy, defines_strategy, fresh_name
from instructkit.strategies._text import texts

__all__ = ["TASK_SHAPES", "TemplatedRow", "task_rows", "tasks", "templates"]

TASK_SHAPES = ("generation", "classification", "multiple_choice")
"""What :func:`tasks` makes: free-text targets, a fixed label space, or per-row choices."""

_INPUT_KINDS = ("text", "number", "list", "alternatives")
_RESERVED = frozenset({"options", "id"})
# At most how many literal gaps, and values of each kind, are drawn before the template.
_POOL = 6


class TemplatedRow(NamedTuple):
    """A template and a row it renders: ``instructkit.render(template, row)`` succeeds.

    Attributes:
        template: The template.
        row: The row: every field of the template's task, and sometimes an ``id``.
    """

    template: Template
    row: dict[str, Any]


def _field_names() -> st.SearchStrategy[str]:
    # Names are identifiers; "options" is the reserved placeholder and "id" is where rows
    # keep their example id, so neither is drawn (a local retry on one name, not a record).
    return st.builds(
        str.__add__,
        st.sampled_from(string.ascii_lowercase + "_"),
        st.text(string.ascii_lowercase + string.digits + "_", max_size=8),
    ).filter(lambda name: name not in _RESERVED)


def _anchored(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Text that is never blank: a visible first character, then anything."""
    visible = st.characters(codec="utf-8", categories=("L", "N", "P", "S"))
    return st.builds(str.__add__, visible, text)


def _labels(shape_text: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple[Any, str]]]:
    values: st.SearchStrategy[list[Any]] = st.lists(
        st.integers(-1, 9), min_size=2, max_size=4, unique=True
    ) | st.lists(
        st.text(string.ascii_lowercase, min_size=1, max_size=6), min_size=2, max_size=4, unique=True
    )

    @st.composite
    def build(draw: st.DrawFn) -> list[tuple[Any, str]]:
        chosen = draw(values)
        answers = draw(
            st.lists(shape_text, min_size=len(chosen), max_size=len(chosen), unique=True)
        )
        return list(zip(chosen, answers, strict=True))

    return build()


@defines_strategy
def tasks(
    *,
    shapes: st.SearchStrategy[str] | None = None,
    max_fields: int = 3,
) -> st.SearchStrategy[Task]:
    """:class:`~instructkit.Task` objects: typed input fields, a target, maybe a label space.

    Args:
        shapes: Strategy for the task shape, one of :data:`TASK_SHAPES`: ``"generation"``
            (a ``text`` or ``alternatives`` target), ``"classification"`` (a ``label``
            target over two to four fixed labels, int or string values) or
            ``"multiple_choice"`` (a ``label`` target over a per-row ``choices`` field).
            Default any of them.
        max_fields: Most input fields besides the target (and the choices field); at least 1.

    Returns:
        A strategy for tasks. Input fields are of kind ``text``, ``number``, ``list`` or
        ``alternatives``; field names are identifiers (a repeated name gets a ``_1``
        suffix). Shrinks towards ``Task(name="_", fields={"a": "text", "a_1": "text"},
        target="a_1")``.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for bad arguments or shape names.
    """
    high = check_size(max_fields, "max_fields", minimum=1)
    if shapes is not None:
        check_strategy(shapes, "shapes")
    chosen_shapes = st.sampled_from(TASK_SHAPES) if shapes is None else shapes
    names = _field_names()
    inputs = st.lists(st.tuples(names, st.sampled_from(_INPUT_KINDS)), min_size=1, max_size=high)
    answer_text = _anchored(st.text(string.ascii_letters + " ", max_size=10))
    labels = _labels(answer_text)

    @st.composite
    def build(draw: st.DrawFn) -> Task:
        shape = draw(chosen_shapes)
        if shape not in TASK_SHAPES:
            raise InvalidArgument(
                f"expected shapes to draw one of {list(TASK_SHAPES)}, got {shape!r}"
            )
        # Everything any shape needs is drawn whatever the shape, so that shrinking to a
        # simpler shape leaves the other draws meaning what they meant.
        used: set[str] = set()
        fields = {fresh_name(name, used, joiner="_"): kind for name, kind in draw(inputs)}
        target = fresh_name(draw(names), used, joiner="_")
        extra = fresh_name(draw(names), used, joiner="_")
        target_kind = draw(st.sampled_from(("text", "alternatives")))
        label_space = draw(labels)
        name = draw(st.text(string.ascii_lowercase + "_", min_size=1, max_size=10))
        arguments: dict[str, Any] = {}
        if shape == "generation":
            fields[target] = target_kind
        elif shape == "classification":
            fields[target] = "label"
            arguments["labels"] = label_space
        else:
            fields[extra] = "choices"
            fields[target] = "label"
            arguments["choices"] = extra
        return Task(name=name, fields=fields, target=target, **arguments)

    return build()


# The public functions' own names are taken by their arguments inside the next two.
_make_tasks = tasks


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _pattern(head: str, slots: list[str], gaps: list[str]) -> str:
    """``head``, then each slot followed by its gap text (``""`` when there are too few)."""
    pieces = [_escape(head)]
    for index, slot in enumerate(slots):
        pieces.append("{" + slot + "}")
        pieces.append(_escape(gaps[index]) if index < len(gaps) else "")
    return "".join(pieces)


@defines_strategy
def templates(
    *,
    tasks: st.SearchStrategy[Task] | None = None,
    text: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Template]:
    r""":class:`~instructkit.Template` objects for generated (or given) tasks.

    The instruction uses every input field, in a drawn order, with literal text between
    them (after the sixth field, none), and ``{options}`` (for tasks with a label space,
    sometimes, anywhere); the response holds the target; a system pattern is sometimes
    added. Literal text is drawn from ``text`` with braces escaped, so it carries
    placeholder look-alikes such as ``{{instruction}}`` as literal text; each pattern starts
    with a visible character, so no row renders a blank part. Tasks with a label space
    sometimes pin their option styles (one or several built-in names).

    Args:
        tasks: Strategy for the tasks; default :func:`tasks`.
        text: Strategy for literal pattern text; default ``texts(max_size=24)``.

    Returns:
        A strategy for templates. Shrinks towards ``Template(id="0", task=...,
        instruction="0{a}", response="0{a_1}")`` for the task :func:`tasks` shrinks
        towards.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for an argument that is not a
            strategy.
    """
    if tasks is not None:
        check_strategy(tasks, "tasks")
    if text is not None:
        check_strategy(text, "text")
    chosen_tasks = _make_tasks() if tasks is None else tasks
    literal = texts(max_size=24) if text is None else text
    all_names = sorted(BUILTIN_OPTION_STYLES)
    # A style that answers with the option's marker ("B") needs the options shown.
    text_names = [name for name in all_names if BUILTIN_OPTION_STYLES[name].target == "text"]

    def styles(names: list[str]) -> st.SearchStrategy[Any]:
        several = st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)
        return st.none() | st.sampled_from(names) | several.map(tuple)

    with_options, without_options = styles(all_names), styles(text_names)

    anchored = _anchored(literal)
    gaps = st.lists(literal, max_size=_POOL)
    template_ids = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=8)

    @st.composite
    def build(draw: st.DrawFn) -> Template:
        # The text is drawn before the task and everything that depends on it: a simpler task
        # then leaves the text draws where they were, instead of shifting them onto other
        # choices, which keeps shrinking effective.
        heads = [draw(anchored) for _ in range(3)]
        between = draw(gaps)
        after_target = draw(literal)
        has_system = draw(st.booleans())
        template_id = draw(template_ids)
        style_with, style_without = draw(with_options), draw(without_options)
        task = draw(chosen_tasks)
        inputs = [
            name for name, kind in task.fields.items() if name != task.target and kind != "choices"
        ]
        slots = list(draw(st.permutations(inputs)))
        labelled = task.labels is not None or task.choices is not None
        shows = labelled and draw(st.booleans())
        if shows:
            slots.insert(draw(st.integers(0, len(slots))), "options")
        return Template(
            id=template_id,
            task=task,
            instruction=_pattern(heads[0], slots, between),
            response=_pattern(heads[1], [task.target], [after_target]),
            system=_pattern(heads[2], [], []) if has_system else None,
            options_style=(style_with if shows else style_without) if labelled else None,
        )

    return build()


_make_templates = templates


@defines_strategy
def task_rows(
    *,
    templates: st.SearchStrategy[Template] | None = None,
    text: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[TemplatedRow]:
    """Templates paired with rows they render: ``render(template, row)`` always succeeds.

    A row holds a value for every field of the template's task, of the field's kind: text
    from ``text`` (possibly empty or whitespace-only, with every :func:`texts` edge case),
    64-bit-safe integers or finite floats, lists of text, one or several alternatives,
    two to four distinct non-blank answer choices, and the gold label (a label value, or
    for per-row choices an index or the choice's text). Sometimes an ``id`` (text or an
    integer) is added, which rendering uses as the example id. Values are drawn up front,
    one to six of each kind, before the template (which keeps shrinking effective); a task
    with more fields of one kind than were drawn reuses them in turn.

    Args:
        templates: Strategy for the templates; default :func:`templates`.
        text: Strategy for text field values; default :func:`texts`.

    Returns:
        A strategy for :class:`TemplatedRow` pairs. Shrinks towards the template
        :func:`templates` shrinks towards, with the row ``{"a": "", "a_1": ""}``.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for an argument that is not a
            strategy.
    """
    if templates is not None:
        check_strategy(templates, "templates")
    if text is not None:
        check_strategy(text, "text")
    chosen_templates = _make_templates() if templates is None else templates
    values = texts() if text is None else text
    choice_text = _anchored(texts(max_size=16))
    ids = (
        st.none()
        | st.integers(0, 10**6)
        | st.text(string.ascii_letters + string.digits, min_size=1, max_size=8)
    )

    numbers = st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    pools: st.SearchStrategy[dict[str, list[Any]]] = st.fixed_dictionaries(
        {
            "text": st.lists(values, min_size=1, max_size=_POOL),
            "number": st.lists(numbers, min_size=1, max_size=_POOL),
            "list": st.lists(st.lists(values, max_size=3), min_size=1, max_size=_POOL),
            "alternatives": st.lists(
                values | st.lists(values, min_size=1, max_size=3), min_size=1, max_size=_POOL
            ),
        }
    )
    choice_lists = st.lists(choice_text, min_size=2, max_size=4, unique=True)

    @st.composite
    def build(draw: st.DrawFn) -> TemplatedRow:
        # Values are drawn before the template, for the reason given in templates().
        drawn: dict[str, list[Any]] = draw(pools)
        choices = draw(choice_lists)
        pick = draw(st.integers(0, 3))
        as_text = draw(st.booleans())
        example_id = draw(ids)
        template = draw(chosen_templates)
        task = template.task
        row: dict[str, Any] = {}
        used = {kind: 0 for kind in drawn}
        for name, kind in task.fields.items():
            if kind == "choices":
                row[name] = choices
            elif kind != "label":
                pool = drawn[kind]
                row[name] = pool[used[kind] % len(pool)]
                used[kind] += 1
        if task.labels is not None:
            row[task.target] = task.labels[pick % len(task.labels)][0]
        elif task.choices is not None:
            index = pick % len(choices)
            row[task.target] = choices[index] if as_text else index
        if example_id is not None:
            row["id"] = example_id
        return TemplatedRow(template, row)

    return build()
