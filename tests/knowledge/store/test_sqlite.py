from pathlib import Path

import pytest

from charter.knowledge.store.sqlite import SQLiteDocumentStore
from tests.knowledge.store.conformance import KnowledgeConformance, SearchConnections


class TestKnowledgeOnSQLite(KnowledgeConformance, SearchConnections):
    implementation = SQLiteDocumentStore

    @pytest.fixture
    def db_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'kb.db'}"
