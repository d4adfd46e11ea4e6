from pathlib import Path

import pytest

from charter.backends.st_embedder import SentenceTransformerEmbedder
from charter.errors import ModelFileError
from tests.backends.embedder_conformance import EmbedderConformance


@pytest.mark.integration
class TestPackagedMiniLM(EmbedderConformance):
    @pytest.fixture
    def embedder(self) -> SentenceTransformerEmbedder:
        return SentenceTransformerEmbedder(batch_size=4)

    def test_is_the_packaged_minilm(self, embedder: SentenceTransformerEmbedder) -> None:
        assert embedder.dimension == 384
        assert embedder.model_id == "sentence-transformers/all-MiniLM-L6-v2"


def test_missing_model_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found or incomplete"):
        SentenceTransformerEmbedder(str(tmp_path / "none"))
