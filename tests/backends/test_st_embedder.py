from pathlib import Path

import pytest

from charter.backends.st_embedder import SentenceTransformerEmbedder
from charter.core.errors import ModelFileError
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


@pytest.mark.integration
class TestPackagedMiniLMWithOnnx(EmbedderConformance):
    """The same suite with short inputs on onnxruntime (batches of more than 8 stay on
    PyTorch, so the batching test compares the two runtimes)."""

    @pytest.fixture
    def embedder(self, tmp_path: Path) -> SentenceTransformerEmbedder:
        return SentenceTransformerEmbedder(batch_size=4, onnx_cache=tmp_path / "onnx")

    def test_onnx_is_used_and_matches_pytorch(self, embedder: SentenceTransformerEmbedder,
                                              tmp_path: Path) -> None:
        texts = ["How many days of leave do I get?", "Hotel limit per night in Paris",
                 "Een zin in het Nederlands", "x"]
        onnx = embedder.embed(texts)
        assert embedder._onnx, "the ONNX encoder should be active for the packaged model"
        assert embedder.query_model_id == embedder.model_id  # not quantized: exact
        assert list((tmp_path / "onnx").glob("*.onnx"))
        torch_only = SentenceTransformerEmbedder(batch_size=4)
        for a, b in zip(onnx, torch_only.embed(texts), strict=True):
            assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.9999


    def test_concurrent_questions_share_runs_and_keep_their_vectors(
            self, embedder: SentenceTransformerEmbedder) -> None:
        from concurrent.futures import ThreadPoolExecutor

        questions = [f"What is the travel allowance for trip number {i}?" if i % 2 else
                     f"Who approves leave request {i} when the manager is away?"
                     for i in range(48)]
        alone = [embedder.embed([q])[0] for q in questions]
        with ThreadPoolExecutor(16) as pool:
            together = list(pool.map(lambda q: embedder.embed([q])[0], questions))
        for a, b in zip(alone, together, strict=True):
            assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.99999
        assert embedder._batcher is not None and embedder._batcher.stats.largest > 1


@pytest.mark.integration
class TestPackagedMiniLMQuantized(EmbedderConformance):
    """The suite with queries on the int8 graph (the server's default)."""

    @pytest.fixture
    def embedder(self, onnx_cache: Path) -> SentenceTransformerEmbedder:
        return SentenceTransformerEmbedder(batch_size=4, onnx_cache=onnx_cache, quantized=True)

    def test_queries_run_on_the_int8_graph(self, embedder: SentenceTransformerEmbedder,
                                           onnx_cache: Path) -> None:
        texts = ["How many days of leave do I get?", "Reject all job applicants over 50."]
        queries = embedder.embed_queries(texts)
        assert list(onnx_cache.glob("*-int8.onnx"))
        assert embedder._query_batcher is not embedder._batcher  # not the fp32 batcher
        exact = SentenceTransformerEmbedder(batch_size=4).embed(texts)
        cosines = [sum(x * y for x, y in zip(q, d, strict=True)) for q, d in zip(queries, exact)]
        assert all(0.98 < c < 0.99999 for c in cosines), cosines  # close, and truly int8
        # Search must not reuse these vectors as if they were the model's own.
        assert embedder.query_model_id == embedder.model_id + "#int8"
        alone = embedder.embed_queries([texts[1]])[0]
        assert sum(x * y for x, y in zip(alone, queries[1], strict=True)) > 0.99999


    def test_queries_from_many_threads_while_documents_are_embedded(
            self, embedder: SentenceTransformerEmbedder) -> None:
        """Screening (int8, one text per call, many threads) and ingestion (PyTorch
        batches, which reconfigure the shared tokenizer) at the same time."""
        from concurrent.futures import ThreadPoolExecutor

        question = "Who approves travel to Paris?"
        expected = embedder.embed_queries([question])[0]
        docs = [f"Paragraph {i} of the travel policy, about hotels and trains." for i in range(12)]

        def ask(_: int) -> float:
            v = embedder.embed_queries([question])[0]
            return sum(x * y for x, y in zip(v, expected, strict=True))

        with ThreadPoolExecutor(9) as pool:
            ingest = [pool.submit(embedder.embed, docs) for _ in range(6)]
            similarities = list(pool.map(ask, range(120)))
            assert all(len(f.result()) == 12 for f in ingest)
        assert min(similarities) > 0.99999


def test_onnx_is_not_used_for_other_pipelines(tmp_path: Path) -> None:
    from charter.backends import onnx_encoder

    class Odd:
        def __iter__(self):  # a pipeline without mean pooling
            return iter([type("Transformer", (), {})(), type("Dense", (), {})()])

    assert onnx_encoder.build(Odd(), tmp_path, tmp_path / "cache") is None


def test_instances_follow_the_embedding_settings(settings) -> None:  # noqa: ANN001
    from charter.backends import registry
    from charter.core.aliases import AliasConfig

    alias = AliasConfig("embed", "sentence_transformers", "", {}, kind="embedding")
    a = registry.build(alias, settings.with_overrides(embedding_quantized=True))
    b = registry.build(alias, settings.with_overrides(embedding_quantized=False))
    assert a is not b and a._quantized and not b._quantized
    assert registry.build(alias, settings.with_overrides(embedding_quantized=True)) is a


def test_the_private_tokenizer_matches_the_models_own(onnx_cache: Path) -> None:
    """Single texts go through the encoder's own copy of the tokenizer (safe from many
    threads); it must give the ids the shared one gives, truncation included."""
    import numpy as np

    from charter.backends import onnx_encoder

    embedder = SentenceTransformerEmbedder(onnx_cache=onnx_cache)
    model = embedder._model
    encoder = onnx_encoder.build(model, embedder._dir, onnx_cache)
    assert encoder is not None and encoder._own is not None
    for text in ["How many days of leave?", "x", "word " * 600, "Ünïcödé, émojis 🙂 and 42%"]:
        own = encoder._own.encode(text)
        shared = model.tokenizer([text], truncation=True, max_length=encoder.max_length)
        assert own.ids == shared["input_ids"][0]
        assert own.type_ids == shared["token_type_ids"][0]
    one = encoder.encode(["How many days of leave?"])  # own tokenizer
    pair = encoder.encode(["How many days of leave?", "x"])  # shared tokenizer, padded
    assert float(one[0] @ pair[0]) > 0.99999 and np.isclose(np.linalg.norm(one[0]), 1.0)
