"""Answer options: how a label space is shown to the model, and what the answer then is."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pydantic

from instructkit._errors import ConfigurationError, TemplateError
from instructkit._records import NonEmptyText, Text
from instructkit._templates._base import TemplateRecord

__all__ = [
    "BUILTIN_OPTION_STYLES",
    "DEFAULT_OPTION_STYLES",
    "OptionStyle",
    "RenderedOptions",
    "render_options",
    "resolve_style",
]

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class OptionStyle(TemplateRecord):
    """How answer options are laid out, and whether the answer is the option text or its marker.

    The block is the ``header`` (if any), then one item per option, either one per line
    (``layout="lines"``) or on one line joined by ``joiner`` (``layout="inline"``). An item is
    ``open + marker + close + " " + text``, or just the text with ``marker="none"``. Inline
    items without markers are double-quoted JSON strings when any option contains the
    joiner's visible character or a ``"`` (``Options: "10,000", "20,000"``), so that the
    list is never ambiguous.

    Attributes:
        name: The style's name, recorded in provenance.
        header: A line before the options (``"OPTIONS:"``), or ``""`` for none.
        marker: ``"dash"`` (``-``), ``"star"`` (``*``), ``"upper"`` (A, B, ...), ``"lower"``
            (a, b, ...), ``"number"`` (1, 2, ...) or ``"none"``.
        open: Text before each marker, such as ``"("``.
        close: Text after each marker, such as ``")"`` or ``"."``.
        layout: ``"lines"`` or ``"inline"``.
        joiner: What separates items in the inline layout.
        target: ``"text"``: the answer is the option's text. ``"marker"``: the answer is the
            option's bare marker (``"B"``, ``"2"``); only with letter or number markers.

    Example:
        >>> from instructkit.templates import OptionStyle
        >>> style = OptionStyle(name="bracketed", marker="upper", open="[", close="]")
        >>> print(render_options(style, ["yes", "no"], answer=1).block)
        [A] yes
        [B] no
    """

    name: NonEmptyText
    header: Text = ""
    marker: Literal["dash", "star", "upper", "lower", "number", "none"] = "dash"
    open: Text = ""
    close: Text = ""
    layout: Literal["lines", "inline"] = "lines"
    joiner: Text = " "
    target: Literal["text", "marker"] = "text"

    @pydantic.model_validator(mode="after")
    def _check(self) -> OptionStyle:
        if self.target == "marker" and self.marker not in ("upper", "lower", "number"):
            raise TemplateError(
                f"option style {self.name!r}: expected a letter or number marker for "
                f"target='marker', got marker={self.marker!r}",
                loc="$.target",
            )
        if self.layout == "lines" and any(c in "\r\n" for c in self.open + self.close):
            raise TemplateError(
                f"option style {self.name!r}: expected markers without line breaks, got "
                f"{self.open!r} / {self.close!r}",
                loc="$.open",
            )
        return self

    @classmethod
    def builtin(cls, name: str) -> OptionStyle:
        """The built-in style called ``name``.

        Raises:
            ConfigurationError: no built-in style has that name.

        Example:
            >>> OptionStyle.builtin("letters").marker
            'upper'
        """
        return resolve_style(name)

    @classmethod
    def builtin_names(cls) -> list[str]:
        """The names of the built-in styles (those a template may name in ``options_style``)."""
        return list(BUILTIN_OPTION_STYLES)

    def token(self, index: int) -> str:
        """The bare marker of the option at ``index`` (``"A"``, ``"3"``, ``"-"``, ``""``).

        Raises:
            TemplateError: more options than letters.
        """
        if self.marker in ("upper", "lower"):
            if index >= len(_LETTERS):
                raise TemplateError(
                    f"option style {self.name!r}: expected at most {len(_LETTERS)} options for "
                    f"letter markers, got more"
                )
            letter = _LETTERS[index]
            return letter if self.marker == "upper" else letter.lower()
        if self.marker == "number":
            return str(index + 1)
        return {"dash": "-", "star": "*", "none": ""}[self.marker]


BUILTIN_OPTION_STYLES: dict[str, OptionStyle] = {
    style.name: style
    for style in (
        OptionStyle(name="flan", header="OPTIONS:"),
        OptionStyle(name="dash"),
        OptionStyle(name="choose", header="Possible answers:"),
        OptionStyle(name="letters", marker="upper", open="(", close=")"),
        OptionStyle(name="numbers", marker="number", close="."),
        OptionStyle(name="inline", header="Options:", marker="none", layout="inline", joiner=", "),
        OptionStyle(name="letters-inline", marker="upper", open="(", close=")", layout="inline"),
        OptionStyle(name="letters-answer", marker="upper", open="(", close=")", target="marker"),
        OptionStyle(name="numbers-answer", marker="number", close=".", target="marker"),
    )
}
"""The named styles a template or a call may refer to by name.

``flan`` is the Flan 2021 layout (``OPTIONS:`` then ``- text`` lines). The ``*-answer`` styles
make the answer the bare marker (``B``, ``2``) instead of the option text.
"""

DEFAULT_OPTION_STYLES: tuple[str, ...] = (
    "flan",
    "dash",
    "choose",
    "letters",
    "numbers",
    "inline",
    "letters-inline",
)
"""The styles drawn from, per example, when neither the template nor the call names any.
They all keep the answer as the option text, so a response pattern reads the same whatever
style is drawn."""


def resolve_style(style: str | OptionStyle) -> OptionStyle:
    """The style object for a built-in name, or ``style`` itself.

    Raises:
        ConfigurationError: an unknown style name.
    """
    if isinstance(style, OptionStyle):
        return style
    try:
        return BUILTIN_OPTION_STYLES[style]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"expected an option style name among {sorted(BUILTIN_OPTION_STYLES)} or an "
            f"OptionStyle, got {style!r}"
        ) from None


@dataclass(frozen=True)
class RenderedOptions:
    """An options block and the answer it implies.

    Attributes:
        style: The style used.
        texts: The option texts in display order.
        tokens: The bare markers in display order (``""`` with ``marker="none"``).
        block: The rendered block.
        answer: What the target renders as (an option text or a marker), or ``None`` when
            no answer was asked for.
    """

    style: OptionStyle
    texts: tuple[str, ...]
    tokens: tuple[str, ...]
    block: str
    answer: str | None

    @property
    def answers(self) -> tuple[str, ...]:
        """Every value the answer may take: the markers or the texts, by the style's target."""
        return self.tokens if self.style.target == "marker" else self.texts


def _quote_items(style: OptionStyle, texts: Sequence[str]) -> bool:
    # Inline options without markers are told apart only by the joiner; when an option holds
    # its visible part (the "," of ", ") or a quote, "20,000" would read as two options.
    if style.layout != "inline" or style.marker != "none":
        return False
    mark = style.joiner.strip() or style.joiner
    return any(mark in text or '"' in text for text in texts)


def render_options(
    style: OptionStyle, texts: Sequence[str], *, answer: int | None
) -> RenderedOptions:
    """Lay out ``texts`` in ``style`` and work out the answer for the option at ``answer``.

    In the inline layout without markers (the ``inline`` style), options are joined with the
    style's ``joiner``; when any option contains the joiner's visible character (``","``) or
    a double quote, every option is written as a double-quoted JSON string instead, so the
    list can always be split back into its options.

    Args:
        style: The layout.
        texts: Option texts, already in display order.
        answer: Index (in display order) of the correct option, or ``None``.

    Returns:
        The block and the answer. The answer is always one of :attr:`RenderedOptions.answers`.

    Example:
        >>> inline = OptionStyle.builtin("inline")
        >>> print(render_options(inline, ["yes", "no"], answer=None).block)
        Options: yes, no
        >>> print(render_options(inline, ["10,000", "20,000"], answer=None).block)
        Options: "10,000", "20,000"
    """
    marker = style.marker
    tokens = tuple(style.token(i) for i in range(len(texts)))
    if marker == "none":
        if _quote_items(style, texts):
            items = [json.dumps(text, ensure_ascii=False) for text in texts]
        else:
            items = list(texts)
    else:
        opening, closing = style.open, style.close
        items = [
            f"{opening}{token}{closing} {text}" for token, text in zip(tokens, texts, strict=True)
        ]
    header = style.header
    if style.layout == "lines":
        block = "\n".join([header, *items] if header else items)
    else:
        body = style.joiner.join(items)
        block = f"{header} {body}" if header else body
    result = None
    if answer is not None:
        result = tokens[answer] if style.target == "marker" else texts[answer]
    return RenderedOptions(style, tuple(texts), tokens, block, result)
