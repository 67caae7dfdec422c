"""instructkit: typed records, dialects, I/O, templates and strategies for instruction data."""

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
from instructkit._policy import ItemReport, OnError, Rejection
from instructkit._records import (
    Conversation,
    Instruction,
    Message,
    Preference,
    ToolCall,
)
from instructkit._report import Loss, LossReport
from instructkit._version import __version__

__all__ = [
    "ConfigurationError",
    "Conversation",
    "DataError",
    "DialectConflict",
    "DialectDetectionError",
    "DialectError",
    "DialectGuess",
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
    "RecordValidationError",
    "Rejection",
    "TemplateError",
    "ToolCall",
    "__version__",
    "detect_dialect",
    "dialect_names",
    "parse_row",
    "to_row",
]
