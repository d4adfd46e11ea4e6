"""Texts that leave for an embedding model outside the organisation.

An embedding alias marked ``external`` (a hosted API) receives every chunk Charter
indexes, every search query and every ``/v1/embeddings`` input. ``RedactingEmbedder``
passes each through the charter's redaction first (``pii.redact_for_external_backends``),
so personal data leaves for an external embedder no more than for an external chat model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from charter.backends.base import Embedder


class RedactingEmbedder:
    """An ``Embedder`` that redacts each text (``redact``) before ``inner`` sees it."""

    backend_name: ClassVar[str] = "redacting"

    def __init__(self, inner: Embedder, redact: Callable[[str], str]) -> None:
        self.inner = inner
        self._redact = redact

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def query_model_id(self) -> str:
        return getattr(self.inner, "query_model_id", self.inner.model_id)

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.inner.embed([self._redact(t) for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self.inner.embed_queries([self._redact(t) for t in texts])
