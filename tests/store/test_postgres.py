import pytest

from tests.store.conformance import StorageConformance


@pytest.mark.integration
class TestPostgresStorage(StorageConformance):
    @pytest.fixture
    def db_url(self, pg_url: str) -> str:
        return pg_url
