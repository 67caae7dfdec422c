"""Tool-call ids for formats that leave them out: invented on reading, checked on writing."""

from __future__ import annotations

from collections.abc import Sequence

from instructkit._records import Message

__all__ = ["CallIds"]


class CallIds:
    """Tool-call ids for formats that leave them out (ShareGPT, TRL, OpenAI's legacy calls).

    A call without an id gets ``call_<n>``, ``n`` being its position among the calls of the
    transcript; a tool result without one answers the oldest call still unanswered. Both
    rules only look at order, so the same row always gets the same ids, and
    :meth:`reinvents` tells a writer whether leaving ids out loses anything.

    Example:
        >>> ids = CallIds()
        >>> ids.call(None), ids.call("mine"), ids.result(None), ids.result(None)
        ('call_0', 'mine', 'call_0', 'mine')
    """

    def __init__(self) -> None:
        self._count = 0
        self._open: list[str] = []

    def copy(self) -> CallIds:
        """An independent copy (for the two sides of a preference pair)."""
        clone = CallIds()
        clone._count = self._count
        clone._open = list(self._open)
        return clone

    def call(self, given: str | None) -> str:
        """The id of the next call: ``given``, or an invented one."""
        call_id = f"call_{self._count}" if given is None else given
        self._count += 1
        self._open.append(call_id)
        return call_id

    def result(self, given: str | None) -> str | None:
        """The call the next tool result answers: ``given``, or the oldest open call.

        Returns:
            The id, or ``None`` when no id is given and no call is open (an orphan result).
        """
        if given is not None:
            if given in self._open:
                self._open.remove(given)
            return given
        return self._open.pop(0) if self._open else None

    def reinvents(self, messages: Sequence[Message]) -> bool:
        """Whether reading ``messages`` back without ids would give them the same ids.

        Advances this tracker past ``messages`` as if they had been read without ids.
        """
        same = True
        for message in messages:
            for call in message.tool_calls:
                same = self.call(None) == call.id and same
            if message.role == "tool":
                same = self.result(None) == message.tool_call_id and same
        return same
