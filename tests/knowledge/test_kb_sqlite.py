from pathlib import Path

import pytest

from tests.knowledge.kb_conformance import KnowledgeConformance


class TestKnowledgeOnSQLite(KnowledgeConformance):
    @pytest.fixture
    def db_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'kb.db'}"
