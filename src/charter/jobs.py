"""Background jobs: work too long for a request (a large upload's ingest) run in a
thread of the server process, with their state, progress and outcome in the database.

A job row says who started it, how far it is (``done`` of ``total``, and a note), and
ends ``done`` with a JSON result or ``failed`` with the error body a caller is shown.
Any process on the database can report it. The row names the process running it
(``host:pid``), and that process touches the rows of its unfinished jobs every
``HEARTBEAT_S`` seconds: a job whose process has died on this host, or whose row has not
been touched for ``STALE_S`` seconds (a process on another host that died, a reused
pid), reads as failed, interrupted, so a crash never leaves a job that claims to run
forever. Each process runs one job at a time (``JobRunner``), with at most
``jobs_max_queued`` waiting: background work takes one core, never all of them, and
cannot pile up without bound. A process that stops fails the jobs still waiting.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from charter.core.errors import CharterError, NotFoundError, RateLimitedError
from charter.store import tables
from charter.store.db import Database, utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
HEARTBEAT_S = 5.0  # how often a process touches its unfinished jobs
STALE_S = 60.0  # an unfinished job untouched this long has lost its process
_LOG = logging.getLogger("charter.jobs")


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    actor: str
    state: str
    done: int
    total: int
    note: str
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "state": self.state,
                "progress": {"done": self.done, "total": self.total, "note": self.note},
                "result": self.result, "error": self.error,
                "created_at": self.created_at, "updated_at": self.updated_at}


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str) -> bool | None:
    """Whether the process named ``host:pid`` runs; None when it is on another host."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class JobRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, kind: str, actor: str, total: int = 0, note: str = "") -> Job:
        job_id = "job_" + uuid.uuid4().hex[:20]
        now = utcnow()
        with self.db.transaction() as conn:
            conn.execute(insert(tables.jobs).values(
                id=job_id, kind=kind, actor=actor, state=QUEUED, done=0, total=total,
                note=note, owner=_owner(), created_at=now, updated_at=now))
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        with self.db.connect() as conn:
            row = conn.execute(select(tables.jobs).where(tables.jobs.c.id == job_id)).first()
        if row is None:
            raise no_job(job_id)
        data = dict(row._mapping)
        if data["state"] in (QUEUED, RUNNING) and _lost(data["owner"], data["updated_at"]):
            self.end_unfinished(job_id, _error(
                "the server process running this job stopped before it finished; nothing "
                "was changed: upload the file again", "job_interrupted"))
            return self.get(job_id)
        data.pop("owner")
        data["result"] = json.loads(data["result"]) if data["result"] else None
        data["error"] = json.loads(data["error"]) if data["error"] else None
        return Job(**data)

    def _set(self, job_id: str, **values: Any) -> None:
        with self.db.transaction() as conn:
            conn.execute(update(tables.jobs).where(tables.jobs.c.id == job_id)
                         .values(updated_at=utcnow(), **values))

    def start(self, job_id: str) -> None:
        self._set(job_id, state=RUNNING, owner=_owner())

    def progress(self, job_id: str, done: int, total: int, note: str = "") -> None:
        self._set(job_id, done=done, total=total, note=note[:500])

    def finish(self, job_id: str, result: dict[str, Any]) -> None:
        self._set(job_id, state=DONE, result=json.dumps(result), note="")

    def fail(self, job_id: str, error: dict[str, Any]) -> None:
        self._set(job_id, state=FAILED, error=json.dumps(error))

    def end_unfinished(self, job_id: str, error: dict[str, Any]) -> None:
        """Fail a job unless it has finished meanwhile (a race with its own process)."""
        with self.db.transaction() as conn:
            conn.execute(update(tables.jobs).where(tables.jobs.c.id == job_id)
                         .where(tables.jobs.c.state.in_((QUEUED, RUNNING)))
                         .values(state=FAILED, error=json.dumps(error), updated_at=utcnow()))

    def heartbeat(self) -> None:
        """Touch this process's unfinished jobs: they are still in hand."""
        with self.db.transaction() as conn:
            conn.execute(update(tables.jobs).where(tables.jobs.c.owner == _owner())
                         .where(tables.jobs.c.state.in_((QUEUED, RUNNING)))
                         .values(updated_at=utcnow()))


def no_job(job_id: str) -> NotFoundError:
    return NotFoundError(f"no job {job_id!r}; job ids are returned by uploads that run in "
                         "the background")


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error", "code": code}}


def _lost(owner: str, updated_at: str) -> bool:
    """Whether an unfinished job's process is gone: dead on this host, or silent."""
    if _alive(owner) is False:
        return True
    touched = datetime.strptime(updated_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return (datetime.now(UTC) - touched).total_seconds() > STALE_S


class JobRunner:
    """Runs jobs one at a time on a thread of this process, at most ``max_queued``
    waiting, and keeps their rows touched while they are in hand."""

    def __init__(self, repo: JobRepository, max_queued: int = 8) -> None:
        self.repo, self.max_queued = repo, max_queued
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charter-job")
        self._lock = threading.Lock()
        self._pending: dict[str, Future[None]] = {}  # submitted, not finished
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def check_room(self) -> None:
        """Refuse (429) a new job while ``max_queued`` wait behind the running one."""
        with self._lock:
            waiting = len(self._pending) - 1  # the one running is not waiting
        if waiting >= self.max_queued:
            raise RateLimitedError(
                f"{waiting} background jobs are already waiting on this server (setting "
                "jobs_max_queued); try again when one has finished")

    def submit(self, job: Job, work: Callable[[Callable[[int, int, str], None]], dict[str, Any]]
               ) -> None:
        """Run ``work(progress)`` as ``job``; its return value is the job's result, a
        ``CharterError`` its error (the full message: jobs are their starter's to read)."""
        with self._lock:
            if self._beat is None:
                self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                              name="charter-job-heartbeat")
                self._beat.start()
            future = self._pool.submit(self._run, job.id, work)
            self._pending[job.id] = future
        future.add_done_callback(lambda _: self._forget(job.id))

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._pending.pop(job_id, None)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                busy = bool(self._pending)
            if busy:
                try:
                    self.repo.heartbeat()
                except Exception:  # noqa: BLE001 - a database hiccup; the next beat retries
                    _LOG.warning("job heartbeat failed", exc_info=True)

    def _run(self, job_id: str,
             work: Callable[[Callable[[int, int, str], None]], dict[str, Any]]) -> None:
        try:
            self.repo.start(job_id)
            result = work(lambda done, total, note="": self.repo.progress(job_id, done,
                                                                          total, note))
        except CharterError as exc:
            self.repo.fail(job_id, exc.to_dict())
        except Exception:  # noqa: BLE001 - a job's failure is reported, never lost
            reference = secrets.token_hex(4)
            _LOG.exception("job %s failed (reference %s)", job_id, reference)
            self.repo.fail(job_id, _error(
                f"the job failed unexpectedly; an administrator can find the details in "
                f"the server log under reference {reference}", "internal_error"))
        else:
            self.repo.finish(job_id, result)

    def shutdown(self) -> None:
        """Let the running job finish; fail the waiting ones (they never started)."""
        with self._lock:
            pending = list(self._pending.items())
        waiting = [job_id for job_id, f in pending if f.cancel()]  # callbacks take the lock
        for job_id in waiting:
            self.repo.end_unfinished(job_id, _error(
                "the server stopped before this job started; nothing was changed: upload "
                "the file again", "job_cancelled"))
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._stop.set()
