"""Leader/follower combining: many threads hand in work, one of them runs it for all.

A caller queues its job and waits; whichever caller finds nothing running takes a group
of queued jobs (``take``), runs them together (``run``, which must mark every job of the
group done) and wakes the others. Nobody waits for a window: a caller alone runs its own
job at once, and under load the groups grow by themselves. Used for embedding batches
(``backends/batching.py``) and for group commit (``store/group_commit.py``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar


class Job(Protocol):
    done: bool
    error: BaseException | None


J = TypeVar("J", bound=Job)


class Combiner(Generic[J]):
    def __init__(self, take: Callable[[deque[J]], list[J]],
                 run: Callable[[list[J]], Any]) -> None:
        self._take = take
        self._run = run
        self._cond = threading.Condition()
        self._queue: deque[J] = deque()
        self._running = False

    def submit(self, job: J) -> J:
        """Returns once ``job`` is done (by this thread or another); raises its error."""
        with self._cond:
            self._queue.append(job)
        while True:
            with self._cond:
                while self._running and not job.done:
                    self._cond.wait()
                if job.done:
                    break
                group = self._take(self._queue)
                self._running = True
            try:
                self._run(group)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        return job
