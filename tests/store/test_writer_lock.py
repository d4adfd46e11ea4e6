"""Writers of one SQLite file queue on a lock per process and a file lock across
processes: two processes appending to the audit chain at once lose nothing and never
see "database is locked"; a writer that cannot get in within the timeout gets a clear
error instead of hanging."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from charter.audit import AuditLog
from charter.core.errors import StorageError
from charter.store.db import Database
from charter.store.writer_lock import WriterLock


def _append_many(url: str, tag: str, n: int) -> None:
    db = Database(url)
    audit = AuditLog(db)
    for i in range(n):
        db.writes.run(lambda conn, i=i: audit.append(f"{tag}-{i}", tag, "chat", {"i": i},
                                                     conn=conn))
    db.dispose()


def test_two_processes_append_to_one_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    db = Database(url)
    db.upgrade()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(url, tag, 150)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    audit = AuditLog(db)
    records = audit.records()
    assert len(records) == 300 and audit.verify() == 300
    assert (tmp_path / "w.db.writer-lock").exists()


def _hold(path: str, ready, release) -> None:  # noqa: ANN001
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    ready.set()
    release.wait(30)


def test_a_writer_that_cannot_get_in_gets_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("fcntl")
    database = tmp_path / "x.db"
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path / "x.db.writer-lock"), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        lock = WriterLock(database, timeout=0.3)
        with pytest.raises(StorageError, match="busy"):
            with lock.hold():
                pass
        release.set()
        holder.join(30)
        with lock.hold():  # free again
            pass
    finally:
        release.set()
        holder.join(30)
