"""Background jobs: work too long for a request (a large upload's ingest) run in a
thread of the server process, with their state, progress and outcome in the database.

A job row says who started it, how far it is (``done`` of ``total``, and a note), and
ends ``done`` with a JSON result or ``failed`` with the error body a caller is shown.
Any process on the database can report it. The row names the process running it
(``host:pid``); a job whose process has died on this host reads as failed, interrupted,
so a crash never leaves a job that claims to run forever. Each process runs one job at
a time (``JobRunner``): background work takes one core, never all of them.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from charter.core.errors import CharterError, NotFoundError
from charter.store import tables
from charter.store.db import Database, utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
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
            raise NotFoundError(f"no job {job_id!r}; job ids are returned by uploads "
                                "that run in the background")
        data = dict(row._mapping)
        if data["state"] in (QUEUED, RUNNING) and _alive(data["owner"]) is False:
            self.fail(job_id, {"error": {
                "message": "the server process running this job stopped before it finished; "
                           "nothing was changed: upload the file again",
                "type": "server_error", "code": "job_interrupted"}})
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


class JobRunner:
    """Runs jobs one at a time on a thread of this process."""

    def __init__(self, repo: JobRepository) -> None:
        self.repo = repo
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charter-job")

    def submit(self, job: Job, work: Callable[[Callable[[int, int, str], None]], dict[str, Any]]
               ) -> None:
        """Run ``work(progress)`` as ``job``; its return value is the job's result, a
        ``CharterError`` its error (the full message: jobs are their starter's to read)."""
        self._pool.submit(self._run, job.id, work)

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
            self.repo.fail(job_id, {"error": {
                "message": f"the job failed unexpectedly; an administrator can find the "
                           f"details in the server log under reference {reference}",
                "type": "server_error", "code": "internal_error"}})
        else:
            self.repo.finish(job_id, result)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
