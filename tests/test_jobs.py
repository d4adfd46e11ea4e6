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

from charter.core.errors import InvalidInputError, RateLimitedError, StorageError
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


def test_a_live_pid_here_is_given_longer_before_its_job_reads_as_lost(
        runtime: Runtime) -> None:
    import os
    import socket

    mine, reused = runtime.jobs.create("upload", "a"), runtime.jobs.create("upload", "a")
    live = f"{socket.gethostname()}:{os.getpid()}:other-boot"
    _touched(runtime, mine.id, STALE_S + 10, owner=live)  # a stalled database, say
    _touched(runtime, reused.id, STALE_S * 10 + 10, owner=live)  # a pid reused since
    assert runtime.jobs.get(mine.id).state == "queued"
    assert runtime.jobs.get(reused.id).error["error"]["code"] == "job_interrupted"


def test_the_heartbeat_touches_the_named_unfinished_jobs_only(runtime: Runtime) -> None:
    mine, other, finished = (runtime.jobs.create("upload", "a") for _ in range(3))
    runtime.jobs.finish(finished.id, {})
    for job in (mine, other, finished):
        _touched(runtime, job.id, 30)
    before = {j.id: _stamp(runtime, j.id) for j in (mine, other, finished)}
    runtime.jobs.heartbeat([mine.id, finished.id])
    assert _stamp(runtime, mine.id) > before[mine.id]
    assert _stamp(runtime, other.id) == before[other.id]  # same process, not named
    assert _stamp(runtime, finished.id) == before[finished.id]  # finished: left alone


def _stamp(rt: Runtime, job_id: str) -> str:
    with rt.db.connect() as conn:
        return conn.execute(select(tables.jobs.c.updated_at)
                            .where(tables.jobs.c.id == job_id)).scalar_one()


def test_a_running_job_is_kept_fresh_by_the_runner(runtime: Runtime,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from charter import jobs

    monkeypatch.setattr(jobs, "HEARTBEAT_S", 0.02)
    runner = JobRunner(runtime.jobs)
    release = threading.Event()
    job = runtime.jobs.create("upload", "a")
    runner.submit(job, lambda progress: release.wait(10) and {})
    _wait_state(runtime, job.id, "running")
    _touched(runtime, job.id, STALE_S * 20)
    old = _stamp(runtime, job.id)
    deadline = time.monotonic() + 10
    while _stamp(runtime, job.id) == old:  # the beat, not the job (it sends no progress)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert runtime.jobs.get(job.id).state == "running"
    release.set()
    runner.shutdown()


def _wait_state(rt: Runtime, job_id: str, state: str) -> None:
    deadline = time.monotonic() + 10
    while rt.jobs.get(job_id).state != state:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_an_interrupted_read_never_overwrites_a_job_that_finished_meanwhile(
        runtime: Runtime) -> None:
    job = runtime.jobs.create("upload", "a")
    runtime.jobs.finish(job.id, {"chunks": 3})
    runtime.jobs.end_unfinished(job.id, {"error": {"code": "job_interrupted"}})
    assert (runtime.jobs.get(job.id).state, runtime.jobs.get(job.id).result) == (
        "done", {"chunks": 3})


def test_a_lost_verdict_is_a_compare_and_set_and_a_live_job_still_reports_its_end(
        runtime: Runtime) -> None:
    job = runtime.jobs.create("upload", "a")
    runtime.jobs.start(job.id)
    runtime.jobs.end_unfinished(job.id, {"error": {"code": "job_interrupted"}},
                                seen="2000-01-01T00:00:00.000000Z")  # heard from since
    assert runtime.jobs.get(job.id).state == "running"
    _touched(runtime, job.id, STALE_S + 10, owner="another-host:1:boot")
    assert runtime.jobs.get(job.id).error["error"]["code"] == "job_interrupted"
    runtime.jobs.finish(job.id, {"chunks": 2})  # it was alive after all
    done = runtime.jobs.get(job.id)
    assert (done.state, done.result, done.error) == ("done", {"chunks": 2}, None)
    runtime.jobs.fail(job.id, {"error": {"code": "late"}})  # a finished job never reverts
    assert runtime.jobs.get(job.id).state == "done"


def test_stopping_fails_the_waiting_jobs_and_bounds_the_queue(runtime: Runtime) -> None:
    runner = JobRunner(runtime.jobs, max_queued=2)
    release = threading.Event()

    def slow(progress):  # noqa: ANN001, ANN202
        release.wait(10)
        return {"ok": True}

    def create():  # noqa: ANN202
        return runtime.jobs.create("upload", "a")

    first = runner.start(create, slow)
    waiting = [runner.start(create, slow) for _ in range(2)]
    rows = len(_all_jobs(runtime))
    with pytest.raises(RateLimitedError, match="jobs_max_queued") as info:
        runner.start(create, slow)
    assert info.value.status == 429 and len(_all_jobs(runtime)) == rows  # no row made
    _wait_state(runtime, first.id, "running")

    def release_once_cancelled() -> None:
        for job in waiting:
            _wait_state(runtime, job.id, "failed")
        release.set()

    threading.Thread(target=release_once_cancelled).start()
    runner.shutdown()  # waits for the running job; the waiting ones never start
    assert runtime.jobs.get(first.id).state == "done"
    for job in waiting:
        assert runtime.jobs.get(job.id).error["error"]["code"] == "job_cancelled"
    with pytest.raises(StorageError, match="stopping"):
        runner.start(create, slow)


def test_callers_at_once_never_overrun_the_queue(runtime: Runtime) -> None:
    runner = JobRunner(runtime.jobs, max_queued=1)
    release = threading.Event()
    barrier = threading.Barrier(8)
    taken: list[bool] = []

    def starter() -> None:
        barrier.wait()
        try:
            runner.start(lambda: runtime.jobs.create("upload", "a"),
                         lambda progress: release.wait(10) and {})
            taken.append(True)
        except RateLimitedError:
            taken.append(False)

    threads = [threading.Thread(target=starter) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    release.set()
    runner.shutdown()
    assert taken.count(True) == 2  # the running one and one waiting


def _all_jobs(rt: Runtime) -> list[str]:
    with rt.db.connect() as conn:
        return list(conn.execute(select(tables.jobs.c.id)).scalars())


def test_a_job_is_its_starters_to_read(runtime: Runtime) -> None:
    from charter.core.errors import NotFoundError
    from charter.core.principal import Principal, local_admin
    from charter.services import jobs as job_service

    job = runtime.jobs.create("upload", "alice")
    alice = Principal("alice", frozenset({"admin"}), "restricted", frozenset(), "default")
    bob = Principal("bob", frozenset({"admin"}), "restricted", frozenset(), "default")
    assert job_service.get(runtime, alice, job.id).id == job.id
    with pytest.raises(NotFoundError, match="no job"):
        job_service.get(runtime, bob, job.id)
    # The local operator (the CLI on the server) reads any job.
    assert job_service.get(runtime, local_admin(), job.id).id == job.id


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
