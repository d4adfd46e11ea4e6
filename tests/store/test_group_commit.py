"""Group commit: concurrent callers share transactions, each returns only once its rows
are committed, audit chains stay intact, and one failing job fails only its caller."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from charter.audit import AuditLog
from charter.store.db import Database


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'g.db'}"
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()


def test_concurrent_appends_share_transactions_and_keep_the_chain(db: Database) -> None:
    audit = AuditLog(db)
    start = len(audit.records())
    seen_committed = []

    def append(i: int) -> None:
        db.writes.run(lambda conn: audit.append(f"req_{i}", "tester", "chat", {"i": i},
                                                conn=conn))
        # Back from run(): the row must be visible to a fresh connection.
        with db.connect() as conn:
            seen_committed.append(conn.execute(text(
                "SELECT count(*) FROM audit_events WHERE request_id = :r"),
                {"r": f"req_{i}"}).scalar())

    groups_before = db.writes.groups
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(append, range(120)))
    assert seen_committed == [1] * 120
    assert len(audit.records()) - start == 120
    assert audit.verify() == len(audit.records())
    assert db.writes.groups - groups_before < 120  # transactions were shared


def test_a_failing_job_fails_only_its_caller(db: Database) -> None:
    audit = AuditLog(db)
    gate = threading.Barrier(6)

    def job(i: int):
        def write(conn: Connection) -> int:
            audit.append(f"job_{i}", "tester", "chat", {"i": i}, conn=conn)
            if i == 3:
                raise ValueError("job 3 is broken")
            return i
        return write

    def call(i: int) -> str:
        gate.wait()
        try:
            return str(db.writes.run(job(i)))
        except ValueError as exc:
            return f"error: {exc}"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(call, range(6)))
    assert outcomes == ["0", "1", "2", "error: job 3 is broken", "4", "5"]
    ids = {r.request_id for r in audit.records()}
    assert {"job_0", "job_1", "job_2", "job_4", "job_5"} <= ids and "job_3" not in ids
    assert audit.verify() == len(audit.records())


def test_a_busy_database_fails_the_whole_group_at_once(tmp_path: Path) -> None:
    """The write lock never comes free: every caller gets the clear "busy" error after one
    timeout, not one timeout per queued job."""
    import fcntl
    import os
    import time

    from charter.core.errors import StorageError

    db = Database(f"sqlite:///{tmp_path / 'b.db'}", connect_timeout=0.5)
    db.upgrade()
    db._writers.timeout = 0.5  # type: ignore[union-attr]
    audit = AuditLog(db)
    fd = os.open(tmp_path / "b.db.writer-lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # this descriptor is not the database's own
    gate = threading.Barrier(8)

    def call(i: int) -> str:
        gate.wait()
        try:
            db.writes.run(lambda conn: audit.append(f"b{i}", "t", "chat", {}, conn=conn))
            return "stored"
        except StorageError as exc:
            return exc.message

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(call, range(8)))
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    assert all("busy" in o for o in outcomes), outcomes
    assert time.monotonic() - started < 4 * 0.5 + 2  # a few timeouts, never eight in a row
    db.dispose()
