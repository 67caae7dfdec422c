"""The typed records: messages, conversations, instructions and preference pairs.

Records are immutable pydantic models with a fixed field order. They hold text only (no
tokens), keep ``None`` apart from ``""`` where formats do, and keep open-ended JSON (tool-call
arguments, tool schemas) as the exact JSON text it arrived as, next to a parsed view.

Bad data raises :class:`~instructkit.RecordValidationError` (a :class:`ValueError`) whose
message names the field path and says what was expected and what came instead; pydantic's own
``ValidationError`` never reaches the caller.

One module although it is over 600 lines: the models refer to each other (a message holds
tool calls and content parts, conversations and pairs hold messages, and the conversions
between record types are their methods), and the rule constants that the fast copies of the
rules share (roles, the roles allowed before the first user turn, weights, the record types)
belong next to the models they describe, so that there is one source for each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar, get_args

import orjson
import pydantic
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict
from pydantic import JsonValue as PydanticJsonValue
from pydantic._internal._model_construction import ModelMetaclass

from instructkit._bookkeeping import COMPLETION_START_KEY, INPUT_OFFSET_KEY
from instructkit._errors import (
    ConfigurationError,
    DataError,
    RecordValidationError,
    describe_type,
    format_loc,
    with_article,
)
from instructkit._limits import MAX_TEXT_DEPTH, limit_in_bytes, limit_in_value
from instructkit._public import renamed_keywords
from instructkit._reports import Loss, LossReport, settle_losses

__all__ = [
    "EARLY_ROLES",
    "INPUT_OFFSET_KEY",
    "INPUT_SEPARATOR",
    "MAX_WEIGHT",
    "MIN_WEIGHT",
    "RECORD_TYPES",
    "ROLES",
    "ContentPart",
    "Conversation",
    "ImagePart",
    "Instruction",
    "JsonValue",
    "Message",
    "Preference",
    "Record",
    "RecordType",
    "Role",
    "TextPart",
    "ToolCall",
    "check_json_text",
    "check_message",
    "check_meta_limits",
    "check_text",
    "check_turns",
    "construct_record",
    "content_text",
    "has_images",
    "resolve_record_type",
    "split_input",
    "type_of_record",
    "validation_error",
]

Role = Literal["system", "developer", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = get_args(Role)
"""The roles a :class:`Message` may have, in a fixed order."""

EARLY_ROLES: tuple[str, ...] = ("system", "developer")
"""The roles whose turns may come only before the first user turn of a transcript."""

MIN_WEIGHT = 0.0
MAX_WEIGHT = 1.0
"""The range of a :class:`Message`'s training weight (both ends allowed; NaN never)."""

JsonValue = PydanticJsonValue

INPUT_SEPARATOR = "\n\n"
"""What :meth:`Instruction.to_conversation` puts between an instruction and its input."""


def check_text(value: str) -> str:
    """Reject text that cannot be encoded as UTF-8 (lone surrogates).

    Such strings are accepted by Python and pydantic but fail later, in every JSON, Arrow or
    Parquet writer, far from where they entered; rejecting them here keeps the error located.

    Args:
        value: The text to check.

    Returns:
        ``value`` unchanged.

    Raises:
        ValueError: ``value`` holds a lone surrogate.
    """
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(
                f"expected text encodable as UTF-8, got a lone surrogate "
                f"{value[err.start]!r} at index {err.start}"
            ) from None
    return value


def _check_non_empty(value: str) -> str:
    if not value:
        raise ValueError("expected non-empty text, got ''")
    return value


def check_json_text(value: str) -> str:
    """Return ``value`` if it is valid JSON text (tool arguments, tool schemas).

    The text must also keep within the limits (:mod:`instructkit._limits`): nested at most
    :data:`~instructkit._limits.MAX_TEXT_DEPTH` levels, because dialects write it out as a
    JSON value some levels down their rows, and no integer beyond 64 bits, which a dialect
    writing it as a JSON value could not keep exactly.

    Raises:
        ValueError: ``value`` does not parse as JSON, or breaks a limit.
    """
    beyond = limit_in_bytes(value.encode("utf-8", "surrogatepass"), limit=MAX_TEXT_DEPTH)
    if beyond is not None:
        path, reason, _at = beyond
        inside = "" if not path else f" (at {format_loc(path)} inside the text)"
        raise ValueError(f"{reason}{inside}")
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError as err:
        raise ValueError(f"expected valid JSON text, got {_short(value)} ({err})") from None
    return value


def _json_text_from_value(value: object) -> object:
    # Convenience for Python callers: a dict or list becomes compact JSON text. Strings are
    # kept byte for byte, because they are the exact text a file carried.
    if isinstance(value, (dict, list)):
        try:
            return orjson.dumps(value).decode()
        except TypeError as err:
            raise ValueError(
                f"expected a JSON-compatible value, got {_short(value)} ({err})"
            ) from None
    return value


Text = Annotated[str, Strict(), AfterValidator(check_text)]
NonEmptyText = Annotated[
    str, Strict(), AfterValidator(_check_non_empty), AfterValidator(check_text)
]
JsonText = Annotated[
    str,
    BeforeValidator(_json_text_from_value),
    Strict(),
    AfterValidator(check_text),
    AfterValidator(check_json_text),
]


def check_meta_limits(value: object) -> object:
    """Return ``value``, a record's meta, if it keeps within the limits of :mod:`._limits`.

    Raises:
        RecordValidationError: ``value`` nests too deep or holds an integer beyond 64 bits.
    """
    # Before pydantic's own validation, which gives up with an unlocated recursion error
    # some 255 levels down: meta sits one level inside its record's row.
    beyond = limit_in_value(value, start=1) if isinstance(value, dict) else None
    if beyond is not None:
        path, reason = beyond
        raise RecordValidationError(reason, loc=format_loc(path))
    return value


def _check_meta_text(text: str, path: tuple[str | int, ...]) -> None:
    try:
        check_text(text)
    except ValueError as err:
        raise RecordValidationError(str(err), loc=format_loc(path)) from None


def _check_meta(value: dict[str, Any]) -> dict[str, Any]:
    # JSON writers turn NaN into null, silently; refusing it here keeps every record
    # writable and readable (integers beyond 64 bits and depth: check_meta_limits).
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise RecordValidationError(
                    f"expected a finite number, got {item!r}", loc=format_loc(path)
                )
        elif isinstance(item, str):
            _check_meta_text(item, path)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_meta_text(key, path)
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(item))
    return value


Meta = Annotated[
    dict[str, JsonValue], BeforeValidator(check_meta_limits), AfterValidator(_check_meta)
]


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(error: Any) -> str:
    kind = error["type"]
    got = error.get("input")
    if kind == "missing":
        return "expected a value for this required field, got nothing"
    if kind == "extra_forbidden":
        return f"expected no such field, got one with value {_short(got)}"
    if kind == "too_short":
        ctx = error["ctx"]
        unit = "item" if ctx["min_length"] == 1 else "items"
        return f"expected at least {ctx['min_length']} {unit}, got {ctx['actual_length']}"
    if kind == "literal_error":
        return f"expected {error['ctx']['expected']}, got {_short(got)}"
    message = str(error["msg"])
    message = message[0].lower() + message[1:] if message else message
    if message.startswith("input should be"):
        message = "expected" + message[len("input should be") :]
    return f"{message}, got {_short(got)} ({describe_type(got)})"


def validation_error(
    err: pydantic.ValidationError, prefix: Sequence[str | int] = ()
) -> RecordValidationError:
    """Translate a pydantic ``ValidationError`` into a located :class:`RecordValidationError`.

    Args:
        err: The error pydantic raised.
        prefix: Path parts to put before every location (the record's place in a larger row).

    Returns:
        The translated error; its ``errors`` list every problem pydantic found.
    """
    items: list[tuple[str, str]] = []
    errors = err.errors(include_url=False)
    failed_locs = [e["loc"] for e in errors if e["type"] != "too_short"]
    for error in errors:
        loc_parts = error["loc"]
        if error["type"] == "too_short" and any(
            other[: len(loc_parts)] == loc_parts for other in failed_locs
        ):
            # pydantic drops a failed item and then also reports the list as too short;
            # the item's own error is the one worth showing.
            continue
        parts = [*prefix, *(p for p in loc_parts if isinstance(p, (str, int)))]
        original = (error.get("ctx") or {}).get("error")
        if isinstance(original, DataError):
            items.append((format_loc(parts) + (original.loc or "$")[1:], original.reason))
        elif error["type"] == "value_error" and original is not None:
            items.append((format_loc(parts), str(original)))
        else:
            items.append((format_loc(parts), _describe(error)))
    loc, reason = items[0]
    if len(items) > 1:
        reason += f" (and {len(items) - 1} more problem{'s' if len(items) > 2 else ''})"
    return RecordValidationError(reason, loc=loc, errors=items)


_R = TypeVar("_R", bound="Record")


class _RecordMeta(ModelMetaclass):
    # Translating errors here rather than in ``__init__`` matters: pydantic routes nested
    # validation through a model's own ``__init__`` when it defines one, which would translate
    # inner errors too early and lose their position in the outer record.
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except pydantic.ValidationError as err:
            raise cls._translate(err) from err  # type: ignore[attr-defined]


class Record(BaseModel, metaclass=_RecordMeta):
    """Base of every record: immutable, no unknown fields, errors translated.

    Construct records with keyword arguments, :meth:`model_validate` (a dict) or
    :meth:`model_validate_json` (JSON text); all three raise
    :class:`~instructkit.RecordValidationError` for bad data.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)

    @classmethod
    def _translate(cls, err: pydantic.ValidationError) -> DataError:
        # The one place a record type decides how pydantic's errors reach the caller;
        # subclasses in later layers override it to keep their own error classes.
        return validation_error(err)

    @classmethod
    def model_validate(
        cls: type[_R],
        obj: Any,
        *,
        strict: bool | None = None,
        extra: Literal["allow", "ignore", "forbid"] | None = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> _R:
        """Validate a dict (or record) into this record type.

        Raises:
            RecordValidationError: ``obj`` is not a valid record of this type.
        """
        try:
            return super().model_validate(
                obj,
                strict=strict,
                extra=extra,
                from_attributes=from_attributes,
                context=context,
                by_alias=by_alias,
                by_name=by_name,
            )
        except pydantic.ValidationError as err:
            raise cls._translate(err) from err

    @classmethod
    def model_validate_json(
        cls: type[_R],
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        extra: Literal["allow", "ignore", "forbid"] | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> _R:
        """Validate JSON text into this record type.

        Raises:
            RecordValidationError: the JSON does not describe a valid record of this type.
        """
        try:
            return super().model_validate_json(
                json_data,
                strict=strict,
                extra=extra,
                context=context,
                by_alias=by_alias,
                by_name=by_name,
            )
        except pydantic.ValidationError as err:
            raise cls._translate(err) from err

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON-compatible Python data, every field present, in order."""
        return self.model_dump(mode="json")


class ToolCall(Record):
    """A function call an assistant message makes.

    Attributes:
        id: The call's id, which the answering ``tool`` message repeats as ``tool_call_id``.
        name: The function's name.
        arguments: The arguments as the exact JSON text they arrived as (a dict or list given
            from Python is turned into compact JSON text). Must be valid JSON.

    Example:
        >>> from instructkit import ToolCall
        >>> call = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Oslo"}')
        >>> call.parsed_arguments
        {'city': 'Oslo'}
    """

    id: NonEmptyText
    name: NonEmptyText
    arguments: JsonText

    @property
    def parsed_arguments(self) -> Any:
        """The arguments parsed from their JSON text (a fresh object on every access)."""
        return orjson.loads(self.arguments)


class TextPart(Record):
    """A piece of text inside a message whose content is a list of parts.

    Attributes:
        type: Always ``"text"`` (tells the parts apart in JSON).
        text: The text; may be empty.
    """

    type: Literal["text"] = "text"
    text: Text


class ImagePart(Record):
    """A reference to an image inside a message's content parts (the image is never loaded).

    Attributes:
        type: Always ``"image"`` (tells the parts apart in JSON).
        url: Where the image is, exactly as given: a path, a URL or a ``data:`` URL.
        detail: OpenAI's ``image_url.detail`` (``"auto"``, ``"low"``, ``"high"``), kept as
            given; ``None`` when absent.
    """

    type: Literal["image"] = "image"
    url: NonEmptyText
    detail: NonEmptyText | None = None


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]
"""One part of a message's content: :class:`TextPart` or :class:`ImagePart`."""

IMAGE_ROLES: tuple[str, ...] = ("user",)
"""The roles whose content may hold :class:`ImagePart` (OpenAI's rule: user turns only)."""


def has_images(content: str | tuple[TextPart | ImagePart, ...] | None) -> bool:
    """Whether a message's content holds an image part."""
    return isinstance(content, tuple) and any(type(part) is ImagePart for part in content)


def content_text(content: str | tuple[TextPart | ImagePart, ...] | None) -> str | None:
    """A message's content as one string: the text parts joined, image parts left out.

    Callers that cannot carry parts use this and report the change (and any dropped image).
    """
    if content is None or isinstance(content, str):
        return content
    return "".join(part.text for part in content if type(part) is TextPart)


_PART_TYPES: dict[object, type[TextPart] | type[ImagePart]] = {"text": TextPart, "image": ImagePart}


def _part_from_value(value: object, index: int) -> object:
    if isinstance(value, (TextPart, ImagePart)):
        return value
    if not isinstance(value, dict):
        raise RecordValidationError(
            f"expected a content part object, got {_short(value)} ({describe_type(value)})",
            loc=format_loc((index,)),
        )
    model = _PART_TYPES.get(value.get("type"))
    if model is None:
        raise RecordValidationError(
            "expected a content part of type 'text' or 'image', "
            f"got type {_short(value.get('type'))}",
            loc=format_loc((index, "type")),
        )
    try:
        return model.model_validate(value)
    except RecordValidationError as err:
        raise RecordValidationError(
            err.reason, loc=format_loc((index,)) + (err.loc or "$")[1:]
        ) from None


def _content_from_value(value: object) -> object:
    # Dispatching here, instead of leaving the union to pydantic, gives one located error
    # (``$.content[1].url``) rather than one per union member.
    if value is None:
        return value
    if isinstance(value, str):
        return check_text(value)
    if isinstance(value, (list, tuple)):
        return tuple(_part_from_value(part, index) for index, part in enumerate(value))
    raise ValueError(
        f"expected text, a list of content parts or None, got {_short(value)} "
        f"({describe_type(value)})"
    )


Content = Annotated[Text | tuple[ContentPart, ...] | None, BeforeValidator(_content_from_value)]


class Message(Record):
    """One turn of a conversation.

    Attributes:
        role: ``system``, ``developer``, ``user``, ``assistant`` or ``tool``.
        content: The text, or a tuple of content parts (:class:`TextPart`,
            :class:`ImagePart`; images on user turns only). ``None`` is allowed only on an
            assistant turn that makes tool calls (and is kept apart from ``""`` and ``()``).
            System, developer and user turns need non-empty content; an assistant turn
            without tool calls needs non-empty content; a tool result may be empty. Parts are
            empty when they hold no image and no non-empty text.
        name: Optional speaker or tool name.
        tool_calls: Calls an assistant turn makes (assistant only).
        tool_call_id: The call a ``tool`` turn answers (required on tool turns, only there).
        reasoning: Reasoning text an assistant produced before its answer (assistant only).
        weight: Training weight in [0, 1]; ``None`` means "the trainer's default".
    """

    role: Role
    content: Content
    name: NonEmptyText | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: NonEmptyText | None = None
    reasoning: Text | None = None
    weight: Annotated[float, Field(ge=MIN_WEIGHT, le=MAX_WEIGHT, allow_inf_nan=False)] | None = None

    @pydantic.model_validator(mode="after")
    def _check_roles(self) -> Message:
        check_message(self)
        return self


def check_message(message: Message) -> None:
    """Check the rules between a turn's fields: which roles may have which fields.

    Raises:
        RecordValidationError: tool calls or reasoning off an assistant turn, a tool turn
            without its call id or text, a call id off a tool turn, or missing or empty
            text where the role needs some.
    """
    role = message.role
    if message.tool_calls and role != "assistant":
        raise RecordValidationError(
            f"expected tool_calls only on assistant turns, got them on {with_article(role)} turn",
            loc="$.tool_calls",
        )
    if message.reasoning is not None and role != "assistant":
        raise RecordValidationError(
            f"expected reasoning only on assistant turns, got it on {with_article(role)} turn",
            loc="$.reasoning",
        )
    content = message.content
    if isinstance(content, tuple):
        for index, part in enumerate(content):
            if type(part) is ImagePart and role not in IMAGE_ROLES:
                raise RecordValidationError(
                    f"expected image parts only on user turns, got one on a turn of role {role!r}",
                    loc=format_loc(("content", index)),
                )
    if role == "tool":
        if message.tool_call_id is None:
            raise RecordValidationError(
                "expected a tool_call_id on a tool turn, got None", loc="$.tool_call_id"
            )
        if message.content is None:
            raise RecordValidationError(
                "expected text (possibly empty) on a tool turn, got None", loc="$.content"
            )
        return
    if message.tool_call_id is not None:
        raise RecordValidationError(
            f"expected tool_call_id only on tool turns, got one on {with_article(role)} turn",
            loc="$.tool_call_id",
        )
    if role == "assistant" and message.tool_calls:
        return
    if message.content is None:
        raise RecordValidationError(
            f"expected text on {with_article(role)} turn (None is allowed only on an "
            "assistant turn with tool_calls), got None",
            loc="$.content",
        )
    if isinstance(content, tuple):
        if not any(isinstance(part, ImagePart) or part.text for part in content):
            got = f"{len(content)} text parts, all empty" if content else "no parts"
            raise RecordValidationError(
                f"expected content parts with an image or non-empty text on a {role} turn, "
                f"got {got}",
                loc="$.content",
            )
    elif not content:
        raise RecordValidationError(
            f"expected non-empty text on {with_article(role)} turn, got ''", loc="$.content"
        )


def check_turns(messages: Sequence[Message], *, field: str = "messages") -> None:
    """Check the rules that span turns: system placement and tool-call linkage.

    Args:
        messages: The turns, in order.
        field: Name of the field holding them, for error locations.

    Raises:
        RecordValidationError: a system or developer turn after the first user turn, a tool
            turn answering no earlier call (or one already answered), or a repeated call id.
    """
    seen_user = False
    issued: set[str] = set()
    answered: set[str] = set()
    for index, message in enumerate(messages):
        role = message.role
        if role == "user":
            seen_user = True
        elif role in EARLY_ROLES and seen_user:
            raise RecordValidationError(
                f"expected {role} turns only before the first user turn, got one after it",
                loc=format_loc((field, index, "role")),
            )
        for call_index, call in enumerate(message.tool_calls):
            if call.id in issued:
                raise RecordValidationError(
                    f"expected unique tool-call ids, got {call.id!r} a second time",
                    loc=format_loc((field, index, "tool_calls", call_index, "id")),
                )
            issued.add(call.id)
        if role == "tool":
            call_id = message.tool_call_id
            if call_id not in issued:
                known = ", ".join(repr(i) for i in sorted(issued - answered)) or "none"
                raise RecordValidationError(
                    f"expected a tool_call_id issued by an earlier assistant turn "
                    f"(open calls: {known}), got {call_id!r}",
                    loc=format_loc((field, index, "tool_call_id")),
                )
            if call_id in answered:
                raise RecordValidationError(
                    f"expected each tool call to be answered once, got a second answer to "
                    f"{call_id!r}",
                    loc=format_loc((field, index, "tool_call_id")),
                )
            answered.add(call_id)


class Conversation(Record):
    """A chat transcript: the canonical record every dialect converts into and out of.

    Attributes:
        messages: The turns, at least one.
        tools: JSON schemas of the tools offered, each kept as its exact JSON text.
        id: Optional record id.
        meta: JSON-compatible provenance and extras (dataset, category, source ids ...).

    Example:
        >>> from instructkit import Conversation
        >>> chat = Conversation(messages=[
        ...     {"role": "user", "content": "What is 2 + 2?"},
        ...     {"role": "assistant", "content": "4"},
        ... ])
        >>> [m.role for m in chat.messages]
        ['user', 'assistant']
    """

    messages: Annotated[tuple[Message, ...], Field(min_length=1)]
    tools: tuple[JsonText, ...] = ()
    id: NonEmptyText | None = None
    meta: Meta = Field(default_factory=dict)

    @pydantic.model_validator(mode="after")
    def _check_turns(self) -> Conversation:
        check_turns(self.messages)
        return self

    @property
    def parsed_tools(self) -> list[Any]:
        """The tool schemas parsed from their JSON text."""
        return [orjson.loads(tool) for tool in self.tools]

    @renamed_keywords(report="losses")
    def to_instruction(
        self, *, strict: bool = False, losses: LossReport | None = None
    ) -> Instruction:
        """Turn a ``[system?] user assistant`` conversation into an :class:`Instruction`.

        The join made by :meth:`Instruction.to_conversation` is undone exactly: when
        ``meta`` holds :data:`INPUT_OFFSET_KEY` and the separator sits at that offset, the user
        text is split there into instruction and input (and the key is removed from ``meta``);
        otherwise the whole user text becomes the instruction and the input is ``""`` (the
        text is never split by guessing). A prompt-completion split
        (:data:`~instructkit._bookkeeping.COMPLETION_START_KEY`) before the answer is what an
        Instruction is, so it is removed from ``meta``; a split elsewhere is dropped and
        reported. Other bookkeeping, such as the layout the conversation was read from, is
        carried in ``meta``.

        Content given as text parts is joined into one string (reported as changed); a turn
        holding an image part is refused, as an Instruction holds text only.

        Args:
            strict: Raise instead of dropping or changing message fields an Instruction
                cannot hold (names, weights, reasoning, content parts).
            losses: Where to count what was dropped.

        Returns:
            The instruction record.

        Raises:
            RecordValidationError: the conversation has another shape, or holds an image.
            LossyConversionError: ``strict`` and something would be dropped.
        """
        roles = [m.role for m in self.messages]
        if roles not in (["user", "assistant"], ["system", "user", "assistant"]):
            raise RecordValidationError(
                f"expected turns [system?, user, assistant] to make an Instruction, got {roles}",
                loc="$.messages",
            )
        found: list[Loss] = []
        for index, message in enumerate(self.messages):
            if has_images(message.content):
                raise RecordValidationError(
                    "expected text-only turns to make an Instruction, got an image part",
                    loc=f"$.messages[{index}].content",
                )
            if isinstance(message.content, tuple):
                found.append(
                    Loss(
                        "changed",
                        f"$.messages[{index}].content",
                        "text parts are joined into one string: an Instruction holds text",
                    )
                )
        system = content_text(self.messages[0].content) if roles[0] == "system" else None
        user, assistant = self.messages[-2], self.messages[-1]
        text = content_text(user.content) or ""
        meta = dict(self.meta)
        offset = meta.pop(INPUT_OFFSET_KEY, None)
        instruction, input_text = split_input(text, offset)
        start = meta.pop(COMPLETION_START_KEY, None)
        if start is not None and (type(start) is not int or start != len(roles) - 1):
            found.append(
                Loss(
                    "dropped",
                    f"$.meta[{COMPLETION_START_KEY!r}]",
                    f"an Instruction's completion is its response (message {len(roles) - 1}), "
                    f"not what starts at message {start!r}",
                )
            )
        if offset is not None and input_text == "":
            found.append(
                Loss(
                    "dropped",
                    f"$.meta[{INPUT_OFFSET_KEY!r}]",
                    "an input offset that does not match the user text was ignored",
                )
            )
        for index, message in enumerate(self.messages):
            for field in ("name", "reasoning", "weight"):
                if getattr(message, field) is not None:
                    found.append(
                        Loss(
                            "dropped",
                            f"$.messages[{index}].{field}",
                            f"an Instruction has no per-turn {field}",
                        )
                    )
        if self.tools:
            found.append(Loss("dropped", "$.tools", "an Instruction has no tools"))
        if assistant.content is None or assistant.tool_calls:
            raise RecordValidationError(
                "expected a plain text assistant answer to make an Instruction, got tool calls",
                loc=f"$.messages[{len(roles) - 1}]",
            )
        settle_losses(found, strict=strict, losses=losses, what="conversation")
        return Instruction(
            instruction=instruction,
            input=input_text,
            response=content_text(assistant.content),
            system=system,
            id=self.id,
            meta=meta,
        )


_new = object.__new__
# pydantic keeps these in slots; their descriptors set them without a name lookup.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def construct_record(cls: type[_R], values: dict[str, Any], fields_set: set[str]) -> _R:
    """A record of ``cls`` holding ``values``, built the way ``model_construct`` does.

    Nothing is checked: the caller guarantees the record's rules, and gives every field in
    field order (pydantic serialises a model's ``__dict__`` in its order) and the fields set
    as validation would have recorded them. About ten times cheaper than
    ``model_construct``, which looks up every field's default.
    """
    record: _R = _new(cls)
    _set_dict(record, values)
    _set_fields_set(record, fields_set)
    _set_extra(record, None)
    _set_private(record, None)
    return record


def split_input(text: str, offset: object) -> tuple[str, str]:
    r"""Undo the instruction/input join of :meth:`Instruction.to_conversation`.

    Args:
        text: The user text.
        offset: Where the input starts (``meta[INPUT_OFFSET_KEY]``), or ``None``.

    Returns:
        ``(instruction, input)``: split at ``offset`` when :data:`INPUT_SEPARATOR` sits just
        before it, otherwise the whole text and ``""`` (the text is never split by guessing).

    Example:
        >>> split_input("Translate.\n\nHallo", 12)
        ('Translate.', 'Hallo')
    """
    sep = len(INPUT_SEPARATOR)
    if (
        isinstance(offset, int)
        and not isinstance(offset, bool)
        and sep <= offset < len(text)
        and text[offset - sep : offset] == INPUT_SEPARATOR
    ):
        return text[: offset - sep], text[offset:]
    return text, ""


class Instruction(Record):
    r"""An instruction, an optional input, and the response: the Alpaca-style record.

    The hand-written ``[{"instruction": ..., "response": ...}]`` JSON of an instruction-tuning
    tutorial is exactly a list of these.

    Attributes:
        instruction: The task, non-empty.
        input: Material the instruction refers to (a passage, a sentence to translate); may be
            empty.
        response: The answer, non-empty.
        system: Optional system prompt.
        id: Optional record id.
        meta: JSON-compatible provenance and extras.

    Example:
        >>> from instructkit import Instruction
        >>> record = Instruction(instruction="Translate to French.", input="Good morning",
        ...                      response="Bonjour")
        >>> record.to_conversation().messages[0].content
        'Translate to French.\n\nGood morning'
    """

    instruction: NonEmptyText
    input: Text = ""
    response: NonEmptyText
    system: NonEmptyText | None = None
    id: NonEmptyText | None = None
    meta: Meta = Field(default_factory=dict)

    def to_conversation(self) -> Conversation:
        """Turn this instruction into a ``[system?] user assistant`` conversation, losslessly.

        The user turn is the instruction alone when the input is empty, otherwise the
        instruction, :data:`INPUT_SEPARATOR` (a blank line) and the input. When there is an
        input, ``meta[INPUT_OFFSET_KEY]`` records where it starts so that
        :meth:`Conversation.to_instruction` gives back this exact record.

        Returns:
            The conversation.
        """
        messages: list[Message] = []
        if self.system is not None:
            messages.append(Message(role="system", content=self.system))
        meta = dict(self.meta)
        if self.input:
            user_text = self.instruction + INPUT_SEPARATOR + self.input
            meta[INPUT_OFFSET_KEY] = len(self.instruction) + len(INPUT_SEPARATOR)
        else:
            user_text = self.instruction
        messages.append(Message(role="user", content=user_text))
        messages.append(Message(role="assistant", content=self.response))
        return Conversation(messages=messages, id=self.id, meta=meta)


class Preference(Record):
    """A prompt with a preferred and a dispreferred continuation.

    Attributes:
        prompt: The shared turns before the two continuations (may be empty when two
            transcripts differ from their first turn).
        chosen: The preferred continuation, at least one turn.
        rejected: The dispreferred continuation, at least one turn.
        tools: JSON schemas of the tools offered, each kept as its exact JSON text.
        id: Optional record id.
        meta: JSON-compatible provenance and extras (scores, ratings ...).

    ``prompt + chosen`` and ``prompt + rejected`` must each be a valid conversation.
    """

    prompt: tuple[Message, ...] = ()
    chosen: Annotated[tuple[Message, ...], Field(min_length=1)]
    rejected: Annotated[tuple[Message, ...], Field(min_length=1)]
    tools: tuple[JsonText, ...] = ()
    id: NonEmptyText | None = None
    meta: Meta = Field(default_factory=dict)

    @pydantic.model_validator(mode="after")
    def _check_transcripts(self) -> Preference:
        for side in ("chosen", "rejected"):
            try:
                check_turns((*self.prompt, *getattr(self, side)), field="prompt")
            except RecordValidationError as err:
                raise _relocate_transcript_error(err, len(self.prompt), side) from None
        return self

    def to_transcripts(self) -> tuple[Conversation, Conversation]:
        """The two full transcripts, ``prompt + chosen`` and ``prompt + rejected``.

        Both carry this record's tools, id and meta. :meth:`from_transcripts` undoes this.
        """
        common = {"tools": self.tools, "id": self.id, "meta": self.meta}
        return (
            Conversation(messages=(*self.prompt, *self.chosen), **common),
            Conversation(messages=(*self.prompt, *self.rejected), **common),
        )

    @classmethod
    def from_transcripts(
        cls,
        chosen: Conversation,
        rejected: Conversation,
        *,
        id: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Preference:
        """Split two full transcripts at their longest shared prefix of turns.

        The shared prefix becomes the prompt, except that each side keeps at least one turn
        of its own: when one transcript is a prefix of the other, or both are equal, the
        prompt stops one turn earlier. Transcripts that differ from their first turn give an
        empty prompt.

        Args:
            chosen: The preferred transcript.
            rejected: The dispreferred transcript.
            id: Record id; defaults to the chosen transcript's id.
            meta: Record meta; defaults to the chosen transcript's meta.

        Returns:
            The preference record. ``Preference.from_transcripts(*p.to_transcripts()) == p``
            holds whenever ``p.chosen[0] != p.rejected[0]``, or one side is a single turn.

        Raises:
            RecordValidationError: the transcripts offer different tools.
        """
        if chosen.tools != rejected.tools:
            raise RecordValidationError(
                "expected both transcripts to offer the same tools, got different tool lists",
                loc="$.tools",
            )
        a, b = chosen.messages, rejected.messages
        shared = 0
        limit = min(len(a), len(b))
        while shared < limit and a[shared] == b[shared]:
            shared += 1
        shared = min(shared, len(a) - 1, len(b) - 1)
        return cls(
            prompt=a[:shared],
            chosen=a[shared:],
            rejected=b[shared:],
            tools=chosen.tools,
            id=chosen.id if id is None else id,
            meta=dict(chosen.meta) if meta is None else meta,
        )


def _relocate_transcript_error(
    err: RecordValidationError, prompt_length: int, side: str
) -> RecordValidationError:
    # check_turns saw prompt + side as one list named "prompt"; point into the right field.
    loc = err.loc or "$"
    head = "$.prompt["
    if loc.startswith(head):
        index_text, _, rest = loc[len(head) :].partition("]")
        index = int(index_text)
        if index >= prompt_length:
            loc = f"$.{side}[{index - prompt_length}]{rest}"
    return RecordValidationError(err.reason, loc=loc)


RecordType = type[Conversation] | type[Instruction] | type[Preference]
"""A record class: :class:`Instruction`, :class:`Conversation` or :class:`Preference`."""

RECORD_TYPES: tuple[type[Record], ...] = (Instruction, Conversation, Preference)
"""The record classes, in the order messages name them."""


def resolve_record_type(record: object) -> type[Record]:
    """The record class for ``record``: a class, or its name in any case.

    Raises:
        ConfigurationError: anything else.
    """
    if isinstance(record, type) and record in RECORD_TYPES:
        return record
    if isinstance(record, str):
        for kind in RECORD_TYPES:
            if record.lower() == kind.__name__.lower():
                return kind
    names = ", ".join(kind.__name__ for kind in RECORD_TYPES)
    raise ConfigurationError(
        f"expected record to be one of {names} (class or name), got {record!r}"
    )


def type_of_record(item: object) -> type[Record]:
    """The record class of a record instance.

    Raises:
        ConfigurationError: ``item`` is not an :class:`Instruction`, :class:`Conversation` or
            :class:`Preference`.
    """
    for kind in RECORD_TYPES:
        if isinstance(item, kind):
            return kind
    raise ConfigurationError(
        "expected Instruction, Conversation or Preference records, got "
        f"{with_article(type(item).__name__)}"
    )
