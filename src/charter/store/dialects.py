"""What differs between SQLite and PostgreSQL when opening and using a connection.

Every difference in how Charter opens, begins and locks the database lives here, one
class per database behind the ``Dialect`` protocol, chosen by the URL's backend name
(``DIALECTS``). ``Database`` (store/db.py) and everything above it ask the dialect instead
of comparing names; SQL that differs per database lives in the knowledge store's
implementations (knowledge/store/).

SQLite runs through ``pysqlite3`` (a build that can load extensions) in WAL mode with
``sqlite-vec`` loaded on every connection; one writer at a time, queued on a file lock
next to the database. PostgreSQL runs through psycopg 3; transaction-scoped advisory
locks serialise what SQLite's single write lock serialises by itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL

from charter.core.errors import ConfigError, StorageError
from charter.store.writer_lock import WriterLock

# Keys of the transaction-scoped locks (PostgreSQL advisory locks): one per thing that
# must not run twice at once across processes.
LOCKS: dict[str, int] = {
    "migrations": 727111,  # several replicas may start at once: one migrates, the others wait
    "audit_chain": 727112,  # each audit event links to the one before it
    "kb_write": 727113,  # document writes and a reindex's swap of the vectors never interleave
    "agent_runs": 727114,  # counting a user's active runs and adding one are one step
}


class Dialect(Protocol):
    """How one database is opened, begun and locked."""

    name: str

    def make_engine(self, url: URL, timeout: float) -> Engine:
        """The engine for ``url`` (``timeout`` in seconds for connecting and waiting on
        locks). May raise ``StorageError`` (e.g. the data folder cannot be created)."""
        ...

    def writer_lock(self, url: URL, timeout: float) -> WriterLock | None:
        """The lock exclusive transactions queue on in this process, or None."""
        ...

    def credentials_file(self, url: URL) -> Path | bool:
        """Where credential changes are signalled to every process on this database
        (``Database.credentials_epoch``): a file path, True when one process is all there
        can be (in memory), False when credentials must not be cached at all."""
        ...

    def begin_options(self, exclusive: bool) -> dict[str, Any]:
        """Execution options for a connection whose transaction is about to begin; an
        exclusive one must take the write lock at its start. Empty: none needed."""
        ...

    def lock(self, conn: Connection, key: int) -> None:
        """Hold lock ``key`` until ``conn``'s transaction ends (a no-op where the
        transaction's write lock already serialises writers)."""
        ...

    def workflow_url(self, url: URL) -> str:
        """Where DBOS keeps agent runs' steps (its system database) for this database."""
        ...


def _file(url: URL) -> Path | None:
    return Path(url.database) if url.database and url.database != ":memory:" else None


class SQLite:
    name = "sqlite"

    def make_engine(self, url: URL, timeout: float) -> Engine:
        file = _file(url)
        if file is not None:
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the data folder {file.parent}: {exc.strerror}; "
                    "set CHARTER_DATA_DIR to a writable folder"
                ) from None
        try:
            import pysqlite3.dbapi2 as dbapi  # type: ignore[import-not-found]
        except ImportError:  # pragma: no cover - platforms without the wheel
            import sqlite3 as dbapi
        engine = create_engine(
            url, module=dbapi,
            connect_args={"timeout": max(timeout, 5.0), "check_same_thread": False},
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

    def writer_lock(self, url: URL, timeout: float) -> WriterLock | None:
        return WriterLock(_file(url), max(timeout, 5.0))

    def credentials_file(self, url: URL) -> Path | bool:
        # Every process of a SQLite file is on one machine: a file beside it is seen by all.
        file = _file(url)
        return Path(f"{file}-credentials") if file is not None else True

    def begin_options(self, exclusive: bool) -> dict[str, Any]:
        return {"sqlite_begin": "IMMEDIATE"} if exclusive else {}

    def lock(self, conn: Connection, key: int) -> None:
        # Nothing to take: an exclusive transaction (BEGIN IMMEDIATE) already holds the
        # database's only write lock, and a deferred one takes it with its first write.
        return None

    def workflow_url(self, url: URL) -> str:
        # A file of its own beside the database: DBOS migrates its own schema, which
        # Charter's migrations and schema checks then never see.
        file = _file(url)
        if file is None:
            raise ConfigError("agent runs need a database file; an in-memory SQLite "
                              "database cannot hold them (set CHARTER_DATABASE_URL to a file)")
        return f"sqlite:///{file.with_name(file.stem + '-agents.sqlite')}"


class PostgreSQL:
    name = "postgresql"

    def make_engine(self, url: URL, timeout: float) -> Engine:
        return create_engine(
            url, pool_pre_ping=True, connect_args={"connect_timeout": max(1, int(round(timeout)))}
        )

    def writer_lock(self, url: URL, timeout: float) -> WriterLock | None:
        return None  # row locks and the advisory locks below serialise writers

    def credentials_file(self, url: URL) -> Path | bool:
        # Processes may run on other machines; the key lookup is one indexed read.
        return False

    def begin_options(self, exclusive: bool) -> dict[str, Any]:
        return {}  # what must not interleave takes an advisory lock (``lock``) instead

    def __init__(self) -> None:
        # Built once per key: the audit chain takes its lock on every request.
        self._locks = {key: text(f"SELECT pg_advisory_xact_lock({key})")
                       for key in LOCKS.values()}

    def lock(self, conn: Connection, key: int) -> None:
        stmt = self._locks.get(key)
        conn.execute(stmt if stmt is not None
                     else text(f"SELECT pg_advisory_xact_lock({int(key)})"))

    def workflow_url(self, url: URL) -> str:
        # The same database: DBOS keeps its tables in a schema of its own ("dbos").
        return url.render_as_string(hide_password=False)


DIALECTS: dict[str, Dialect] = {d.name: d for d in (SQLite(), PostgreSQL())}


def dialect_for(backend: str) -> Dialect:
    """The dialect for a URL's backend name; a clear error for any other database."""
    try:
        return DIALECTS[backend]
    except KeyError:
        raise ConfigError(
            f"database {backend!r} is not supported; use SQLite "
            "(sqlite:///path) or PostgreSQL (postgresql+psycopg://...)"
        ) from None
