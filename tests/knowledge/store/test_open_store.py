"""``open_store``: one implementation per database, a clear error for any other."""

from types import SimpleNamespace

import pytest

from charter.core.errors import ConfigError
from charter.knowledge.store import STORES, open_store
from charter.knowledge.store.postgres import PostgresDocumentStore
from charter.knowledge.store.sqlite import SQLiteDocumentStore


def test_each_supported_database_has_its_implementation() -> None:
    assert STORES == {"sqlite": SQLiteDocumentStore, "postgresql": PostgresDocumentStore}


def test_an_unknown_database_is_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="does not support database 'mysql'"):
        open_store(SimpleNamespace(dialect="mysql"))  # type: ignore[arg-type]
