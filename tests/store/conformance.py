"""The storage conformance suite: every database Charter supports must pass all of it.

A test module subclasses ``StorageConformance`` and overrides the ``db_url`` fixture.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from charter.audit import AuditLog
from charter.core.aliases import AliasConfig
from charter.core.errors import (
    AuditIntegrityError,
    ConflictError,
    InvalidInputError,
    SchemaVersionError,
    UnknownAliasError,
)
from charter.store.aliases import AliasRepository
from charter.store.db import Database


class StorageConformance:
    @pytest.fixture
    def db_url(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.fixture
    def empty_db(self, db_url: str) -> Iterator[Database]:
        db = Database(db_url, connect_timeout=5)
        yield db
        db.dispose()

    @pytest.fixture
    def db(self, empty_db: Database) -> Database:
        empty_db.upgrade()
        return empty_db

    # -- schema --------------------------------------------------------------------

    def test_fresh_database_migrates_to_newest_revision(self, empty_db: Database) -> None:
        before, head = empty_db.revisions()
        assert before is None
        assert empty_db.upgrade() == (None, head)
        assert empty_db.revisions() == (head, head)
        assert empty_db.upgrade() == (head, head)  # idempotent

    def test_refuses_to_serve_an_unmigrated_database_when_auto_migrate_is_off(
        self, empty_db: Database
    ) -> None:
        with pytest.raises(SchemaVersionError, match="charter db upgrade"):
            empty_db.ensure_ready(auto_migrate=False)

    def test_database_from_a_newer_charter_is_refused(self, db: Database) -> None:
        with db.transaction() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        with pytest.raises(SchemaVersionError, match="newer than this Charter"):
            db.check_schema()
        with pytest.raises(SchemaVersionError, match="9999_from_the_future"):
            db.ensure_ready(auto_migrate=True)

    def test_vector_extension_is_available(self, db: Database) -> None:
        with db.connect() as conn:
            if db.dialect == "sqlite":
                dist = conn.execute(
                    text("SELECT vec_distance_l2(vec_f32('[0,0]'), vec_f32('[3,4]'))")
                ).scalar()
            else:
                dist = conn.execute(text("SELECT '[0,0]'::vector <-> '[3,4]'::vector")).scalar()
        assert dist == pytest.approx(5.0)

    def test_failed_transaction_leaves_nothing_behind(self, db: Database) -> None:
        repo = AliasRepository(db)
        with pytest.raises(RuntimeError):
            with db.transaction() as conn:
                conn.execute(text(
                    "INSERT INTO model_aliases (name, kind, backend, model, options, version, "
                    "created_at, updated_at) VALUES ('ghost', 'chat', 'scripted', '', '{}', 1, "
                    "'x', 'x')"
                ))
                raise RuntimeError("crash mid-write")
        assert repo.find("ghost") is None

    # -- aliases ---------------------------------------------------------------------

    def test_alias_round_trip_and_versions(self, db: Database) -> None:
        repo = AliasRepository(db)
        saved = repo.add(AliasConfig("fast", "scripted", "m1", {"replies": ["héllo ✓"]}))
        assert saved.version == 1
        got = repo.get("fast")
        assert (got.backend, got.model, got.options) == ("scripted", "m1", {"replies": ["héllo ✓"]})
        changed = repo.add(AliasConfig("fast", "extractive", "", {}), replace=True)
        assert changed.version == 2
        assert repo.get("fast").backend == "extractive"
        repo.add(AliasConfig("embed", "sentence_transformers", "", {}, kind="embedding"))
        assert [a.name for a in repo.list()] == ["embed", "fast"]
        assert [a.name for a in repo.list("chat")] == ["fast"]
        repo.remove("fast")
        assert repo.find("fast") is None

    def test_alias_errors_say_how_to_fix(self, db: Database) -> None:
        repo = AliasRepository(db)
        repo.add(AliasConfig("fast", "scripted"))
        with pytest.raises(ConflictError, match="--replace"):
            repo.add(AliasConfig("fast", "scripted"))
        with pytest.raises(UnknownAliasError, match=r"charter models add nope.*fast"):
            repo.get("nope")
        with pytest.raises(UnknownAliasError):
            repo.remove("nope")
        with pytest.raises(UnknownAliasError):
            repo.get("fast", kind="embedding")
        for bad in ("", "auto", "has space", "x" * 101):
            with pytest.raises(InvalidInputError):
                repo.add(AliasConfig(bad, "scripted"))

    # -- audit -----------------------------------------------------------------------

    def test_audit_chain_appends_and_verifies(self, db: Database) -> None:
        log = AuditLog(db)
        first = log.append("r1", "alice", "chat", {"route": "fast", "text": "naïve ✓"})
        second = log.append("r2", "bob", "chat", {"route": "thinking"})
        assert second.prev_hash == first.hash
        assert log.verify() == 2
        assert [r.request_id for r in log.records()] == ["r1", "r2"]
        assert log.records(request_id="r2")[0].payload == {"route": "thinking"}
        assert log.records(newest_first=True, limit=1)[0].request_id == "r2"

    def test_audit_rows_cannot_be_changed_or_deleted(self, db: Database) -> None:
        log = AuditLog(db)
        log.append("r1", "alice", "chat", {"a": 1})
        for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
            with pytest.raises(sa_exc.DBAPIError, match="append-only"):
                with db.transaction() as conn:
                    conn.execute(text(statement))
        assert log.records()[0].actor == "alice"

    def test_tampering_is_detected(self, db: Database) -> None:
        log = AuditLog(db)
        for i in range(3):
            log.append(f"r{i}", "alice", "chat", {"i": i})
        with db.transaction() as conn:
            if db.dialect == "sqlite":
                conn.execute(text("DROP TRIGGER audit_events_no_update"))
            else:
                conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
            conn.execute(text("UPDATE audit_events SET payload = :p WHERE request_id = 'r1'"),
                         {"p": '{"i":99}'})
        with pytest.raises(AuditIntegrityError, match="event 2"):
            log.verify()

    @staticmethod
    def _without_delete_guard(db: Database, conn) -> None:  # noqa: ANN001
        if db.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))

    def test_removing_the_newest_records_is_detected(self, db: Database) -> None:
        log = AuditLog(db, b"k" * 32)
        for i in range(5):
            log.append(f"r{i}", "alice", "chat", {"i": i})
        assert log.verify() == 5
        with db.transaction() as conn:
            self._without_delete_guard(db, conn)
            conn.execute(text("DELETE FROM audit_events WHERE request_id IN ('r3', 'r4')"))
        with pytest.raises(AuditIntegrityError, match="newest 2 were removed"):
            log.verify()

    def test_a_head_rewritten_without_the_key_is_detected_for_good(self, db: Database) -> None:
        log = AuditLog(db, b"k" * 32)
        for i in range(4):
            log.append(f"r{i}", "alice", "chat", {"i": i})
        with db.transaction() as conn:
            self._without_delete_guard(db, conn)
            conn.execute(text("DELETE FROM audit_events WHERE request_id = 'r3'"))
            last = conn.execute(text("SELECT id, hash FROM audit_events ORDER BY id DESC "
                                     "LIMIT 1")).first()
            conn.execute(text("UPDATE audit_head SET count = 3, last_id = :i, last_hash = :h"),
                         {"i": last.id, "h": last.hash})
        with pytest.raises(AuditIntegrityError, match="MAC does not match"):
            log.verify()
        log.append("r9", "bob", "chat", {})  # the next append re-signs, but marks the head
        with pytest.raises(AuditIntegrityError, match="altered without the key"):
            log.verify()

    def test_emptying_the_table_is_refused_or_detected(self, db: Database) -> None:
        log = AuditLog(db, b"k" * 32)
        log.append("r1", "alice", "chat", {})
        if db.dialect != "sqlite":
            with pytest.raises(sa_exc.DBAPIError, match="append-only"):
                with db.transaction() as conn:
                    conn.execute(text("TRUNCATE audit_events"))
        with db.transaction() as conn:
            self._without_delete_guard(db, conn)
            conn.execute(text("DELETE FROM audit_events"))
        with pytest.raises(AuditIntegrityError, match="holds 0 events"):
            log.verify()
        with pytest.raises(sa_exc.DBAPIError, match="cannot be deleted|append-only"):
            with db.transaction() as conn:
                conn.execute(text("DELETE FROM audit_head"))

    def test_concurrent_appends_keep_one_linear_chain(self, db: Database) -> None:
        log = AuditLog(db)
        errors: list[BaseException] = []

        def worker(k: int) -> None:
            try:
                for i in range(10):
                    log.append(f"t{k}-{i}", f"user{k}", "chat", {"i": i})
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert log.verify() == 60
        hashes = [r.prev_hash for r in log.records()]
        assert len(set(hashes)) == 60  # no two events claim the same predecessor
