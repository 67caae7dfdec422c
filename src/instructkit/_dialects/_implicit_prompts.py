"""Implicit preference rows: no prompt column, so the prompt is the shared start of the pair.

Texts split at their longest shared prefix of characters (:func:`split_shared_prefix`),
transcripts at their longest shared prefix of turns, which writing checks
(:func:`report_prompt_split`).
"""

from __future__ import annotations

from instructkit._dialects._base import Conversion
from instructkit._records import Preference

__all__ = ["report_prompt_split", "split_shared_prefix"]


def split_shared_prefix(chosen: str, rejected: str) -> tuple[str, str, str]:
    """Split two texts into their shared start and the two remainders, neither left empty.

    The shared start is the longest common prefix of characters, shortened where needed so
    that each remainder keeps at least one character.

    Args:
        chosen: The preferred text (non-empty).
        rejected: The dispreferred text (non-empty).

    Returns:
        ``(prompt, chosen rest, rejected rest)``.

    Example:
        >>> split_shared_prefix("The sky is blue.", "The sky is green.")
        ('The sky is ', 'blue.', 'green.')
        >>> split_shared_prefix("Yes", "Yes!")
        ('Ye', 's', 's!')
    """
    shared = 0
    limit = min(len(chosen), len(rejected))
    while shared < limit and chosen[shared] == rejected[shared]:
        shared += 1
    shared = max(0, min(shared, len(chosen) - 1, len(rejected) - 1))
    return chosen[:shared], chosen[shared:], rejected[shared:]


def report_prompt_split(record: Preference, conv: Conversion) -> None:
    """Report the prompt as changed when reading the pair's transcripts back splits elsewhere.

    A row of whole transcripts has no prompt of its own: reading takes the longest shared
    prefix of turns (:meth:`~instructkit.Preference.from_transcripts`), which may be longer
    than the record's prompt.
    """
    again = Preference.from_transcripts(*record.to_transcripts())
    if (again.prompt, again.chosen, again.rejected) != (
        record.prompt,
        record.chosen,
        record.rejected,
    ):
        conv.lost(
            "changed",
            "$.prompt",
            "reading splits the transcripts at their longest shared prefix of turns, which "
            f"gives a prompt of {len(again.prompt)} turn(s), not {len(record.prompt)}",
        )
