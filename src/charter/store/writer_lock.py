"""One queue for the writers of a SQLite file, across threads and processes.

SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps
between tries (up to 100 ms a try), so under load from several server processes a few
writers waited for seconds while the lock sat free. Writers of exclusive transactions
queue here instead: a lock per process, then a file lock (``flock``) on a file next to
the database, polled every half millisecond up to the busy timeout. A process that dies
loses its file lock with it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from charter.core.errors import StorageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's own locking only
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    def __init__(self, database_file: Path | None, timeout: float) -> None:
        self.path = database_file.with_name(database_file.name + ".writer-lock") \
            if database_file is not None and fcntl is not None else None
        self.timeout = timeout
        self._local = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        if not self._local.acquire(timeout=self.timeout):
            raise StorageError("the database is busy (another writer held it for "
                               f"{self.timeout:.0f} s); retry the request")
        try:
            fd = self._file()
            if fd is None:
                yield
                return
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StorageError("the database is busy (another process held its "
                                           f"write lock for {self.timeout:.0f} s); retry the "
                                           "request") from None
                    time.sleep(0.0005)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._local.release()

    def _file(self) -> int | None:
        if self.path is None:
            return None
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self.path = None  # a read-only folder: SQLite's own locking still holds
                return None
            self._pid = os.getpid()
        return self._fd
