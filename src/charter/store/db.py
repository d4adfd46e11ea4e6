"""Opening the database: engines for SQLite and PostgreSQL, schema checks, migrations.

SQLite runs through ``pysqlite3`` (a build that can load extensions) in WAL mode with
``sqlite-vec`` loaded on every connection. PostgreSQL runs through psycopg 3 with the
``vector`` extension created by the first migration. What differs between the two when
opening, beginning and locking lives in ``store/dialects.py``. Either way the schema
comes only from the Alembic migrations in ``charter/store/migrations`` (declared once in
``store/tables.py``, which tests/store/test_schema.py keeps equal to them).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from charter.core.config import Settings, mask_url
from charter.core.errors import (
    ConfigError,
    DatabaseUnavailableError,
    SchemaVersionError,
    StorageError,
)
from charter.store.dialects import LOCKS, Dialect, dialect_for

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def utcnow() -> str:
    """The current time as the ISO-8601 UTC text every table stores."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (psycopg2 is not a dependency)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Database:
    """A connection pool to Charter's database, with schema checks and migrations."""

    def __init__(self, url: str, *, connect_timeout: float = 5.0, cache_ttl: float = 2.0) -> None:
        from charter.store.cache import ReadCache
        from charter.store.group_commit import GroupCommit
        from charter.store.writer_lock import WriterLock

        self.cache = ReadCache(cache_ttl)
        self.writes = GroupCommit(self)  # the request path's final writes, grouped
        self._writers: WriterLock | None = None  # SQLite files: writers queue here
        self.url = normalise_url(url)
        try:
            parsed = make_url(self.url)
        except sa_exc.ArgumentError:
            raise ConfigError(
                f"database URL {mask_url(url)!r} is not a valid URL; use "
                "sqlite:///path/to/charter.db or postgresql+psycopg://user:pass@host/db"
            ) from None
        self.dialect = parsed.get_backend_name()  # the backend's name, e.g. for dict lookups
        self._impl: Dialect = dialect_for(self.dialect)
        try:
            self.engine = self._impl.make_engine(parsed, connect_timeout)
        except sa_exc.NoSuchModuleError:
            raise ConfigError(
                f"no driver for database URL {mask_url(url)!r}; use "
                "postgresql+psycopg://... or sqlite:///..."
            ) from None
        self._writers = self._impl.writer_lock(parsed, connect_timeout)
        self._parsed = parsed
        self._credentials = self._impl.credentials_file(parsed)

    # -- credentials visible at once in every process -----------------------------------

    def credentials_epoch(self) -> tuple[int, int] | None:
        """Changes whenever any process revokes a key or disables, enables or changes a
        user (``bump_credentials_epoch``); a process may cache who a key belongs to only
        while it stays the same. None: do not cache credentials at all (the dialect's
        ``credentials_file``: PostgreSQL, whose processes may be on other machines).

        For a SQLite file it is the stat of a small file beside the database: one system
        call instead of a query."""
        where = self._credentials
        if where is False:
            return None
        if where is True:
            return (0, 0)  # in memory: one process, which invalidates its own cache
        try:
            st = os.stat(where)
        except FileNotFoundError:
            return (0, 0)
        return (st.st_ino, st.st_mtime_ns)

    def bump_credentials_epoch(self) -> None:
        where = self._credentials
        if isinstance(where, Path):
            fresh = where.with_name(f"{where.name}.{uuid.uuid4().hex[:8]}")
            fresh.write_text(uuid.uuid4().hex)
            fresh.replace(where)  # a new inode: every process sees the change
        self.cache.invalidate("auth")

    # -- connections -----------------------------------------------------------------

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads (each statement autocommits nothing; no writes here)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa_exc.OperationalError as exc:
            raise self._unavailable(exc) from None
        except sa_exc.TimeoutError:
            raise self._pool_exhausted() from None

    @contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[Connection]:
        """A transaction that commits on success and rolls back on any error.

        ``exclusive`` takes the write lock at the start (SQLite ``BEGIN IMMEDIATE``), for
        read-then-write sequences that must not interleave across processes.
        """
        if exclusive and self._writers is not None:
            with self._writers.hold():
                with self._transaction(exclusive) as conn:
                    yield conn
            return
        with self._transaction(exclusive) as conn:
            yield conn

    @contextmanager
    def _transaction(self, exclusive: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                options = self._impl.begin_options(exclusive)
                if options:
                    conn = conn.execution_options(**options)
                with conn.begin():
                    yield conn
        except sa_exc.OperationalError as exc:
            raise self._unavailable(exc) from None
        except sa_exc.TimeoutError:
            raise self._pool_exhausted() from None

    def lock(self, conn: Connection, lock: str | int) -> None:
        """Hold a named lock (``dialects.LOCKS``) or a numeric key until ``conn``'s
        transaction ends, for read-then-write sequences that must not interleave across
        processes. A no-op on SQLite, whose write lock already serialises writers."""
        self._impl.lock(conn, LOCKS[lock] if isinstance(lock, str) else lock)

    @staticmethod
    def _pool_exhausted() -> StorageError:
        return StorageError("the server's database connections are all in use; retry the "
                            "request in a moment", code="database_busy")

    def _unavailable(self, exc: sa_exc.OperationalError) -> StorageError:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if "locked" in reason or "busy" in reason:
            return StorageError(f"the database is busy ({reason}); retry the request")
        if "no such table" in reason or "no such column" in reason:
            return SchemaVersionError(
                f"the database at {mask_url(self.url)} does not match this Charter's schema "
                f"({reason}); run `charter db status` and `charter db upgrade`")
        return DatabaseUnavailableError(
            f"cannot use the database at {mask_url(self.url)}: {reason}; check "
            "CHARTER_DATABASE_URL and that the database server is running and reachable"
        )

    def workflow_url(self) -> str:
        """Where DBOS keeps the steps of agent runs for this database."""
        return self._impl.workflow_url(self._parsed)

    def ping(self) -> None:
        """Raise ``DatabaseUnavailableError`` unless the database answers."""
        with self.connect() as conn:
            conn.execute(text("SELECT 1"))

    # -- schema ----------------------------------------------------------------------

    def _alembic_config(self, conn: Connection) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = conn
        return cfg

    def revisions(self) -> tuple[str | None, str]:
        """(the database's revision, the newest revision this Charter knows)."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        script = ScriptDirectory(str(MIGRATIONS_DIR))
        head = script.get_current_head()
        assert head is not None
        with self.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        return current, head

    def check_schema(self) -> str | None:
        """The database revision; raises if it is newer than this Charter knows."""
        from alembic.script import ScriptDirectory

        current, head = self.revisions()
        if current is None or current == head:
            return current
        script = ScriptDirectory(str(MIGRATIONS_DIR))
        known = {rev.revision for rev in script.walk_revisions()}
        if current not in known:
            raise SchemaVersionError(
                f"the database at {mask_url(self.url)} has schema revision {current!r}, "
                f"which is newer than this Charter knows (newest known: {head!r}); upgrade "
                "Charter, or point CHARTER_DATABASE_URL at a database this version created"
            )
        return current

    def upgrade(self) -> tuple[str | None, str]:
        """Apply pending migrations; returns (revision before, revision after)."""
        from alembic import command

        before = self.check_schema()
        _, head = self.revisions()
        if before == head:
            return before, head
        with self.transaction(exclusive=True) as conn:
            # Several replicas may start at once; one migrates, the others wait.
            self.lock(conn, "migrations")
            command.upgrade(self._alembic_config(conn), "head")
        return before, head

    def ensure_ready(self, *, auto_migrate: bool) -> None:
        """Check the schema and migrate if allowed, else say how to."""
        current, head = self.revisions()
        self.check_schema()
        if current == head:
            return
        if not auto_migrate:
            raise SchemaVersionError(
                f"the database at {mask_url(self.url)} is at schema revision {current!r}, "
                f"older than {head!r}; run `charter db upgrade`"
            )
        self.upgrade()

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings, *, migrate: bool | None = None) -> Database:
    """Open the configured database, make sure it is reachable and on the current schema."""
    db = Database(settings.resolved_database_url, connect_timeout=settings.db_connect_timeout)
    db.ping()
    db.ensure_ready(auto_migrate=settings.auto_migrate if migrate is None else migrate)
    return db
