"""instructkit: typed records, dialects, I/O, templates and strategies for instruction data."""

import os as _os
import sys as _sys

from instructkit._adapters import Adapter, adapt, adapter_names, get_adapter
from instructkit._arrow import ARROW_SCHEMA_VERSION, arrow_schema, from_arrow, to_arrow
from instructkit._describe import Description, DuplicateGroup, LengthStats, describe
from instructkit._dialects import (
    DialectConflict,
    DialectGuess,
    detect_dialect,
    dialect_names,
    parse_row,
    to_row,
)
from instructkit._errors import (
    ConfigurationError,
    DataError,
    DialectDetectionError,
    DialectError,
    InstructkitError,
    LossyConversionError,
    MalformedJSONError,
    RecordValidationError,
    TemplateError,
)
from instructkit._io import Reader, ReadPosition, WriteResult, read, read_raw, write
from instructkit._library import builtin_families, builtin_tasks, builtin_templates
from instructkit._llama_factory import llama_factory_dataset_info
from instructkit._policy import ItemReport, OnError, Rejection
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
from instructkit._report import Loss, LossReport
from instructkit._table import read_table
from instructkit._templates import (
    FewShot,
    LintFinding,
    Mixture,
    MixtureManifest,
    OptionStyle,
    Task,
    Template,
    convert,
    lint_templates,
    load_templates,
    mix,
    plan_mixture,
    render,
    save_templates,
)
from instructkit._version import __version__

__all__ = [
    "ARROW_SCHEMA_VERSION",
    "Adapter",
    "ConfigurationError",
    "ContentPart",
    "Conversation",
    "DataError",
    "Description",
    "DialectConflict",
    "DialectDetectionError",
    "DialectError",
    "DialectGuess",
    "DuplicateGroup",
    "FewShot",
    "ImagePart",
    "Instruction",
    "InstructkitError",
    "ItemReport",
    "LengthStats",
    "LintFinding",
    "Loss",
    "LossReport",
    "LossyConversionError",
    "MalformedJSONError",
    "Message",
    "Mixture",
    "MixtureManifest",
    "OnError",
    "OptionStyle",
    "Preference",
    "ReadPosition",
    "Reader",
    "RecordValidationError",
    "Rejection",
    "Task",
    "Template",
    "TemplateError",
    "TextPart",
    "ToolCall",
    "WriteResult",
    "__version__",
    "adapt",
    "adapter_names",
    "arrow_schema",
    "builtin_families",
    "builtin_tasks",
    "builtin_templates",
    "convert",
    "describe",
    "detect_dialect",
    "dialect_names",
    "from_arrow",
    "get_adapter",
    "lint_templates",
    "llama_factory_dataset_info",
    "load_templates",
    "mix",
    "parse_row",
    "plan_mixture",
    "read",
    "read_raw",
    "read_table",
    "render",
    "save_templates",
    "to_arrow",
    "to_row",
    "write",
]

# Hypothesis's plugin hook (src/_instructkit_hypothesis.py) registers the strategies for
# st.from_type only when instructkit is already imported, so that loading Hypothesis never
# imports instructkit; when Hypothesis came first, the registration happens here, unless
# plugins are turned off the way Hypothesis itself checks.
if "hypothesis" in _sys.modules and not _os.environ.get("HYPOTHESIS_NO_PLUGINS"):
    from instructkit._strategies._register import register_type_strategies as _register

    _register()
    del _register
