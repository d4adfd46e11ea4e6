"""Background jobs: state and progress in the database, failures reported, a job whose
process died reads as interrupted instead of running forever."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from charter.core.errors import InvalidInputError, RateLimitedError
from charter.jobs import STALE_S, JobRunner
from charter.runtime import Runtime
from charter.store import tables


def _wait(rt: Runtime, job_id: str) -> None:
    deadline = time.monotonic() + 30
    while rt.jobs.get(job_id).state not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_job_reports_progress_then_its_result(runtime: Runtime) -> None:
    job = runtime.jobs.create("upload", "admin")

    def work(progress):  # noqa: ANN001, ANN202
        progress(1, 2, "halfway")
        assert runtime.jobs.get(job.id).to_dict()["progress"] == {
            "done": 1, "total": 2, "note": "halfway"}
        assert runtime.jobs.get(job.id).state == "running"
        return {"chunks": 2}

    runtime.job_runner.submit(job, work)
    _wait(runtime, job.id)
    done = runtime.jobs.get(job.id)
    assert (done.state, done.result, done.error) == ("done", {"chunks": 2}, None)


def test_a_failing_job_keeps_a_charter_error_and_hides_anything_else(runtime: Runtime) -> None:
    refused, crashed = runtime.jobs.create("upload", "a"), runtime.jobs.create("upload", "a")

    def refuse(progress):  # noqa: ANN001, ANN202
        raise InvalidInputError("the file is not a file")

    def crash(progress):  # noqa: ANN001, ANN202
        raise RuntimeError("secret path /srv/charter/uploads")

    runtime.job_runner.submit(refused, refuse)
    runtime.job_runner.submit(crashed, crash)
    _wait(runtime, refused.id)
    _wait(runtime, crashed.id)
    assert runtime.jobs.get(refused.id).error == InvalidInputError(
        "the file is not a file").to_dict()
    hidden = runtime.jobs.get(crashed.id).error["error"]
    assert hidden["code"] == "internal_error" and "/srv" not in hidden["message"]
    assert "reference" in hidden["message"]


def test_a_job_whose_process_died_reads_as_interrupted(runtime: Runtime) -> None:
    job = runtime.jobs.create("upload", "admin")
    runtime.jobs.start(job.id)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    import socket

    with runtime.db.transaction() as conn:
        conn.execute(update(tables.jobs).where(tables.jobs.c.id == job.id)
                     .values(owner=f"{socket.gethostname()}:{dead}"))
    seen = runtime.jobs.get(job.id)
    assert seen.state == "failed" and seen.error["error"]["code"] == "job_interrupted"


def _touched(rt: Runtime, job_id: str, seconds_ago: float, owner: str | None = None) -> None:
    when = (datetime.now(UTC) - timedelta(seconds=seconds_ago)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    values = {"updated_at": when} | ({"owner": owner} if owner else {})
    with rt.db.transaction() as conn:
        conn.execute(update(tables.jobs).where(tables.jobs.c.id == job_id).values(**values))


def test_a_job_on_another_host_runs_while_its_row_is_touched_and_is_lost_when_silent(
        runtime: Runtime) -> None:
    fresh, silent = runtime.jobs.create("upload", "a"), runtime.jobs.create("upload", "a")
    for job in (fresh, silent):
        runtime.jobs.start(job.id)
    _touched(runtime, fresh.id, STALE_S - 10, owner="another-host:1")
    _touched(runtime, silent.id, STALE_S + 10, owner="another-host:1")
    assert runtime.jobs.get(fresh.id).state == "running"
    lost = runtime.jobs.get(silent.id)
    assert lost.state == "failed" and lost.error["error"]["code"] == "job_interrupted"


def test_a_live_process_keeps_its_unfinished_jobs_touched(runtime: Runtime) -> None:
    mine, finished = runtime.jobs.create("upload", "a"), runtime.jobs.create("upload", "a")
    runtime.jobs.start(mine.id)
    runtime.jobs.finish(finished.id, {})
    for job in (mine, finished):
        _touched(runtime, job.id, STALE_S + 10)
    runtime.jobs.heartbeat()
    assert runtime.jobs.get(mine.id).state == "running"  # touched: not lost
    with runtime.db.connect() as conn:
        stamp = conn.execute(select(tables.jobs.c.updated_at)
                             .where(tables.jobs.c.id == finished.id)).scalar_one()
    assert stamp < runtime.jobs.get(mine.id).updated_at  # a finished job is left alone


def test_an_interrupted_read_never_overwrites_a_job_that_finished_meanwhile(
        runtime: Runtime) -> None:
    job = runtime.jobs.create("upload", "a")
    runtime.jobs.finish(job.id, {"chunks": 3})
    runtime.jobs.end_unfinished(job.id, {"error": {"code": "job_interrupted"}})
    assert (runtime.jobs.get(job.id).state, runtime.jobs.get(job.id).result) == (
        "done", {"chunks": 3})


def test_stopping_fails_the_waiting_jobs_and_bounds_the_queue(runtime: Runtime) -> None:
    runner = JobRunner(runtime.jobs, max_queued=2)
    release = threading.Event()

    def slow(progress):  # noqa: ANN001, ANN202
        release.wait(10)
        return {"ok": True}

    first = runtime.jobs.create("upload", "a")
    runner.submit(first, slow)
    waiting = [runtime.jobs.create("upload", "a") for _ in range(2)]
    for job in waiting:
        runner.check_room()
        runner.submit(job, slow)
    with pytest.raises(RateLimitedError, match="jobs_max_queued") as info:
        runner.check_room()
    assert info.value.status == 429
    deadline = time.monotonic() + 10
    while runtime.jobs.get(first.id).state != "running":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    threading.Timer(0.2, release.set).start()
    runner.shutdown()  # waits for the running job; the waiting ones never start
    assert runtime.jobs.get(first.id).state == "done"
    for job in waiting:
        seen = runtime.jobs.get(job.id)
        assert seen.state == "failed" and seen.error["error"]["code"] == "job_cancelled"


def test_a_job_is_its_starters_to_read(runtime: Runtime) -> None:
    from charter.core.errors import NotFoundError
    from charter.core.principal import Principal
    from charter.services import jobs as job_service

    job = runtime.jobs.create("upload", "alice")
    alice = Principal("alice", frozenset({"admin"}), "restricted", frozenset(), "default")
    bob = Principal("bob", frozenset({"admin"}), "restricted", frozenset(), "default")
    assert job_service.get(runtime, alice, job.id).id == job.id
    with pytest.raises(NotFoundError, match="no job"):
        job_service.get(runtime, bob, job.id)


def test_jobs_run_one_at_a_time_per_process(runtime: Runtime) -> None:
    runner = JobRunner(runtime.jobs)
    running: list[int] = []
    most = [0]

    def work(progress):  # noqa: ANN001, ANN202
        running.append(1)
        most[0] = max(most[0], len(running))
        time.sleep(0.05)
        running.pop()
        return {}

    jobs = [runtime.jobs.create("upload", "a") for _ in range(3)]
    for job in jobs:
        runner.submit(job, work)
    for job in jobs:
        _wait(runtime, job.id)
    runner.shutdown()
    assert most[0] == 1 and all(runtime.jobs.get(j.id).state == "done" for j in jobs)
