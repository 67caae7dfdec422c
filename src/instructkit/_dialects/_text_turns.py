"""Message content for layouts whose turns hold text only."""

from __future__ import annotations

from instructkit._dialects._base import Conversion
from instructkit._records import Message, content_text, has_images

__all__ = ["text_content"]


def text_content(message: Message, field: str, conv: Conversion) -> str | None:
    """A message's content as one string, for layouts whose turns hold text only.

    Text parts are joined (reported as changed) and image parts left out (reported as
    dropped); plain text and ``None`` are returned as they are.

    Args:
        message: The message.
        field: The loss path of the message (``$.messages[*]``).
        conv: The conversion, where the losses go.
    """
    if isinstance(message.content, tuple):
        if has_images(message.content):
            conv.lost(
                "dropped",
                f"{field}.content[*]",
                f"{conv.dialect.name} turns hold text only: image parts are left out",
            )
        conv.lost(
            "changed",
            f"{field}.content",
            f"{conv.dialect.name} turns hold text only: text parts are joined into one string",
        )
    return content_text(message.content)
