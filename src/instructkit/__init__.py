"""instructkit: typed records, dialects, I/O, templates and strategies for instruction data.

The top level holds what most programs use: the records, the errors and reports, reading and
writing files, one row to and from a dialect, Arrow tables, templating and mixing, adapting
datasets and describing them. The rest lives in public subpackages, each documented on its own
page: :mod:`instructkit.dialects`, :mod:`instructkit.arrow`, :mod:`instructkit.templates`,
:mod:`instructkit.adapters`, :mod:`instructkit.curation` and :mod:`instructkit.strategies`
(the last imports Hypothesis, so it is never imported here).
"""

import os as _os
import sys as _sys
import warnings as _warnings
from typing import Any as _Any

from instructkit import adapters as adapters
from instructkit import arrow as arrow
from instructkit import curation as curation
from instructkit import dialects as dialects
from instructkit import templates as templates
from instructkit._adapters import adapt
from instructkit._arrow import from_arrow, to_arrow, to_dataset
from instructkit._describe import describe
from instructkit._dialects import detect_dialect, parse_row, to_row
from instructkit._errors import (
    ConfigurationError,
    DataError,
    DialectDetectionError,
    DialectError,
    InstructkitError,
    LossyConversionError,
    MalformedJSONError,
    RecordValidationError,
    ShardSetError,
    TemplateError,
)
from instructkit._io import (
    Reader,
    ReadPosition,
    WriteResult,
    read,
    read_raw,
    read_table,
    write,
)
from instructkit._public import expose as _expose
from instructkit._records import (
    ContentPart,
    Conversation,
    ImagePart,
    Instruction,
    Message,
    Preference,
    TextPart,
    ToolCall,
)
from instructkit._reports import ItemReport, Loss, LossReport, OnError, Rejection
from instructkit._templates import Task, Template, convert, mix, render
from instructkit._version import __version__

__all__ = [
    "ConfigurationError",
    "ContentPart",
    "Conversation",
    "DataError",
    "DialectDetectionError",
    "DialectError",
    "ImagePart",
    "Instruction",
    "InstructkitError",
    "ItemReport",
    "Loss",
    "LossReport",
    "LossyConversionError",
    "MalformedJSONError",
    "Message",
    "OnError",
    "Preference",
    "ReadPosition",
    "Reader",
    "RecordValidationError",
    "Rejection",
    "ShardSetError",
    "Task",
    "Template",
    "TemplateError",
    "TextPart",
    "ToolCall",
    "WriteResult",
    "__version__",
    "adapt",
    "convert",
    "describe",
    "detect_dialect",
    "from_arrow",
    "mix",
    "parse_row",
    "read",
    "read_raw",
    "read_table",
    "render",
    "to_arrow",
    "to_dataset",
    "to_row",
    "write",
]

_expose(
    __name__,
    *(
        value
        for name, value in list(globals().items())
        if name in __all__ and name not in {"__version__", "ContentPart", "OnError"}
    ),
)

# Names that moved to a subpackage keep working from the top level for one release.
_MOVED = {
    "ARROW_SCHEMA_VERSION": "arrow",
    "arrow_schema": "arrow",
    "Adapter": "adapters",
    "adapter_names": "adapters",
    "get_adapter": "adapters",
    "Description": "curation",
    "DuplicateGroup": "curation",
    "LengthStats": "curation",
    "DialectConflict": "dialects",
    "DialectGuess": "dialects",
    "dialect_names": "dialects",
    "llama_factory_dataset_info": "dialects",
    "FewShot": "templates",
    "LintFinding": "templates",
    "Mixture": "templates",
    "MixtureManifest": "templates",
    "OptionStyle": "templates",
    "builtin_families": "templates",
    "builtin_tasks": "templates",
    "builtin_templates": "templates",
    "lint_templates": "templates",
    "load_templates": "templates",
    "plan_mixture": "templates",
    "save_templates": "templates",
}


def __getattr__(name: str) -> _Any:
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module 'instructkit' has no attribute {name!r}")
    _warnings.warn(
        f"instructkit.{name} moved to instructkit.{home}.{name}; the top-level name will be "
        "removed in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_sys.modules[f"instructkit.{home}"], name)


# Hypothesis's plugin hook (src/_instructkit_hypothesis.py) registers the strategies for
# st.from_type only when instructkit is already imported, so that loading Hypothesis never
# imports instructkit; when Hypothesis came first, the registration happens here, unless
# plugins are turned off the way Hypothesis itself checks.
if "hypothesis" in _sys.modules and not _os.environ.get("HYPOTHESIS_NO_PLUGINS"):
    from instructkit._from_type import register_type_strategies as _register

    _register()
    del _register
