"""The gateway's sample of each request for drift detection (``services.drift`` checks).

A sample (the screening embedding, the decision, the route and the redacted question) is
written in the request's final transaction, with its audit record. Every
``check_every``-th sample id makes the process that wrote it run a check in the
background, on one thread, so that no request waits for one; a check due while another
is still running is skipped (the next one covers the same requests). Agent steps are not
sampled: they are a run's own questions, not the users'.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Connection

from charter.policy.screen import NEUTRALISED, InputScreen
from charter.store.drift import DriftRepository

log = logging.getLogger("charter.drift")


class DriftCollector:
    def __init__(self, repo: DriftRepository, check_every: int,
                 on_due: Callable[[int], object] | None = None) -> None:
        self.repo = repo
        self.check_every = check_every
        self.on_due = on_due  # set by services.drift.monitor in processes that check
        self._pool: ThreadPoolExecutor | None = None
        self._busy = threading.Lock()

    def record(self, conn: Connection, screen: InputScreen, decision: str,
               route: str) -> int:
        model = (screen.vector_model or "").removesuffix(NEUTRALISED)
        return self.repo.add(conn, vector=screen.vector, vector_model=model,
                             decision=decision, route=route,
                             question=screen.redacted_question)

    def committed(self, sample_id: int | None) -> None:
        """After the sample's transaction committed: start a check when one is due."""
        on_due = self.on_due
        if on_due is None or not sample_id or sample_id % self.check_every:
            return
        if not self._busy.acquire(blocking=False):
            log.info("drift check at sample %d skipped: the previous one is running",
                     sample_id)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="charter-drift")

        def run() -> None:
            try:
                on_due(sample_id)
            except Exception:  # a failed check must never reach a request
                log.exception("drift check at sample %d failed", sample_id)
            finally:
                self._busy.release()

        self._pool.submit(run)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
