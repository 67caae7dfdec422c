"""The turns generated transcripts are built from: field strategies, turn specs, blocks.

A block is a run of turns valid on its own (a user turn and its answer; an assistant turn
making tool calls, the results, and the final answer). The record strategies draw lists of
blocks, so the shrinker deletes whole blocks and every intermediate example stays valid, and
:func:`finish` makes tool-call ids unique across the transcript afterwards.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from instructkit._records import EARLY_ROLES, IMAGE_ROLES, ImagePart, Message, TextPart, ToolCall
from instructkit.strategies._core import check_bool, check_size, check_strategy, fresh_name
from instructkit.strategies._json import call_ids, identifiers, json_texts
from instructkit.strategies._text import texts

__all__ = [
    "Block",
    "Spec",
    "TurnParts",
    "answer_spec",
    "exchange",
    "finish",
    "optional_strategy",
    "resolve_parts",
    "system_prelude",
    "tool_call_records",
    "tool_round",
    "turn_spec",
]

# A block is a list of turn specs (dicts of Message fields). A tool turn's spec holds
# "answers": the position, within its block, of the call it answers; the real id is filled
# in once ids are unique across the whole transcript.
Spec = dict[str, Any]
Block = list[Spec]


@dataclass(frozen=True)
class TurnParts:
    """The strategies for each kind of field, resolved from a public function's arguments."""

    required: st.SearchStrategy[str]
    free: st.SearchStrategy[str]
    reasoning: st.SearchStrategy[str | None]
    weights: st.SearchStrategy[float | None]
    names: st.SearchStrategy[str | None]
    calls: st.SearchStrategy[ToolCall]
    max_tool_calls: int
    content_parts: bool = False

    # Strategies used inside draws are built once here: one made afresh in every draw is
    # also validated afresh, which costs more than the draw itself.
    @functools.cached_property
    def call_lists(self) -> st.SearchStrategy[list[ToolCall]]:
        return st.lists(self.calls, min_size=1, max_size=max(self.max_tool_calls, 1))

    @functools.cached_property
    def caller_content(self) -> st.SearchStrategy[str | None]:
        # None, "" and text are three different things on a tool-call turn; formats differ
        # on which they keep, so all three are generated.
        return st.one_of(st.none(), st.just(""), self.required)


# Image references as datasets give them: relative paths, URLs and data URLs, plus any text.
_IMAGE_URLS = st.one_of(
    st.sampled_from(
        (
            "images/0001.jpg",
            "/data/cat.png",
            "https://example.com/cat.png",
            "data:image/png;base64,iVBORw0KGgo=",
        )
    ),
    texts(min_size=1, max_size=20),
)
_IMAGE_PARTS = st.builds(
    ImagePart,
    url=_IMAGE_URLS,
    detail=st.none() | st.sampled_from(("auto", "low", "high")),
)


def _as_parts(draw: st.DrawFn, parts: TurnParts, role: str, content: str) -> Any:
    """``content`` kept as text, or (half the time) spelled as content parts around it."""
    if not draw(st.booleans()):
        return content
    if content == "":
        return ()  # the parts' spelling of empty content, allowed wherever "" is
    pieces: list[Any] = [TextPart(text=content)]
    extra: list[Any] = draw(st.lists(parts.free.map(lambda t: TextPart(text=t)), max_size=1))
    if role in IMAGE_ROLES:
        extra += draw(st.lists(_IMAGE_PARTS, max_size=2))
    for piece in extra:
        pieces.insert(draw(st.integers(0, len(pieces))), piece)
    return tuple(pieces)


def optional_strategy(value: object, name: str, default: st.SearchStrategy[Any]) -> Any:
    """The caller's strategy for ``name`` (checked to be one), or ``default`` for None."""
    if value is None:
        return default
    check_strategy(value, name)
    return value


def resolve_parts(
    text: object,
    reasoning: object,
    weights: object,
    names: object,
    tool_calls: object,
    max_tool_calls: object,
    content_parts: object = False,
) -> TurnParts:
    """The :class:`TurnParts` a public strategy's arguments select, each argument checked."""
    if text is None:
        required: st.SearchStrategy[str] = texts(min_size=1)
        free: st.SearchStrategy[str] = texts()
    else:
        check_strategy(text, "text")
        assert isinstance(text, st.SearchStrategy)
        # Only the draw for one field is retried, never a whole record; a caller's
        # strategy that mostly yields "" is the caller's to fix (Hypothesis will say so).
        required = text.filter(bool)
        free = text
    return TurnParts(
        required=required,
        free=free,
        reasoning=optional_strategy(reasoning, "reasoning", st.none() | free),
        # 0 and 1 are the weights OpenAI's format allows; they come up often on purpose.
        weights=optional_strategy(
            weights, "weights", st.none() | st.sampled_from((0.0, 1.0)) | st.floats(0.0, 1.0)
        ),
        names=optional_strategy(names, "names", st.none() | identifiers(12)),
        calls=optional_strategy(tool_calls, "tool_calls", tool_call_records()),
        max_tool_calls=check_size(max_tool_calls, "max_tool_calls"),
        content_parts=check_bool(content_parts, "content_parts"),
    )


def tool_call_records(
    ids: st.SearchStrategy[str] | None = None,
    names: st.SearchStrategy[str] | None = None,
    arguments: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[ToolCall]:
    """ToolCall records from the given (or default) strategies, unchecked."""
    return st.builds(
        ToolCall,
        id=call_ids() if ids is None else ids.filter(bool),
        name=identifiers() if names is None else names.filter(bool),
        arguments=json_texts() if arguments is None else arguments,
    )


# --- turn blocks --------------------------------------------------------------------------


def turn_spec(draw: st.DrawFn, parts: TurnParts, role: str, content: str | None) -> Spec:
    """One turn's spec: its role and content, with a drawn name and weight."""
    if parts.content_parts and content is not None:
        content = _as_parts(draw, parts, role, content)
    return {
        "role": role,
        "content": content,
        "name": draw(parts.names),
        "weight": draw(parts.weights),
    }


def answer_spec(draw: st.DrawFn, parts: TurnParts) -> Spec:
    """A plain-text assistant answer, with drawn reasoning."""
    spec = turn_spec(draw, parts, "assistant", draw(parts.required))
    spec["reasoning"] = draw(parts.reasoning)
    return spec


def tool_round(draw: st.DrawFn, parts: TurnParts) -> Block:
    """An assistant turn making tool calls, a result for each, then a text answer."""
    calls = draw(parts.call_lists)
    content = draw(parts.caller_content)
    caller = turn_spec(draw, parts, "assistant", content)
    caller["reasoning"] = draw(parts.reasoning)
    caller["tool_calls"] = calls
    # Results usually come back in call order; sometimes not, which is still valid.
    order = draw(_permutations(len(calls)))
    results = []
    for position in order:
        result = turn_spec(draw, parts, "tool", draw(parts.free))
        result["answers"] = position
        results.append(result)
    return [caller, *results, answer_spec(draw, parts)]


@functools.cache
def _permutations(count: int) -> st.SearchStrategy[list[int]]:
    return st.permutations(range(count))


def exchange(parts: TurnParts) -> st.SearchStrategy[Block]:
    """A user turn and its answer: plain text, or a round of tool calls then text."""

    @st.composite
    def plain(draw: st.DrawFn) -> Block:
        return [turn_spec(draw, parts, "user", draw(parts.required)), answer_spec(draw, parts)]

    @st.composite
    def with_tools(draw: st.DrawFn) -> Block:
        return [turn_spec(draw, parts, "user", draw(parts.required)), *tool_round(draw, parts)]

    if parts.max_tool_calls == 0:
        return plain()
    return plain() | with_tools()


def system_prelude(parts: TurnParts, max_system_turns: int) -> st.SearchStrategy[Block]:
    """System and developer turns, which may only come before the first user turn."""

    @st.composite
    def turn(draw: st.DrawFn) -> Spec:
        role = draw(st.sampled_from(EARLY_ROLES))
        return turn_spec(draw, parts, role, draw(parts.required))

    return st.lists(turn(), max_size=max_system_turns)


def finish(blocks: Sequence[Block], used: set[str]) -> list[Message]:
    """Build messages from blocks, renaming call ids so each is unique in the transcript.

    ``used`` holds ids already taken earlier in the transcript; it is updated in place.
    """
    out: list[Message] = []
    for block in blocks:
        ids: list[str] = []
        for spec in block:
            fields = {key: value for key, value in spec.items() if key != "answers"}
            if fields.get("tool_calls"):
                renamed = []
                for call in fields["tool_calls"]:
                    new_id = fresh_name(call.id, used, joiner="-")
                    ids.append(new_id)
                    renamed.append(ToolCall(id=new_id, name=call.name, arguments=call.arguments))
                fields["tool_calls"] = renamed
            if "answers" in spec:
                fields["tool_call_id"] = ids[spec["answers"]]
            out.append(Message(**fields))
    return out
