"""The Embedder conformance suite. Each embedder's tests subclass it and provide ``embedder``."""

from __future__ import annotations

import math

import pytest

from charter.backends import registry
from charter.backends.base import Embedder


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


class EmbedderConformance:
    #: The model is a real sentence embedder, so meaning decides similarity.
    semantic = True

    @pytest.fixture
    def embedder(self) -> Embedder:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_meets_the_protocol_and_is_registered(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)
        assert embedder.model_id
        assert registry.backend_class(embedder.backend_name, "embedding") is type(embedder)

    def test_one_unit_vector_of_the_declared_size_per_text(self, embedder: Embedder) -> None:
        texts = [f"sentence number {i} about expenses" for i in range(7)]
        vectors = embedder.embed(texts)
        assert len(vectors) == 7
        for v in vectors:
            assert len(v) == embedder.dimension
            assert math.sqrt(sum(x * x for x in v)) == pytest.approx(1.0, abs=1e-3)
        assert embedder.embed([]) == []

    def test_batching_does_not_change_results(self, embedder: Embedder) -> None:
        # Twelve texts: enough to take a backend's large-batch path where it has one.
        texts = ["travel policy", "security badges", "annual leave"] + \
            [f"expense claim number {i}" for i in range(9)]
        together = embedder.embed(texts)
        for i in (0, 2, 11):
            alone = embedder.embed([texts[i]])[0]
            assert _cos(together[i], alone) == pytest.approx(1.0, abs=1e-3)

    def test_meaning_decides_similarity(self, embedder: Embedder) -> None:
        if not self.semantic:
            pytest.skip("not a sentence-embedding model")
        a, b, c = embedder.embed([
            "How many days of paid holiday do employees get?",
            "Staff are entitled to 25 days of annual leave.",
            "The GPU cluster uses liquid cooling.",
        ])
        assert _cos(a, b) > _cos(a, c) + 0.1

    def test_queries_are_embedded_like_documents_within_tolerance(self, embedder: Embedder) -> None:
        """``embed_queries`` may approximate (an int8 graph, say) but stays the same model:
        unit vectors of the same size, in order, close to ``embed``'s, whatever the count."""
        texts = ["How many days of leave do I get?", "Hotel limit per night in Paris"] + \
            [f"Who approves expense claim number {i}?" for i in range(38)]
        queries = embedder.embed_queries(texts)
        documents = embedder.embed(texts)
        assert len(queries) == len(texts) and embedder.embed_queries([]) == []
        for q, d in zip(queries, documents, strict=True):
            assert len(q) == embedder.dimension
            assert math.sqrt(sum(x * x for x in q)) == pytest.approx(1.0, abs=1e-3)
            assert _cos(q, d) > 0.98
        assert _cos(queries[0], embedder.embed_queries([texts[0]])[0]) == pytest.approx(1.0, abs=1e-3)
        assert embedder.query_model_id.startswith(embedder.model_id)
