"""Background jobs: work too long for a request (a large upload's ingest) run in a
thread of the server process, with their state, progress and outcome in the database.

A job row says who started it, how far it is (``done`` of ``total``, and a note), and
ends ``done`` with a JSON result or ``failed`` with the error body a caller is shown.
Any process on the database can report it. The row names the process running it
(``host:pid:boot``), and that process touches the rows of its unfinished jobs every
``HEARTBEAT_S`` seconds: a job whose process has died on this host, or whose row has not
been touched for ``STALE_S`` seconds (a process on another host that died; ten times
that for a live pid here, which may be a later process's), reads as failed,
interrupted, so a crash never leaves a job that claims to run forever. A job read as
interrupted that was alive after all (a stalled database) still reports its end. Each process runs one job at a time (``JobRunner``), with at most
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
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update

from charter.core.errors import CharterError, NotFoundError, RateLimitedError, StorageError
from charter.store import tables
from charter.store.db import Database, utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
INTERRUPTED = "job_interrupted"
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


_BOOT = secrets.token_hex(4)  # tells this process from a later one given the same pid


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_BOOT}"


def _alive(owner: str) -> bool | None:
    """Whether the process named ``host:pid[:boot]`` runs; None when it is on another
    host (or the name is not one)."""
    parts = owner.split(":")
    host, pid = (":".join(parts[:-2]), parts[-2]) if len(parts) >= 3 else (parts[0], parts[-1])
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
                "the server process running this job stopped before it finished (or has not "
                "been heard from for a minute); what it had not committed was not changed: "
                "check `charter kb list`, then upload the file again", INTERRUPTED),
                seen=data["updated_at"])
            return self.get(job_id)
        data.pop("owner")
        data["result"] = json.loads(data["result"]) if data["result"] else None
        data["error"] = json.loads(data["error"]) if data["error"] else None
        return Job(**data)

    def _set(self, job_id: str, **values: Any) -> None:
        """Write a job's own news: only while it is unfinished, or read as interrupted
        by someone who could not hear it (it was alive after all: its news stands, and a
        finished job never reverts)."""
        jobs = tables.jobs
        with self.db.transaction() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).where(or_(
                jobs.c.state.in_((QUEUED, RUNNING)),
                and_(jobs.c.state == FAILED, jobs.c.error.like(f'%"{INTERRUPTED}"%'))))
                .values(updated_at=utcnow(), **values))

    def start(self, job_id: str) -> None:
        self._set(job_id, state=RUNNING, owner=_owner(), error=None)

    def progress(self, job_id: str, done: int, total: int, note: str = "") -> None:
        self._set(job_id, state=RUNNING, error=None, done=done, total=total, note=note[:500])

    def finish(self, job_id: str, result: dict[str, Any]) -> None:
        self._set(job_id, state=DONE, result=json.dumps(result), error=None, note="")

    def fail(self, job_id: str, error: dict[str, Any]) -> None:
        self._set(job_id, state=FAILED, error=json.dumps(error))

    def end_unfinished(self, job_id: str, error: dict[str, Any], *,
                       seen: str | None = None) -> None:
        """Fail a job unless it has finished meanwhile or, with ``seen`` (the stamp that
        made it look lost), been heard from since: a compare-and-set on its row."""
        jobs = tables.jobs
        query = update(jobs).where(jobs.c.id == job_id).where(
            jobs.c.state.in_((QUEUED, RUNNING)))
        if seen is not None:
            query = query.where(jobs.c.updated_at == seen)
        with self.db.transaction() as conn:
            conn.execute(query.values(state=FAILED, error=json.dumps(error),
                                      updated_at=utcnow()))

    def heartbeat(self, job_ids: Iterable[str]) -> None:
        """Touch the unfinished jobs ``job_ids`` (this process's own): still in hand."""
        ids = list(job_ids)
        if not ids:
            return
        with self.db.transaction() as conn:
            conn.execute(update(tables.jobs).where(tables.jobs.c.id.in_(ids))
                         .where(tables.jobs.c.state.in_((QUEUED, RUNNING)))
                         .values(updated_at=utcnow()))


def no_job(job_id: str) -> NotFoundError:
    return NotFoundError(f"no job {job_id!r}; job ids are returned by uploads that run in "
                         "the background")


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error", "code": code}}


def _lost(owner: str, updated_at: str) -> bool:
    """Whether an unfinished job's process is gone: dead on this host, or silent for
    ``STALE_S`` on another (hosts' clocks are assumed within a minute of each other).
    A live process on this host is given ten times as long (its pid may be a later
    process's, which never touches the row; a stalled database is not a death)."""
    alive = _alive(owner)
    if alive is False:
        return True
    touched = datetime.strptime(updated_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    silent = (datetime.now(UTC) - touched).total_seconds()
    return silent > (STALE_S * 10 if alive else STALE_S)


Work = Callable[[Callable[[int, int, str], None]], dict[str, Any]]


class JobRunner:
    """Runs jobs one at a time on a thread of this process, at most ``max_queued``
    waiting, and keeps their rows touched while they are in hand."""

    def __init__(self, repo: JobRepository, max_queued: int = 8) -> None:
        self.repo, self.max_queued = repo, max_queued
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charter-job")
        self._lock = threading.Lock()
        self._pending: dict[str, Future[None]] = {}  # submitted, not finished
        self._closing = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def start(self, create: Callable[[], Job], work: Work) -> Job:
        """Create a job (``create``) and run ``work`` as it, if there is room: refused
        (429) while ``max_queued`` wait behind the running one, and (503) once the
        process is stopping. Room is taken under a lock, so callers at once never
        overrun it."""
        with self._lock:
            if self._closing:
                raise StorageError("the server is stopping and takes no new background "
                                   "jobs; try again in a moment", code="shutting_down")
            waiting = len(self._pending) - 1  # the one running is not waiting
            if waiting >= self.max_queued:
                raise RateLimitedError(
                    f"{waiting} background jobs are already waiting on this server "
                    "(setting jobs_max_queued); try again when one has finished")
            job = create()
            self._submit(job, work)
        return job

    def submit(self, job: Job, work: Work) -> None:
        """Run ``work(progress)`` as ``job`` (an existing row), whatever the queue holds;
        its return value is the job's result, a ``CharterError`` its error (the full
        message: jobs are their starter's to read)."""
        with self._lock:
            self._submit(job, work)

    def _submit(self, job: Job, work: Work) -> None:
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
                ids = list(self._pending)
            try:
                self.repo.heartbeat(ids)
            except Exception:  # noqa: BLE001 - a database hiccup; the next beat retries
                _LOG.warning("job heartbeat failed", exc_info=True)

    def _run(self, job_id: str, work: Work) -> None:
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
        """Take no more jobs, fail the waiting ones (they never started), and let the
        running one finish."""
        with self._lock:
            self._closing = True
            pending = list(self._pending.items())
        try:
            waiting = [job_id for job_id, f in pending if f.cancel()]  # callbacks lock
            for job_id in waiting:
                self.repo.end_unfinished(job_id, _error(
                    "the server stopped before this job started; nothing was changed: "
                    "upload the file again", "job_cancelled"))
        except Exception:  # noqa: BLE001 - the database is gone: the rows read as lost
            _LOG.warning("could not mark the waiting jobs cancelled", exc_info=True)
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._stop.set()
