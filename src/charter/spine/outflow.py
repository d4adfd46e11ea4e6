"""A streamed answer, screened before its bytes leave.

The model's text arrives in pieces; the answer a client may see is that text after
output screening (unsupported citation markers removed, personal data redacted when the
charter asks). ``Outflow`` screens the text as it grows and releases only what later
text cannot change:

- The text is cut into segments at sentence and line ends; personal data and citation
  markers never span one, so a closed segment is screened once and released whole.
- Of the open segment, the screened text is released up to a hold-back: the last
  ``hold`` characters (the longest entity redaction must still see whole; 0 when the
  charter redacts nothing in answers), any unfinished ``[12`` marker, and always the
  last word, so the answer is complete only after ``finish``.

The gateway commits the audit record before it releases the last held-back text, so a
client never gets a complete answer that has no record.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Where a segment may end: after a sentence's end or a line break, before the next text.
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=\S)|\n+")
# An unfinished citation marker at the end of the text: " [", "[1", " [12" ...
_PARTIAL_MARKER = re.compile(r" ?\[\d{0,3}$| $")


class Outflow:
    """Screens a stream of text pieces; ``push`` returns what may be sent now."""

    def __init__(self, screen: Callable[[str], str], hold: int) -> None:
        self.screen = screen
        self.hold = hold
        self._closed: list[str] = []  # screened closed segments, all released
        self._open = ""  # raw text of the open segment
        self._released = 0  # characters of the open segment's screened text released

    def push(self, piece: str) -> str:
        out = []
        self._open += piece
        # Close every segment that ends before the text still arriving.
        while (m := _BOUNDARY.search(self._open)) is not None:
            closed = self.screen(self._open[:m.end()])
            out.append(closed[self._released:])
            self._closed.append(closed)
            self._open, self._released = self._open[m.end():], 0
        screened = self.screen(self._open)
        stable = len(screened) - self.hold
        partial = _PARTIAL_MARKER.search(screened)
        if partial is not None:
            stable = min(stable, partial.start())
        stable = min(stable, screened.rstrip().rfind(" ") + 1)  # the last word waits
        if stable > self._released:
            out.append(screened[self._released:stable])
            self._released = stable
        return "".join(out)

    def finish(self) -> str:
        """The held-back rest, screened: after it, ``text`` is the whole answer."""
        screened = self.screen(self._open)
        tail = screened[self._released:]
        self._closed.append(screened)
        self._open, self._released = "", 0
        return tail

    @property
    def text(self) -> str:
        """The screened answer released so far (all of it after ``finish``)."""
        return "".join(self._closed)
