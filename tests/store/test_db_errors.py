"""Bad database settings get one clear error each."""

import time
from pathlib import Path

import pytest

from charter.core.config import load_settings
from charter.core.errors import ConfigError, DatabaseUnavailableError, StorageError
from charter.core.config import mask_url
from charter.store.db import Database, normalise_url, open_database


def test_unreachable_postgres_is_reported_with_the_url_and_without_the_password() -> None:
    db = Database("postgresql://charter:s3cret@127.0.0.1:1/charter", connect_timeout=2)
    t0 = time.monotonic()
    with pytest.raises(DatabaseUnavailableError) as info:
        db.ping()
    assert time.monotonic() - t0 < 10
    message = info.value.message
    assert "127.0.0.1:1" in message and "CHARTER_DATABASE_URL" in message
    assert "s3cret" not in message


def test_invalid_and_unsupported_urls() -> None:
    with pytest.raises(ConfigError, match="not a valid URL"):
        Database("not a url")
    with pytest.raises(ConfigError, match="not supported"):
        Database("mysql+pymysql://u:p@localhost/db")
    with pytest.raises(ConfigError, match="no driver"):
        Database("postgresql+nosuchdriver://u:p@localhost/db")


def test_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="CHARTER_DATA_DIR"):
        Database(f"sqlite:///{blocker / 'sub' / 'charter.db'}")


def test_open_database_uses_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"CHARTER_DATA_DIR": str(tmp_path / "d")})
    db = open_database(settings)
    assert (tmp_path / "d" / "charter.db").is_file()
    assert db.revisions()[0] == db.revisions()[1]
    db.dispose()


def test_url_helpers() -> None:
    assert mask_url("postgresql+psycopg://u:pw@h/db") == "postgresql+psycopg://u:***@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"


def test_an_exhausted_connection_pool_is_a_clean_retryable_error(pg_url: str) -> None:
    """Every pooled connection taken (here the only one): the next caller gets a 503 that
    says to retry, not an internal error."""
    from sqlalchemy import create_engine

    db = Database(pg_url)
    db.upgrade()
    db.engine.dispose()
    db.engine = create_engine(db.engine.url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    with db.connect():
        with pytest.raises(StorageError) as info:
            with db.connect():
                pass
        assert (info.value.status, info.value.code) == (503, "database_busy")
        assert "retry" in info.value.message
        with pytest.raises(StorageError, match="connections are all in use"):
            with db.transaction():
                pass
    db.dispose()
