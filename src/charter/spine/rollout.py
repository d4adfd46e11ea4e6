"""The gateway's side of a canary rollout (``services.rollouts`` starts, judges and ends).

Before a request is screened, each running rollout puts its user in an arm
(``charter.rollout.arm_of``, sticky per user); a challenger arm serves the rollout's
version (the charter draft that screens the request, or the router version that routes
it, or the model alias that answers in place of the one rolled out). The request's outcome is written in its final transaction, with its audit record,
for both arms. After a challenger request has committed, ``on_challenger`` (set by
``services.rollouts.watch``) judges the rollout, at most once per ``judge_interval``
seconds per rollout in this process; a judgement already running is not waited for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from charter.rollout import CHALLENGER, Arm, arm_of
from charter.store.rollouts import RolloutRepository

log = logging.getLogger("charter.rollout")


@dataclass(frozen=True)
class Assignment:
    rollout_id: str
    kind: str  # charter | router | alias
    arm: Arm
    version: int | None  # the version this arm serves (None: the champion in force)
    subject: str | None = None  # an alias rollout's alias
    alias: str | None = None  # ... and the alias that serves it in this arm (None: itself)


class Canary:
    def __init__(self, repo: RolloutRepository, judge_interval: float = 0.0,
                 on_challenger: Callable[[str], object] | None = None) -> None:
        self.repo = repo
        self.judge_interval = judge_interval
        self.on_challenger = on_challenger
        self._busy = threading.Lock()
        self._judged: dict[str, float] = {}  # rollout id -> when this process last judged

    def assign(self, principal_id: str) -> tuple[Assignment, ...]:
        return tuple(
            Assignment(r.id, r.kind, arm, r.challenger if arm == CHALLENGER else None,
                       r.subject, r.challenger_alias if arm == CHALLENGER else None)
            for r in self.repo.running()
            for arm in (arm_of(r.id, principal_id, r.share),))

    @staticmethod
    def version(assigned: Sequence[Assignment], kind: str) -> int | None:
        """The challenger version of ``kind`` this request is served, if any."""
        return next((a.version for a in assigned if a.kind == kind and a.arm == CHALLENGER),
                    None)

    @staticmethod
    def alias_for(assigned: Sequence[Assignment], name: str) -> str | None:
        """The alias that serves alias ``name`` to this request, when a rollout of it put
        the request in its challenger arm."""
        return next((a.alias for a in assigned if a.kind == "alias" and a.subject == name
                     and a.arm == CHALLENGER), None)

    def record(self, conn: Connection, assigned: Sequence[Assignment], *, request_id: str,
               principal_id: str, error: bool, decision: str, abstained: bool) -> None:
        for a in assigned:
            self.repo.record(conn, a.rollout_id, request_id=request_id, arm=a.arm,
                             principal_id=principal_id, error=error, decision=decision,
                             abstained=abstained)

    def committed(self, assigned: Sequence[Assignment]) -> None:
        """After the request's outcome committed: judge each rollout it was a challenger
        request of; skipped while this process is judging one already, or judged one
        less than ``judge_interval`` seconds ago (a judgement reads all of a rollout's
        rows, so its cost is bounded per second, not per request)."""
        on_challenger = self.on_challenger
        if on_challenger is None:
            return
        for a in assigned:
            if a.arm != CHALLENGER or not self._busy.acquire(blocking=False):
                continue
            now = time.monotonic()
            last = self._judged.get(a.rollout_id)
            if last is not None and now - last < self.judge_interval:
                self._busy.release()
                continue
            self._judged[a.rollout_id] = now
            if len(self._judged) > 64:  # ended rollouts' entries
                self._judged.pop(next(iter(self._judged)))
            try:
                on_challenger(a.rollout_id)
            except Exception:  # a failed judgement must never fail the request
                log.exception("judging rollout %s failed", a.rollout_id)
            finally:
                self._busy.release()
