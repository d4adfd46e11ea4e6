"""Re-embedding every chunk with a new embedding model, in one transaction."""

from __future__ import annotations

import time

import numpy as np
from sqlalchemy import text

from charter.backends.base import Embedder
from charter.knowledge.store import open_store
from charter.store.db import Database


def reindex(db: Database, embedder: Embedder, batch: int = 256) -> tuple[int, float]:
    """Replace all vectors and the index record; readers see the old index until commit."""
    started = time.perf_counter()
    store = open_store(db)
    with db.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.id, c.heading, c.text, d.title FROM chunks c JOIN documents d "
            "ON d.id = c.document_id ORDER BY c.id")).all()
    vectors: list[np.ndarray] = []
    for start in range(0, len(rows), batch):
        part = rows[start:start + batch]
        bodies = [f"{' > '.join(x for x in (r.title, r.heading) if x)}\n{r.text}" for r in part]
        vectors.append(np.asarray(embedder.embed(bodies), dtype=np.float32))
    dim = int(vectors[0].shape[1]) if vectors else embedder.dimension
    flat = np.concatenate(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
    store.replace_vectors(embedder.model_id, dim, [r.id for r in rows], flat)
    return len(rows), time.perf_counter() - started
