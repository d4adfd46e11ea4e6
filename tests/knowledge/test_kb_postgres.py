import pytest

from tests.knowledge.kb_conformance import KnowledgeConformance


@pytest.mark.integration
class TestKnowledgeOnPostgres(KnowledgeConformance):
    @pytest.fixture
    def db_url(self, pg_url: str) -> str:
        return pg_url
