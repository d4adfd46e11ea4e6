"""Retrieval stage: hybrid search inside the principal's clearance, as numbered passages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from charter.core.principal import Principal
from charter.core.chat import Passage
from charter.backends.base import INT8_SUFFIX, Embedder
from charter.core.config import Settings
from charter.knowledge.search import Searcher
from charter.knowledge.store import DocumentStore, open_store
from charter.store.db import Database


class Retriever(Protocol):
    def retrieve(self, principal: Principal, question: str, *,
                 vector: Sequence[float] | None = None, vector_model: str | None = None,
                 ) -> list[Passage]: ...


class NoRetrieval:
    """Returns no passages."""

    def retrieve(self, principal: Principal, question: str, *,
                 vector: Sequence[float] | None = None, vector_model: str | None = None,
                 ) -> list[Passage]:
        return []


class KnowledgeRetriever:
    """Retrieves from the knowledge base; the embedder loads only once there is an index."""

    def __init__(self, db: Database, settings: Settings,
                 embedder: Callable[[], Embedder]) -> None:
        self.db = db
        self.store: DocumentStore = open_store(db)
        self.settings = settings
        self._embedder_factory = embedder
        self._searcher: Searcher | None = None

    def searcher(self) -> Searcher:
        if self._searcher is None:
            self._searcher = Searcher(self.db, self._embedder_factory(),
                                      fusion=self.settings.kb_fusion, alpha=self.settings.kb_alpha)
        return self._searcher

    def _same_space(self, vector_model: str | None, index_model: str) -> bool:
        if vector_model == index_model:
            return True
        return (self.settings.kb_reuse_screening_vector
                and vector_model == f"{index_model}{INT8_SUFFIX}")

    def retrieve(self, principal: Principal, question: str, *,
                 vector: Sequence[float] | None = None, vector_model: str | None = None,
                 ) -> list[Passage]:
        """``vector`` is the question's embedding when the caller has one (input screening
        does); it is used when it comes from the model the index was built with, or from
        that model's int8 graph while ``kb_reuse_screening_vector`` is on."""
        info = self.store.index_info()
        if info is None:
            return []  # nothing ingested yet: no need to load the embedding model
        if vector is not None and (len(vector) != info[1]
                                   or not self._same_space(vector_model, info[0])):
            vector = None
        hits = self.searcher().search(principal, question, k=self.settings.kb_top_k,
                                      query_vector=vector)
        # A passage that is not about the question at all only distracts the model.
        floor = self.settings.kb_min_similarity
        hits = [h for h in hits if h.similarity is not None and h.similarity >= floor]
        return [
            Passage(n=i, text=h.text, document=h.title or h.uri, heading=h.heading,
                    location=f"{h.uri.rsplit('/', 1)[-1]}: {h.location}", passage_id=h.uid,
                    check=h.check)
            for i, h in enumerate(hits, start=1)
        ]
