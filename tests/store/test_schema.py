"""The schema declared in store/tables.py is the schema the migrations build.

A fresh database is migrated to head and Alembic's autogenerate comparison runs between
it and ``tables.metadata``, on SQLite and on PostgreSQL, with ``compare_type`` and
``compare_server_default`` on (both agree on both databases; the empty-string default is
declared as SQL for that, see ``tables.EMPTY``). Any difference means a migration is
missing from tables.py or tables.py changed without a migration. What the comparison
leaves out is ``tables.include_object``'s to say; what Alembic does not compare (the
columns a covering index carries) is checked here directly.
"""

from __future__ import annotations

import pprint
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from charter.store import tables
from charter.store.db import Database


def _differences(db: Database) -> list[object]:
    with db.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": tables.include_object(db.dialect),
            "target_metadata": tables.metadata,
        })
        return list(compare_metadata(context, tables.metadata))


def _database_tables(db: Database) -> set[str]:
    with db.connect() as conn:
        names = set(inspect(conn).get_table_names())
    return names - tables.SQLITE_FTS5_TABLES - {"alembic_version"}


def _included_columns(db: Database) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(declared, found) columns of covering indexes (``INCLUDE (...)``), by index name:
    Alembic compares an index's key columns but not the columns it carries."""
    key = f"{db.dialect}_include"
    declared = {}
    for table in tables.metadata.tables.values():
        for index in table.indexes:
            if tables.belongs_to(table, db.dialect) and index.dialect_kwargs.get(key):
                declared[index.name] = list(index.dialect_kwargs[key])
    found = {}
    with db.connect() as conn:
        inspector = inspect(conn)
        for name in _database_tables(db):
            for index in inspector.get_indexes(name):
                if index.get("dialect_options", {}).get(key):
                    found[index["name"]] = list(index["dialect_options"][key])
    return declared, found


def _check(db: Database) -> None:
    db.upgrade()
    diff = _differences(db)
    assert diff == [], "store/tables.py differs from the migrations:\n" + pprint.pformat(diff)
    declared_include, found_include = _included_columns(db)
    assert declared_include == found_include
    declared = tables.table_names(db.dialect)
    found = _database_tables(db)
    assert found - declared == set(), "tables the migrations create but tables.py lacks"
    assert declared - found == set(), "tables tables.py declares but no migration creates"


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'charter.db'}")
    yield db
    db.dispose()


def test_sqlite_schema_matches_the_declaration(sqlite_db: Database) -> None:
    _check(sqlite_db)
    with sqlite_db.connect() as conn:  # the exclusions exist, so leaving them out mattered
        assert tables.SQLITE_FTS5_TABLES <= set(inspect(conn).get_table_names())


@pytest.mark.integration
def test_postgres_schema_matches_the_declaration(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        _check(db)
        # The covering index was compared, not skipped for want of one.
        assert "ix_chunk_terms_postings" in _included_columns(db)[1]
    finally:
        db.dispose()


def test_the_comparison_sees_a_missing_migration(sqlite_db: Database) -> None:
    """The check is not vacuous: a column declared without a migration is reported."""
    from sqlalchemy import Column, Integer, MetaData, Table

    sqlite_db.upgrade()
    metadata = MetaData(naming_convention=tables.NAMING)
    for table in tables.metadata.tables.values():
        table.to_metadata(metadata)
    metadata.tables["users"].append_column(Column("undeclared", Integer, nullable=True))
    Table("ghosts", metadata, Column("id", Integer, primary_key=True))
    with sqlite_db.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": True,
            "include_object": tables.include_object(sqlite_db.dialect)})
        kinds = {d[0] if isinstance(d, tuple) else d[0][0]
                 for d in compare_metadata(context, metadata)}
    assert {"add_column", "add_table"} <= kinds
