"""Injection verdicts for stored chunks: made at ingest, brought up to date on demand.

Retrieval hands each passage to the charter's passage screen with the verdict stored
beside its chunk. A verdict counts only while the detector that made it is unchanged
(``PassageChecker.version``: its rules, weights, threshold and embedding model); a chunk
without a current one is screened when it is retrieved, so a changed detector never lets
a stored chunk through on an old verdict. ``rescreen`` walks the chunks in id order and
stores fresh verdicts for those that lack one, in batches, each batch its own
transaction: an interrupted run keeps what it finished and the next one goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from charter.core.chat import PassageCheck
from charter.knowledge.store import DocumentStore


class PassageChecker(Protocol):
    """Screens chunk texts for injected instructions (``policy/injection.py`` is one)."""

    @property
    def version(self) -> str: ...

    def check_passages(self, texts: Sequence[str]) -> list[PassageCheck]: ...


@dataclass(frozen=True)
class RescreenReport:
    detector: str
    screened: int  # chunks that got a fresh verdict
    flagged: int  # of those, flagged
    seconds: float


def check_chunks(checker: PassageChecker, texts: Sequence[str], batch: int = 256,
                 progress: Callable[[int, int], None] | None = None) -> list[PassageCheck]:
    """Verdicts for ``texts`` in batches; ``progress(done, total)`` after each."""
    out: list[PassageCheck] = []
    for at in range(0, len(texts), batch):
        out.extend(checker.check_passages(texts[at:at + batch]))
        if progress is not None:
            progress(len(out), len(texts))
    return out


def rescreen(store: DocumentStore, checker: PassageChecker, *, batch: int = 256,
             progress: Callable[[int], None] | None = None) -> RescreenReport:
    """Store a current verdict for every chunk without one."""
    started = time.perf_counter()
    detector = checker.version
    after, screened, flagged = 0, 0, 0
    while rows := store.unchecked(detector, after, batch):
        checks = checker.check_passages([t for _, t in rows])
        store.store_checks([(cid, t, v) for (cid, t), v in zip(rows, checks, strict=True)])
        screened += len(rows)
        flagged += sum(1 for v in checks if v.flagged)
        after = rows[-1][0]
        if progress is not None:
            progress(screened)
    return RescreenReport(detector, screened, flagged, time.perf_counter() - started)
