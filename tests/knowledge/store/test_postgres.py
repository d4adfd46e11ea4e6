import pytest

from charter.knowledge.store.postgres import PostgresDocumentStore
from tests.knowledge.store.conformance import KnowledgeConformance, SearchConnections


@pytest.mark.integration
class TestKnowledgeOnPostgres(KnowledgeConformance, SearchConnections):
    implementation = PostgresDocumentStore

    @pytest.fixture
    def db_url(self, pg_url: str) -> str:
        return pg_url
