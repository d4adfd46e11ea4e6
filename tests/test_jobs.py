"""Background jobs: state and progress in the database, failures reported, a job whose
process died reads as interrupted instead of running forever."""

from __future__ import annotations

import subprocess
import sys
import time

from sqlalchemy import update

from charter.core.errors import InvalidInputError
from charter.jobs import JobRunner
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
    # A job of a live process on another host is left as it is.
    other = runtime.jobs.create("upload", "admin")
    runtime.jobs.start(other.id)
    with runtime.db.transaction() as conn:
        conn.execute(update(tables.jobs).where(tables.jobs.c.id == other.id)
                     .values(owner="another-host:1"))
    assert runtime.jobs.get(other.id).state == "running"


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
    runner.shutdown()
    assert most[0] == 1 and all(runtime.jobs.get(j.id).state == "done" for j in jobs)
