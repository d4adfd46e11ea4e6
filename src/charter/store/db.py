"""Opening the database: engines for SQLite and PostgreSQL, schema checks, migrations.

SQLite runs through ``pysqlite3`` (a build that can load extensions) in WAL mode with
``sqlite-vec`` loaded on every connection. PostgreSQL runs through psycopg 3 with the
``vector`` extension created by the first migration. Either way the schema comes only
from the Alembic migrations in ``charter/store/migrations``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from charter.core.config import Settings, mask_url
from charter.core.errors import (
    ConfigError,
    DatabaseUnavailableError,
    SchemaVersionError,
    StorageError,
)

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


def _sqlite_engine(url: str, timeout: float) -> Engine:
    try:
        import pysqlite3.dbapi2 as dbapi  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - platforms without the wheel
        import sqlite3 as dbapi
    engine = create_engine(
        url, module=dbapi, connect_args={"timeout": max(timeout, 5.0), "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event below issue BEGIN itself, so IMMEDIATE works.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(max(timeout, 5.0) * 1000)}")
        cur.close()
        try:
            import sqlite_vec

            dbapi_conn.enable_load_extension(True)
            sqlite_vec.load(dbapi_conn)
            dbapi_conn.enable_load_extension(False)
        except (AttributeError, ImportError, Exception):  # noqa: BLE001
            # Vector search is checked where it is used; the rest of Charter works without it.
            pass

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _postgres_engine(url: str, timeout: float) -> Engine:
    return create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": max(1, int(round(timeout)))}
    )


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
        self.dialect = parsed.get_backend_name()
        try:
            if self.dialect == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    folder = Path(parsed.database).parent
                    try:
                        folder.mkdir(parents=True, exist_ok=True)
                    except OSError as exc:
                        raise StorageError(
                            f"cannot create the data folder {folder}: {exc.strerror}; "
                            "set CHARTER_DATA_DIR to a writable folder"
                        ) from None
                self.engine = _sqlite_engine(self.url, connect_timeout)
                file = Path(parsed.database) if parsed.database and \
                    parsed.database != ":memory:" else None
                self._writers = WriterLock(file, max(connect_timeout, 5.0))
            elif self.dialect == "postgresql":
                self.engine = _postgres_engine(self.url, connect_timeout)
            else:
                raise ConfigError(
                    f"database {self.dialect!r} is not supported; use SQLite "
                    "(sqlite:///path) or PostgreSQL (postgresql+psycopg://...)"
                )
        except sa_exc.NoSuchModuleError:
            raise ConfigError(
                f"no driver for database URL {mask_url(url)!r}; use "
                "postgresql+psycopg://... or sqlite:///..."
            ) from None

    # -- connections -----------------------------------------------------------------

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads (each statement autocommits nothing; no writes here)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa_exc.OperationalError as exc:
            raise self._unavailable(exc) from None

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
                if exclusive and self.dialect == "sqlite":
                    conn = conn.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    yield conn
        except sa_exc.OperationalError as exc:
            raise self._unavailable(exc) from None

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
            if self.dialect == "postgresql":
                # Several replicas may start at once; one migrates, the others wait.
                conn.execute(text("SELECT pg_advisory_xact_lock(727111)"))
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
