"""Image references bound by position: an ``images`` column and placeholders in the turns.

LLaMA-Factory and TRL keep the images of a row in an ``images`` column (paths or URLs) and
mark where each one goes in the turns: LLaMA-Factory with an ``<image>`` placeholder inside
the text, TRL with a ``{"type": "image"}`` content part. The k-th placeholder in reading
order is ``images[k]``, and the counts must match. Records hold the reference itself, as an
:class:`~instructkit.ImagePart` where the placeholder was, so reading binds each placeholder
to its entry (:class:`ImageSlots`) and writing puts them apart again (:class:`ImageColumn`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instructkit._dialects._base import Conversion, Path, describe_type
from instructkit._dialects._locations import loss_loc
from instructkit._dialects._text_turns import text_content
from instructkit._errors import DialectError, format_loc
from instructkit._records import IMAGE_ROLES, ImagePart, Message, Record, TextPart, has_images

__all__ = [
    "IMAGES",
    "IMAGE_PLACEHOLDER",
    "ImageColumn",
    "ImageSlots",
    "placeholder_parts",
    "record_has_images",
]

IMAGES = "images"
"""The column holding a row's image references, in placeholder order."""

IMAGE_PLACEHOLDER = "<image>"
"""LLaMA-Factory's mark for an image inside turn text."""


def record_has_images(record: Record) -> bool:
    """Whether any turn of a Conversation or Preference holds an image part."""
    fields = ("messages", "prompt", "chosen", "rejected")
    return any(
        has_images(message.content)
        for field in fields
        for message in getattr(record, field, ())
        if isinstance(message, Message)
    )


class ImageSlots:
    """The ``images`` column of a row being read, handed out to placeholders in order.

    Args:
        row: The row (in the dialect's column names).
        conv: The conversion.

    An empty column reads as no images (reported, as it is not written back); placeholders
    next to it are refused like any count mismatch.

    Raises:
        DialectError: the column is not an array of non-empty strings. Image data (the
            ``{"bytes", "path"}`` objects of datasets' ``Image`` feature, decoded images) is
            refused: a record holds a reference, never the image.
    """

    def __init__(self, row: Mapping[str, Any], conv: Conversion) -> None:
        self._conv = conv
        raw = conv.get(row, IMAGES, (), list, required=False, nullable=True)
        self.present = raw is not None
        self.urls: list[str] = []
        for index, item in enumerate(raw or ()):
            if not isinstance(item, str) or not item:
                got = "an empty string" if item == "" else describe_type(item)
                raise conv.fail(
                    "expected image references as non-empty strings (paths or URLs), got "
                    f"{got}; image data such as datasets' Image objects must be saved to "
                    "files and referenced by path first",
                    (IMAGES, index),
                )
            self.urls.append(item)
        if self.present and not self.urls:
            # Datasets mixing text-only and vision rows give the text-only ones an empty list.
            conv.lost("dropped", loss_loc((IMAGES,), conv), "an empty images column is left out")
        self.used = 0

    def take(self, at: Path) -> str:
        """The reference for the next placeholder, found at ``at`` of the row.

        Raises:
            DialectError: every entry of ``images`` is taken already.
        """
        if self.used >= len(self.urls):
            raise self._conv.fail(
                f"expected one image per placeholder, got {len(self.urls)} image(s) in the "
                f"{self._conv.col(IMAGES)!r} column and more placeholders",
                at,
            )
        url = self.urls[self.used]
        self.used += 1
        return url

    def finish(self) -> None:
        """Check that every entry of ``images`` has its placeholder.

        Raises:
            DialectError: fewer placeholders than images.
        """
        if self.used != len(self.urls):
            raise self._conv.fail(
                f"expected one placeholder per image, got {len(self.urls)} image(s) and "
                f"{self.used} placeholder(s)",
                (IMAGES,),
            )


def placeholder_parts(
    text: str, role: str, at: Path, slots: ImageSlots | None, conv: Conversion
) -> str | list[dict[str, Any]]:
    """A turn's text with each ``<image>`` bound to its image: text, or content parts.

    Text without a placeholder, and any text of a row without an ``images`` column, stays
    text. Otherwise the text around each placeholder becomes a text part (empty pieces are
    left out) and each placeholder an image part.

    Raises:
        DialectError: a placeholder in a turn whose role cannot hold images, or more
            placeholders than images.
    """
    if slots is None or not slots.present or IMAGE_PLACEHOLDER not in text:
        return text
    if role not in IMAGE_ROLES:
        raise conv.fail(
            f"expected {IMAGE_PLACEHOLDER} placeholders in user turns only (records hold images "
            f"on user turns), got one in {'an' if role[0] in 'aeiou' else 'a'} {role} turn",
            at,
        )
    pieces = text.split(IMAGE_PLACEHOLDER)
    parts: list[dict[str, Any]] = []
    for number, piece in enumerate(pieces):
        if piece:
            parts.append({"type": "text", "text": piece})
        if number < len(pieces) - 1:
            parts.append({"type": "image", "url": slots.take(at)})
    return parts


def _canonical(text: str) -> tuple[TextPart | ImagePart, ...] | str:
    # What reading ``text`` gives back (image references aside).
    if IMAGE_PLACEHOLDER not in text:
        return text
    pieces = text.split(IMAGE_PLACEHOLDER)
    parts: list[TextPart | ImagePart] = []
    for number, piece in enumerate(pieces):
        if piece:
            parts.append(TextPart(text=piece))
        if number < len(pieces) - 1:
            parts.append(ImagePart(url="-"))
    return tuple(parts)


class ImageColumn:
    """The ``images`` column of a row being written, filled as turns are written.

    Args:
        record: The record being written; only a record holding images gets the column
            (and only then is ``<image>`` in its text a problem).
        dialect: The dialect's name, for losses and errors.
    """

    def __init__(self, record: Record, dialect: str) -> None:
        self.active = record_has_images(record)
        self.urls: list[str] = []
        self._dialect = dialect

    def drop_detail(self, part: ImagePart, field: str, conv: Conversion) -> None:
        """Report an image's ``detail``, which positional image columns have no place for."""
        if part.detail is not None:
            conv.lost(
                "dropped",
                f"{field}.content[*].detail",
                f"{self._dialect} image references have no detail",
            )

    def placeholder_text(
        self, message: Message, loc: tuple[str | int, ...], field: str, conv: Conversion
    ) -> str | None:
        """A turn's content as text with an ``<image>`` for each image part, collecting URLs.

        Args:
            message: The turn.
            loc: Its record path, for errors (``("messages", 2)``).
            field: Its loss path (``$.messages[*]``).
            conv: The conversion.

        Raises:
            DialectError: the record holds images and this turn's text holds a literal
                ``<image>``, which would be read back as an image.
        """
        content = message.content
        if self.active and isinstance(content, str) and IMAGE_PLACEHOLDER in content:
            raise self._literal((*loc, "content"), conv)
        if self.active and isinstance(content, tuple):
            for index, part in enumerate(content):
                if isinstance(part, TextPart) and IMAGE_PLACEHOLDER in part.text:
                    raise self._literal((*loc, "content", index, "text"), conv)
        if not self.active or not has_images(content):
            return text_content(message, field, conv)
        assert isinstance(content, tuple)
        pieces: list[str] = []
        for part in content:
            if isinstance(part, TextPart):
                pieces.append(part.text)
            else:
                self.drop_detail(part, field, conv)
                self.urls.append(part.url)
                pieces.append(IMAGE_PLACEHOLDER)
        text = "".join(pieces)
        again = _canonical(text)
        mine = tuple(ImagePart(url="-") if isinstance(p, ImagePart) else p for p in content)
        if again != mine:
            conv.lost(
                "changed",
                f"{field}.content",
                "text parts next to each other or empty are merged into the text around the "
                f"{IMAGE_PLACEHOLDER} placeholders",
            )
        return text

    def _literal(self, loc: tuple[str | int, ...], conv: Conversion) -> DialectError:
        return DialectError(
            conv.dialect.message(
                f"expected no literal {IMAGE_PLACEHOLDER} in the text of a record holding "
                "images (it would be read back as an image), got one"
            ),
            loc=format_loc(loc),
        )

    def write(self, row: dict[str, Any]) -> None:
        """Add the ``images`` column to ``row`` when the record holds images."""
        if self.urls:
            row[IMAGES] = list(self.urls)
