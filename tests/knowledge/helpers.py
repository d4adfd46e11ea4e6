"""Test doubles and builders for knowledge-base tests."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import ClassVar

from charter.core.text import content_terms


class HashEmbedder:
    """A deterministic bag-of-words embedder: texts sharing words get similar vectors.

    Fast and model-free, for tests of storage, search plumbing and access control. The
    real MiniLM is used in the integration tests.
    """

    backend_name: ClassVar[str] = "hash"

    def __init__(self, dimension: int = 64, name: str = "hash-64") -> None:
        self._dim = dimension
        self._name = name
        self.calls = 0

    @property
    def model_id(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dim

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed(texts)

    @property
    def query_model_id(self) -> str:
        return self.model_id

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        out = []
        for text in texts:
            vec = [0.0] * self._dim
            for term in content_terms(text) or ["empty"]:
                h = int(hashlib.md5(term.encode()).hexdigest(), 16)
                vec[h % self._dim] += 1.0 if (h >> 8) % 2 else -1.0
            norm = math.sqrt(sum(x * x for x in vec)) or 1.0
            out.append([x / norm for x in vec])
        return out
