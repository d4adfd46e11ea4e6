"""The spine: one request, one straight path through the stages (see gateway.py).

``Spine`` is what the edges hand a chat request to; ``Gateway`` is Charter's, and a
benchmark's reference server may put a reduced one in its place.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

from charter.core.result import Result
from charter.spine.request import AskRequest, Delta


class Spine(Protocol):
    def ask(self, req: AskRequest, cancel: threading.Event | None = None) -> Result: ...

    def ask_stream(self, req: AskRequest) -> Iterator[Delta | Result]: ...
