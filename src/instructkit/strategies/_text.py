"""Text with the characters and fragments that break instruction-data pipelines."""

from __future__ import annotations

from hypothesis import strategies as st

from instructkit.strategies._core import (
    check_bool,
    check_bounds,
    check_strategy,
    defines_strategy,
)

__all__ = ["EDGE_FRAGMENTS", "LONG_TEXT_CAP", "WHITESPACE", "invalid_texts", "texts"]

LONG_TEXT_CAP = 2048
"""Longest text :func:`texts` makes when ``max_size`` is None."""

WHITESPACE = " \t\n\u00a0\u2003\u3000"
"""Characters that whitespace-only texts are made of (line breaks of other kinds are in the
``line_separators`` group, so that their opt-out also covers whitespace-only text)."""

# Each group can be turned off with the keyword named after it. Groups of single characters
# are also removed from the default alphabet, so an opt-out holds for the whole string.
EDGE_FRAGMENTS: dict[str, tuple[str, ...]] = {
    "x00": ("\x00",),
    "carriage_returns": ("\r", "\r\n", "\n\r"),
    # Everything str.splitlines() splits on besides \n and \r: a JSONL reader that frames
    # lines with splitlines() cuts records apart at these.
    "line_separators": ("\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"),
    "bom": ("\ufeff",),
    # The same letter precomposed (NFC) and decomposed (NFD), and stacked marks.
    "combining_marks": ("\u00e9", "e\u0301", "a\u0308\u0323", "\u0301"),
    # Zero-width joiner sequences, a skin-tone modifier, a flag and a variation selector:
    # several code points that render as one glyph.
    "emoji": (
        "\U0001f469\u200d\U0001f4bb",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
        "\U0001f44d\U0001f3fd",
        "\U0001f1f3\U0001f1f4",
        "\u2764\ufe0f",
    ),
    # Right-to-left scripts and the invisible controls that reorder text.
    "bidi": ("שלום", "مرحبا", "\u202e", "\u200f", "\u2067"),
    "placeholders": (
        "{",
        "}",
        "{{",
        "}}",
        "{}",
        "{0}",
        "{instruction}",
        "{input}",
        "{response}",
        "{{instruction}}",
        "{instruction!r}",
        "{instruction:>10}",
        "${input}",
        "{{ messages }}",
        "%s",
    ),
    "role_markers": (
        "\n\nHuman:",
        "\n\nAssistant:",
        "Human: ",
        "<|im_start|>user\n",
        "<|im_end|>",
        "[INST]",
        "[/INST]",
        "### Instruction:",
        "### Response:",
        "<s>",
        "</s>",
        "USER:",
    ),
}

# The characters an opt-out also removes from the default alphabet.
_GROUP_CHARACTERS = {
    "x00": "\x00",
    "carriage_returns": "\r",
    "line_separators": "".join(EDGE_FRAGMENTS["line_separators"]),
    "bom": "\ufeff",
}


@defines_strategy
def texts(
    *,
    min_size: int = 0,
    max_size: int | None = None,
    alphabet: st.SearchStrategy[str] | None = None,
    allow_x00: bool = True,
    allow_carriage_returns: bool = True,
    allow_line_separators: bool = True,
    allow_bom: bool = True,
    allow_combining_marks: bool = True,
    allow_emoji: bool = True,
    allow_bidi: bool = True,
    allow_placeholders: bool = True,
    allow_role_markers: bool = True,
    allow_whitespace_only: bool = True,
    allow_long: bool = True,
) -> st.SearchStrategy[str]:
    r"""Strings that are valid record text, with the usual troublemakers mixed in.

    About a third of the examples are plain :func:`hypothesis.strategies.text` over every
    character UTF-8 can encode. The rest, behind branches the shrinker removes first, are built
    from pieces that break real pipelines: NUL; ``\r``, ``\r\n``; the characters
    ``str.splitlines()`` treats as line ends (U+2028, U+2029, U+0085, ``\v``, ``\f``,
    ``\x1c``-``\x1e``); a byte-order mark; combining marks (NFC and NFD forms of one letter);
    emoji joined with ZWJ; right-to-left text and bidi controls; braces and placeholder
    look-alikes such as ``{instruction}`` and ``{{``; role markers such as ``"\n\nHuman:"``
    and ``<|im_start|>``; whitespace-only strings; and long runs up to ``max_size`` (or
    :data:`LONG_TEXT_CAP` characters). Lone surrogates never appear: no record accepts them
    (see :func:`invalid_texts` for those).

    Args:
        min_size: Fewest characters (code points). Pass 1 for fields that need text.
        max_size: Most characters, or None for no bound beyond the long-run cap.
        alphabet: Strategy for single characters of the plain parts; default every
            character UTF-8 can encode, minus the groups opted out of below. A custom
            alphabet is used as given.
        allow_x00: Include NUL (``\x00``).
        allow_carriage_returns: Include ``\r`` (alone and in ``\r\n``).
        allow_line_separators: Include U+2028, U+2029, U+0085, ``\v``, ``\f`` and
            ``\x1c``-``\x1e``.
        allow_bom: Include U+FEFF.
        allow_combining_marks: Mix in combining-mark sequences.
        allow_emoji: Mix in multi-code-point emoji.
        allow_bidi: Mix in right-to-left text and bidi controls.
        allow_placeholders: Mix in braces and ``{field}`` look-alikes.
        allow_role_markers: Mix in chat role markers.
        allow_whitespace_only: Generate strings made only of whitespace.
        allow_long: Generate long runs (a short seed repeated).

    Returns:
        A strategy for ``str``. Shrinks towards ``"0" * min_size`` (the empty string by
        default).

    Raises:
        hypothesis.errors.InvalidArgument: on first use, for bad bounds or argument types.

    Example:
        >>> from instructkit.strategies import texts
        >>> texts(min_size=1)
        texts(min_size=1)
    """
    low, high = check_bounds(min_size, max_size, ("min_size", "max_size"))
    if alphabet is not None:
        check_strategy(alphabet, "alphabet")
    flags = {
        "x00": allow_x00,
        "carriage_returns": allow_carriage_returns,
        "line_separators": allow_line_separators,
        "bom": allow_bom,
        "combining_marks": allow_combining_marks,
        "emoji": allow_emoji,
        "bidi": allow_bidi,
        "placeholders": allow_placeholders,
        "role_markers": allow_role_markers,
    }
    for group, flag in flags.items():
        check_bool(flag, f"allow_{group}")
    check_bool(allow_whitespace_only, "allow_whitespace_only")
    check_bool(allow_long, "allow_long")

    if alphabet is None:
        excluded = "".join(chars for group, chars in _GROUP_CHARACTERS.items() if not flags[group])
        alphabet = st.characters(codec="utf-8", exclude_characters=excluded)
    # Plain parts stay short unless the caller asks for more: long strings come from the
    # cheap repeated-seed branch, which costs Hypothesis a few choices instead of thousands.
    plain_cap = high if high is not None else low + 32
    plain = st.text(alphabet, min_size=low, max_size=plain_cap)
    if high == 0:
        return plain

    fragments = [piece for group, on in flags.items() if on for piece in EDGE_FRAGMENTS[group]]
    long_cap = high if high is not None else LONG_TEXT_CAP
    pieces: list[st.SearchStrategy[str]] = [st.text(alphabet, max_size=8)]
    if fragments:
        pieces.append(st.sampled_from(fragments))
    # Rarer shapes share one branch so that, together, they stay a minority of examples.
    rare: list[st.SearchStrategy[str]] = []
    if low == 0:
        rare.append(st.just(""))
    if allow_whitespace_only:
        rare.append(
            st.text(
                st.sampled_from(WHITESPACE),
                min_size=max(low, 1),
                max_size=min(plain_cap, max(low, 1) + 8),
            )
        )
    if allow_long:
        rare.append(_long_runs(alphabet, low, long_cap))
    branches = [plain, _mixed(st.one_of(pieces), alphabet, low, long_cap)]
    if rare:
        branches.append(st.one_of(rare))
    return st.one_of(branches)


def _long_runs(alphabet: st.SearchStrategy[str], low: int, cap: int) -> st.SearchStrategy[str]:
    shortest = max(low, min(64, cap))

    def repeat(seed: str, length: int) -> str:
        return (seed * (length // len(seed) + 1))[:length]

    return st.builds(
        repeat, st.text(alphabet, min_size=1, max_size=4), st.integers(shortest, max(shortest, cap))
    )


def _mixed(
    pieces: st.SearchStrategy[str],
    alphabet: st.SearchStrategy[str],
    low: int,
    high: int,
) -> st.SearchStrategy[str]:
    several = st.lists(pieces, min_size=1, max_size=5)

    @st.composite
    def build(draw: st.DrawFn) -> str:
        text = "".join(draw(several))[:high]
        if len(text) < low:
            missing = low - len(text)
            text += draw(st.text(alphabet, min_size=missing, max_size=missing))
        return text

    return build()


@defines_strategy
def invalid_texts(*, base: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    r"""Strings no record accepts as text: ``base`` text with a lone surrogate put in.

    Python strings can hold lone surrogates (U+D800 to U+DFFF), for instance from
    ``bytes.decode(errors="surrogateescape")``, but UTF-8 cannot encode them, so every JSON,
    Arrow and Parquet writer fails on them. Records reject them on construction; use these
    strings to test that your own code reports them where they enter.

    Args:
        base: Strategy for the surrounding text; default :func:`texts`.

    Returns:
        A strategy for strings with at least one lone surrogate. Shrinks towards
        ``"\ud800"``.

    Raises:
        hypothesis.errors.InvalidArgument: on first use, if ``base`` is not a strategy.
    """
    if base is not None:
        check_strategy(base, "base")

    def put(text: str, surrogate: str, where: int) -> str:
        at = min(where, len(text))
        return text[:at] + surrogate + text[at:]

    return st.builds(
        put,
        texts() if base is None else base,
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        st.integers(0, 64),
    )
