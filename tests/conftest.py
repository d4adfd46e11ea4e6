"""Shared fixtures: isolated settings and runtime per test, one PostgreSQL per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from charter.backends import registry
from charter.core.config import Settings, load_settings
from charter.runtime import Runtime

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a test that reaches for a hub must fail, not hang
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One exported ONNX graph for the whole session (each export takes about a second)."""
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, onnx_cache: Path) -> Settings:
    """Settings with a private data dir, unaffected by the developer's environment."""
    for key in list(os.environ):
        if key.startswith("CHARTER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return load_settings({"CHARTER_DATA_DIR": str(tmp_path / "data"),
                          "CHARTER_ONNX_CACHE_DIR": str(onnx_cache)})


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.open(settings)
    yield rt
    rt.close()
    registry.clear_cache()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL 16 with pgvector, from the pgserver wheel; yields its admin URI."""
    pgserver = pytest.importorskip("pgserver")
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh, empty database on the session's server, as a SQLAlchemy URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_server.replace("postgresql://", "postgresql+psycopg://").replace(
        "/postgres?", f"/{name}?"
    )
