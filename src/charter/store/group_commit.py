"""Group commit: the final writes of concurrent requests share one transaction.

Every answered request ends with a few writes that must be durable before the answer
leaves (tokens, the route log, the audit record). Run one transaction each, fifty
concurrent requests queue on the database's single write lock, and SQLite's busy handler
sleeps between tries, which is where the long tail of latency came from. Instead a
request hands its writes to the group: whichever thread finds no transaction running
takes every queued job (up to ``max_jobs``), runs them in order inside one transaction
and commits; each caller returns only once its own job is committed, so nothing is
acknowledged before it is stored. Jobs see each other's rows in order (the audit chain
links across them as before). If a job fails, the shared transaction is rolled back and
each job of that group runs again in a transaction of its own, so one bad job fails only
its own caller; if the database fails (busy past its timeout, unreachable, the commit),
every caller of the group gets that error at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import Connection

from charter.core.combining import Combiner

if TYPE_CHECKING:
    from charter.store.db import Database

T = TypeVar("T")


@dataclass
class _Job(Generic[T]):
    fn: Callable[[Connection], T]
    result: Any = None
    error: BaseException | None = None
    done: bool = False


class GroupCommit:
    def __init__(self, db: Database, max_jobs: int = 64) -> None:
        self.db = db
        self.max_jobs = max_jobs
        self._combiner: Combiner[_Job[Any]] = Combiner(self._take, self._commit)
        self.groups = 0  # transactions committed for groups (for tests and benchmarks)
        self.jobs = 0

    def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in a write transaction shared with other callers; returns once
        that transaction is committed (raises what ``fn`` raised, or the commit's error)."""
        return self._combiner.submit(_Job(fn)).result  # type: ignore[no-any-return]

    def _take(self, queue: deque[_Job[Any]]) -> list[_Job[Any]]:
        return [queue.popleft() for _ in range(min(len(queue), self.max_jobs))]

    def _commit(self, group: list[_Job[Any]]) -> None:
        failed: _Job[Any] | None = None
        try:
            results = []
            with self.db.transaction(exclusive=True) as conn:
                for job in group:
                    failed = job
                    results.append(job.fn(conn))
                failed = None
        except BaseException as exc:  # noqa: BLE001 - errors go to their callers
            if failed is None or len(group) == 1:
                # The database itself failed (busy, unreachable, the commit): every job of
                # the group gets that error now rather than each waiting for it again.
                for job in group:
                    job.error, job.done = exc, True
                return
            for job in group:  # a job failed: each alone, so only its own caller sees it
                self._alone(job)
            return
        for job, result in zip(group, results, strict=True):
            job.result, job.done = result, True
        self.groups += 1
        self.jobs += len(group)

    def _alone(self, job: _Job[Any]) -> None:
        try:
            with self.db.transaction(exclusive=True) as conn:
                job.result = job.fn(conn)
        except BaseException as exc:  # noqa: BLE001 - the caller re-raises it
            job.error = exc
        job.done = True
