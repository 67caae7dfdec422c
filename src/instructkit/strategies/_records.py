"""Strategies for the record types, valid by construction.

Turns are built in blocks that are valid on their own (a user turn and its answer; an
assistant turn making tool calls, the results, and the final answer), and blocks are drawn
with :func:`hypothesis.strategies.lists`, so the shrinker deletes whole blocks and every
intermediate example stays valid. Tool-call ids are made unique across a transcript by a
deterministic pass after drawing, never by rejecting examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from instructkit._records import (
    ROLES,
    Conversation,
    Instruction,
    Message,
    Preference,
    TextPart,
    ToolCall,
)
from instructkit.strategies._core import (
    check_bounds,
    check_size,
    check_strategy,
    defines_strategy,
)
from instructkit.strategies._json import (
    call_ids,
    meta_dicts,
    record_ids,
    tool_schemas,
)
from instructkit.strategies._text import texts
from instructkit.strategies._turn_blocks import (
    Block,
    answer_spec,
    exchange,
    finish,
    optional_strategy,
    resolve_parts,
    system_prelude,
    tool_call_records,
    tool_round,
    turn_spec,
)

__all__ = [
    "DEFAULT_MAX_EXCHANGES",
    "PREFERENCE_SHAPES",
    "conversations",
    "instructions",
    "messages",
    "preferences",
    "tool_calls",
]

DEFAULT_MAX_EXCHANGES = 3
"""Most user turns a generated conversation has when ``max_exchanges`` is None."""


@defines_strategy
def tool_calls(
    *,
    ids: st.SearchStrategy[str] | None = None,
    names: st.SearchStrategy[str] | None = None,
    arguments: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[ToolCall]:
    """:class:`~instructkit.ToolCall` records.

    Args:
        ids: Strategy for call ids (non-empty); default ``call_`` and a few letters or digits.
        names: Strategy for function names (non-empty); default short ASCII identifiers.
        arguments: Strategy for the arguments as JSON text; default a small JSON object
            spelled compactly, with spaces, indented, or with ASCII escapes (the record keeps
            the exact text, so all spellings must survive a round trip).

    Returns:
        A strategy for tool calls. Edge cases: argument values with every kind of
        :func:`texts` trouble, 64-bit integer extremes, ``-0.0``, nested arrays and objects.
        Shrinks towards ``ToolCall(id="call_0", name="0", arguments="{}")``.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, if an argument is not a strategy.
    """
    for value, name in ((ids, "ids"), (names, "names"), (arguments, "arguments")):
        if value is not None:
            check_strategy(value, name)
    return tool_call_records(ids, names, arguments)


# --- messages -----------------------------------------------------------------------------


@defines_strategy
def messages(
    *,
    roles: st.SearchStrategy[str] | None = None,
    text: st.SearchStrategy[str] | None = None,
    reasoning: st.SearchStrategy[str | None] | None = None,
    weights: st.SearchStrategy[float | None] | None = None,
    names: st.SearchStrategy[str | None] | None = None,
    tool_calls: st.SearchStrategy[ToolCall] | None = None,
    max_tool_calls: int = 2,
    content_parts: bool = False,
) -> st.SearchStrategy[Message]:
    r"""Single :class:`~instructkit.Message` records, each valid on its own.

    System, developer and user turns get non-empty text; an assistant turn gets either text
    or up to ``max_tool_calls`` tool calls with content ``None``, ``""`` or text; a tool
    turn gets a ``tool_call_id`` and text that may be empty. Reasoning only appears on
    assistant turns. Use :func:`conversations` for turns that must fit together.

    Args:
        roles: Strategy for the role; default any of ``system``, ``developer``, ``user``,
            ``assistant``, ``tool``. Drawing another value raises InvalidArgument.
        text: Strategy for message text; default :func:`texts` (with ``min_size=1`` where
            text is required). A custom strategy is retried locally where it yields ``""``
            for a field that needs text.
        reasoning: Strategy for assistant reasoning; default None or text (possibly ``""``).
            Pass ``st.none()`` to leave it out.
        weights: Strategy for the weight; default None, 0, 1 or a float in [0, 1].
        names: Strategy for the optional ``name``; default None or a short identifier.
        tool_calls: Strategy for tool calls; default :func:`tool_calls`.
        max_tool_calls: Most calls on one assistant turn; 0 turns tool calls off.
        content_parts: Also spell content as content parts, half the time: the text as a
            :class:`~instructkit.TextPart`, sometimes with another text part and, on user
            turns, up to two :class:`~instructkit.ImagePart` references around it (empty
            content becomes ``()``). Off by default, so existing tests keep plain text.

    Returns:
        A strategy for messages. Shrinks towards ``Message(role="system", content="0")``.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for an argument of the wrong type.
    """
    parts = resolve_parts(
        text, reasoning, weights, names, tool_calls, max_tool_calls, content_parts
    )
    chosen_roles: st.SearchStrategy[str] = optional_strategy(roles, "roles", st.sampled_from(ROLES))

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        role = draw(chosen_roles)
        if role not in ROLES:
            raise InvalidArgument(f"expected roles to draw one of {list(ROLES)}, got {role!r}")
        if role == "assistant":
            if parts.max_tool_calls and draw(st.booleans()):
                block = tool_round(draw, parts)[:1]
            else:
                block = [answer_spec(draw, parts)]
            return finish([block], set())[0]
        if role == "tool":
            spec = turn_spec(draw, parts, "tool", draw(parts.free))
            spec["tool_call_id"] = draw(call_ids())
            return Message(**spec)
        return Message(**turn_spec(draw, parts, role, draw(parts.required)))

    return build()


# --- conversations ------------------------------------------------------------------------


@defines_strategy
def conversations(
    *,
    min_exchanges: int = 1,
    max_exchanges: int | None = None,
    max_system_turns: int = 2,
    text: st.SearchStrategy[str] | None = None,
    reasoning: st.SearchStrategy[str | None] | None = None,
    weights: st.SearchStrategy[float | None] | None = None,
    names: st.SearchStrategy[str | None] | None = None,
    tool_calls: st.SearchStrategy[ToolCall] | None = None,
    max_tool_calls: int = 2,
    content_parts: bool = False,
    tools: st.SearchStrategy[Sequence[str]] | None = None,
    ids: st.SearchStrategy[str | None] | None = None,
    meta: st.SearchStrategy[dict[str, Any]] | None = None,
) -> st.SearchStrategy[Conversation]:
    """:class:`~instructkit.Conversation` records, valid by construction.

    A conversation is up to ``max_system_turns`` system or developer turns, then
    ``min_exchanges`` to ``max_exchanges`` exchanges. An exchange is a user turn and its
    answer: either one assistant turn, or an assistant turn making tool calls (content
    ``None``, ``""`` or text), one tool turn answering each call (sometimes out of order),
    and a final assistant turn. Call ids are unique across the conversation.

    Args:
        min_exchanges: Fewest user turns (at least 1).
        max_exchanges: Most user turns; None means ``max(min_exchanges, 3)``.
        max_system_turns: Most system/developer turns at the start; 0 for none.
        text: Strategy for message text (see :func:`messages`).
        reasoning: Strategy for assistant reasoning (see :func:`messages`).
        weights: Strategy for per-turn weights (see :func:`messages`).
        names: Strategy for per-turn names (see :func:`messages`).
        tool_calls: Strategy for tool calls; ids are made unique after drawing by adding a
            ``-N`` suffix to repeats.
        max_tool_calls: Most calls on one assistant turn; 0 turns tool use off.
        content_parts: Also spell content as content parts (see :func:`messages`).
        tools: Strategy for the tool schemas (a sequence of JSON texts); default zero to
            two OpenAI-style function schemas.
        ids: Strategy for the record id; default None or non-empty text.
        meta: Strategy for ``meta``; default a small dict of JSON values (keys never start
            with ``instructkit.``, which the library reserves).

    Returns:
        A strategy for conversations. Edge cases: every :func:`texts` edge case in every
        text field, ``None`` vs ``""`` content on tool-call turns, empty tool results and
        reasoning, weights 0 and 1, repeated call ids renamed apart. Shrinks towards one
        user turn and one assistant turn, both ``"0"``, with no extras.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for bad bounds or argument types.
    """
    parts = resolve_parts(
        text, reasoning, weights, names, tool_calls, max_tool_calls, content_parts
    )
    low, high = check_bounds(
        min_exchanges, max_exchanges, ("min_exchanges", "max_exchanges"), minimum=1
    )
    high = max(low, DEFAULT_MAX_EXCHANGES) if high is None else high
    system_cap = check_size(max_system_turns, "max_system_turns")
    schemas = optional_strategy(tools, "tools", st.lists(tool_schemas(), max_size=2))
    record_id = optional_strategy(ids, "ids", record_ids())
    metas = optional_strategy(meta, "meta", meta_dicts())
    prelude = system_prelude(parts, system_cap)
    body = st.lists(exchange(parts), min_size=low, max_size=high)

    @st.composite
    def build(draw: st.DrawFn) -> Conversation:
        blocks = [draw(prelude), *draw(body)]
        return Conversation(
            messages=finish(blocks, set()),
            tools=tuple(draw(schemas)),
            id=draw(record_id),
            meta=draw(metas),
        )

    return build()


# --- instructions -------------------------------------------------------------------------


@defines_strategy
def instructions(
    *,
    text: st.SearchStrategy[str] | None = None,
    inputs: st.SearchStrategy[str] | None = None,
    systems: st.SearchStrategy[str | None] | None = None,
    ids: st.SearchStrategy[str | None] | None = None,
    meta: st.SearchStrategy[dict[str, Any]] | None = None,
) -> st.SearchStrategy[Instruction]:
    r""":class:`~instructkit.Instruction` records.

    Args:
        text: Strategy for the instruction and response (non-empty); default
            ``texts(min_size=1)``. A custom strategy is retried locally where it yields ``""``.
        inputs: Strategy for the input; default ``""`` or :func:`texts` (which may itself
            be empty, whitespace-only, or contain ``"\n\n"``, the separator used when the
            instruction is joined into a user turn).
        systems: Strategy for the system prompt; default None or non-empty text.
        ids: Strategy for the record id; default None or non-empty text.
        meta: Strategy for ``meta``; default as for :func:`conversations`.

    Returns:
        A strategy for instructions. Shrinks towards
        ``Instruction(instruction="0", input="", response="0")``.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for an argument of the wrong type.
    """
    if text is None:
        required: st.SearchStrategy[str] = texts(min_size=1)
        free: st.SearchStrategy[str] = texts()
    else:
        check_strategy(text, "text")
        required, free = text.filter(bool), text
    return st.builds(
        Instruction,
        instruction=required,
        input=optional_strategy(inputs, "inputs", st.just("") | free),
        response=required,
        system=optional_strategy(systems, "systems", st.none() | required),
        id=optional_strategy(ids, "ids", record_ids()),
        meta=optional_strategy(meta, "meta", meta_dicts()),
    )


# --- preferences --------------------------------------------------------------------------

PREFERENCE_SHAPES = ("independent", "identical", "text_prefix", "turn_prefix", "no_prompt")
"""How :func:`preferences` relates chosen and rejected; see its docstring."""


@defines_strategy
def preferences(
    *,
    min_prompt_exchanges: int = 0,
    max_prompt_exchanges: int | None = None,
    max_system_turns: int = 1,
    shapes: st.SearchStrategy[str] | None = None,
    text: st.SearchStrategy[str] | None = None,
    reasoning: st.SearchStrategy[str | None] | None = None,
    weights: st.SearchStrategy[float | None] | None = None,
    names: st.SearchStrategy[str | None] | None = None,
    tool_calls: st.SearchStrategy[ToolCall] | None = None,
    max_tool_calls: int = 2,
    content_parts: bool = False,
    tools: st.SearchStrategy[Sequence[str]] | None = None,
    ids: st.SearchStrategy[str | None] | None = None,
    meta: st.SearchStrategy[dict[str, Any]] | None = None,
) -> st.SearchStrategy[Preference]:
    """:class:`~instructkit.Preference` pairs, valid by construction.

    The prompt is optional system turns, ``min_prompt_exchanges`` to
    ``max_prompt_exchanges`` complete exchanges, and a final user turn; chosen and rejected
    are each an assistant answer (plain, or a tool-call round ending in text). How the two
    relate is drawn from ``shapes``:

    * ``"independent"``: drawn separately (the shrink target);
    * ``"identical"``: rejected equals chosen;
    * ``"text_prefix"``: one answer's text is a prefix of the other's;
    * ``"turn_prefix"``: one side's turns are a prefix of the other's, which goes on with
      another exchange;
    * ``"no_prompt"``: the prompt is empty and each side is a whole conversation starting
      with its own user turn.

    Args:
        min_prompt_exchanges: Fewest complete exchanges before the prompt's last user turn.
        max_prompt_exchanges: Most of them; None means ``max(min_prompt_exchanges, 1)``.
        max_system_turns: Most system/developer turns at the start.
        shapes: Strategy for the shape names above; default any of them. Drawing another
            value raises InvalidArgument.
        text: Strategy for message text (see :func:`messages`).
        reasoning: Strategy for assistant reasoning (see :func:`messages`).
        weights: Strategy for per-turn weights (see :func:`messages`).
        names: Strategy for per-turn names (see :func:`messages`).
        tool_calls: Strategy for tool calls (ids are made unique per transcript).
        max_tool_calls: Most calls on one assistant turn; 0 turns tool use off.
        content_parts: Also spell content as content parts (see :func:`messages`).
        tools: Strategy for the tool schemas, as for :func:`conversations`.
        ids: Strategy for the record id.
        meta: Strategy for ``meta``.

    Returns:
        A strategy for preference pairs. Shrinks towards a prompt of one user turn ``"0"``
        with chosen and rejected each one assistant turn ``"0"`` (shape ``"independent"``).

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for bad bounds or argument types.
    """
    parts = resolve_parts(
        text, reasoning, weights, names, tool_calls, max_tool_calls, content_parts
    )
    low, high = check_bounds(
        min_prompt_exchanges,
        max_prompt_exchanges,
        ("min_prompt_exchanges", "max_prompt_exchanges"),
    )
    high = max(low, 1) if high is None else high
    system_cap = check_size(max_system_turns, "max_system_turns")
    shape_names = optional_strategy(shapes, "shapes", st.sampled_from(PREFERENCE_SHAPES))
    schemas = optional_strategy(tools, "tools", st.lists(tool_schemas(), max_size=2))
    record_id = optional_strategy(ids, "ids", record_ids())
    metas = optional_strategy(meta, "meta", meta_dicts())
    exchanges = st.lists(exchange(parts), min_size=low, max_size=high)
    prelude = system_prelude(parts, system_cap)

    @st.composite
    def user_turn(draw: st.DrawFn) -> Block:
        return [turn_spec(draw, parts, "user", draw(parts.required))]

    @st.composite
    def answer(draw: st.DrawFn) -> Block:
        if parts.max_tool_calls and draw(st.booleans()):
            return tool_round(draw, parts)
        return [answer_spec(draw, parts)]

    @st.composite
    def build(draw: st.DrawFn) -> Preference:
        shape = draw(shape_names)
        if shape not in PREFERENCE_SHAPES:
            raise InvalidArgument(
                f"expected shapes to draw one of {list(PREFERENCE_SHAPES)}, got {shape!r}"
            )
        # Every ingredient is drawn for every shape, so the draws mean the same whatever the
        # shape, and the shrinker can move to a simpler shape without turning the choices
        # after it into different (and unshrunk) values.
        prompt_blocks = [draw(prelude), *draw(exchanges), draw(user_turn())]
        chosen_blocks = [draw(answer())]
        other_blocks = [draw(answer())]
        extra_text = draw(parts.required)
        extra_exchange = draw(exchange(parts))
        other_user = draw(user_turn())
        flip = draw(st.booleans())
        if shape == "identical":
            rejected_blocks = chosen_blocks
        elif shape == "text_prefix":
            # The last turn of an answer is always plain text; extend it.
            block = chosen_blocks[0]
            last = block[-1]
            content = last["content"]
            if isinstance(content, tuple):
                longer: Any = (*content, TextPart(text=extra_text))
            else:
                longer = content + extra_text
            rejected_blocks = [[*block[:-1], dict(last, content=longer)]]
        elif shape == "turn_prefix":
            rejected_blocks = [*chosen_blocks, extra_exchange]
        elif shape == "no_prompt":
            chosen_blocks = [*prompt_blocks, *chosen_blocks]
            prompt_blocks = []
            rejected_blocks = [other_user, *other_blocks]
        else:
            rejected_blocks = other_blocks
        if flip and shape in ("text_prefix", "turn_prefix"):
            chosen_blocks, rejected_blocks = rejected_blocks, chosen_blocks
        used: set[str] = set()
        prompt = finish(prompt_blocks, used)
        chosen = finish(chosen_blocks, set(used))
        rejected = finish(rejected_blocks, set(used))
        return Preference(
            prompt=prompt,
            chosen=chosen,
            rejected=rejected,
            tools=tuple(draw(schemas)),
            id=draw(record_id),
            meta=draw(metas),
        )

    return build()
