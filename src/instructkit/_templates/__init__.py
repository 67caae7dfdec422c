r"""The template engine: tasks, templates, answer options, rendering, few-shot and mixtures.

Design note for template-library and adapter authors
====================================================

**A task** (:class:`Task`) declares typed fields, the target field and, for classification,
the label space::

    NLI = Task(name="nli", cluster="natural language inference",
               fields={"premise": "text", "hypothesis": "text", "label": "label"},
               target="label",
               labels={0: "yes", 1: "it is not possible to tell", 2: "no"})

Label values are ints or strings, never bools (``True == 1`` in Python): an adapter turns a
boolean column into ``int(value)`` for labels such as ``{1: "yes", 0: "no"}``.

Field kinds: ``text`` (str), ``number`` (int/float), ``label`` (a label value; renders as
its answer text), ``choices`` (per-example answer list of a multiple-choice task, named by
``Task(choices="...")``; shown only via ``{options}``), ``alternatives`` (several gold
strings, one picked per example by a seeded hash; a lone string is fine), ``list`` (strings
joined with ", "). ``Task(rationale="...")`` names a chain-of-thought field (optional in rows).
``Task(optional=(...))`` lists fields templates need not use. Multiple choice with
per-example answers: ``fields={"question": "text", "choices": "choices", "answer": "label"},
target="answer", choices="choices"``; the row's ``answer`` is an index or one of the texts.

**A template** (:class:`Template`) has ``id``, ``task`` (the Task object), ``instruction``,
``response``, optional ``system``, ``inverted``, ``language``, ``tags`` and
``options_style``. Patterns use ``{field}`` placeholders, ``{{``/``}}`` escapes, nothing
else; everything is checked when the template is built (unknown fields list the valid names).

**Declaring options.** Put the reserved placeholder ``{options}`` where the options block
goes (usually the end of the instruction) and the target placeholder (``{label}``) in the
response. The block includes its own header ("OPTIONS:", "Possible answers:" ...) so do not
write one. One declaration gives both variants: with options, and without (the ``{options}``
slot and the whitespace leading into it are dropped), chosen by ``render(..., options=)`` or
``convert(..., options=)``. Pick a style with ``options_style=`` (a built-in name such as
``"flan"``, ``"letters"``, ``"numbers"``, ``"inline"``, an :class:`OptionStyle`, or a tuple
drawn per example); leave it ``None`` to let the caller draw from the default set. Styles
whose ``target="marker"`` (``"letters-answer"``, ``"numbers-answer"``) make the response's
target the bare marker (``B``); use them only in templates whose wording asks for a letter or
number. A template whose styles all answer with a marker (``Template.marker_only``) has no
without-options variant: ``render(..., options=False)`` and ``convert(..., options=p < 1)``
raise ConfigurationError, and the linter reports ``marker-answer-only``. The rendered target
is always exactly one of the rendered options (enforced). The ``inline`` style joins options
with ``", "``, and writes every option as a quoted JSON string when one contains a comma or
a quote (``Options: "10,000", "20,000"``), so the list always splits back into its options.

**Inverted templates** set ``inverted=True`` and put an input field in the response (for
example ``response="{premise}"``); the label may appear in the instruction, where it renders
as its answer text.

**Chain of thought**: ``response="{rationale} So the answer is {label}."`` with
``Task(rationale="rationale")``.

**Rendering**: ``render(template, row)`` gives an :class:`~instructkit.Instruction` whose
``meta["provenance"]`` records task, dataset, example id, template id and hash, options style
and order, seed and library version. ``convert(rows, templates, seed=...)`` does it for a
stream, reproducibly per example (see ``docs/templates.md``).

**Storage**: ``Template.save(path)``/``Template.load(path)`` for one template;
``save_templates(path, templates)``/``load_templates(path)`` for a set (each task stored once).
A set may instead refer to tasks defined in code by name: ``save_templates(path, templates,
embed_tasks=False)`` and ``load_templates(path, tasks={"nli": NLI})``; this is how the
built-in library stores its templates next to the tasks in ``_library/_tasks.py``.
``template.model_copy(update={...})`` re-validates and re-parses, so deriving a variant
(another id, another style) is safe.

**Checking a library**: ``lint_templates(templates, rows={task_name: sample_rows})`` must
return ``[]`` for shipped templates; it reports typos (the Flan ``}n``), glued text,
boundary whitespace, doubled spaces, duplicates, options/label-space mismatches, unused
required fields, targets missing from non-inverted responses, and rows that fail or render
blank.

**Adapters** produce plain row mappings keyed by the task's field names (plus ``id``) and
feed ``convert(rows, templates, seed=..., dataset="snli")``. Each dataset marks unlabeled
rows its own way (label -1, an empty answer), so the built-in adapters reject those rows
themselves through ``on_error``/``ItemReport``; a row that still reaches ``convert`` with a
label outside the label space is rejected there, with its reason. Few-shot
is ``convert(..., fewshot=FewShot(pool=train_rows, k=3))``; mixtures are
``mix({"snli": records, ...}, seed=..., cap=3000)``.
"""

from __future__ import annotations

from instructkit._templates._batch import BatchConverter
from instructkit._templates._columnar import convert_table
from instructkit._templates._convert import convert
from instructkit._templates._fewshot import FewShot
from instructkit._templates._lint import LINT_CODES, LintFinding, lint_templates
from instructkit._templates._mixture import (
    Mixture,
    MixtureManifest,
    SourceStats,
    copies_in_mixture,
    mix,
    mix_key,
    plan_mixture,
)
from instructkit._templates._options import (
    BUILTIN_OPTION_STYLES,
    DEFAULT_OPTION_STYLES,
    OptionStyle,
)
from instructkit._templates._render import DATASET_FIELD, PROVENANCE_KEY, render
from instructkit._templates._task import FieldKind, Task
from instructkit._templates._template import Template, load_templates, save_templates

__all__ = [
    "BUILTIN_OPTION_STYLES",
    "DATASET_FIELD",
    "DEFAULT_OPTION_STYLES",
    "LINT_CODES",
    "PROVENANCE_KEY",
    "BatchConverter",
    "FewShot",
    "FieldKind",
    "LintFinding",
    "Mixture",
    "MixtureManifest",
    "OptionStyle",
    "SourceStats",
    "Task",
    "Template",
    "convert",
    "convert_table",
    "copies_in_mixture",
    "lint_templates",
    "load_templates",
    "mix",
    "mix_key",
    "plan_mixture",
    "render",
    "save_templates",
]
