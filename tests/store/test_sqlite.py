from pathlib import Path

import pytest

from tests.store.conformance import StorageConformance


class TestSQLiteStorage(StorageConformance):
    @pytest.fixture
    def db_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'nested' / 'charter.db'}"

    def test_wal_mode(self, db) -> None:
        from sqlalchemy import text

        with db.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
