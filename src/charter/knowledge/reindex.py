"""Re-embedding every chunk with a new embedding model, swapped in one transaction."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, text

from charter.backends.base import Embedder
from charter.knowledge.store import open_store
from charter.store.db import Database

_BODIES = ("SELECT c.id, c.heading, c.text, d.title FROM chunks c JOIN documents d "
           "ON d.id = c.document_id")


def _bodies(rows: Sequence[Any]) -> list[str]:
    return [f"{' > '.join(x for x in (r.title, r.heading) if x)}\n{r.text}" for r in rows]


def _embed(embedder: Embedder, rows: Sequence[Any], batch: int, dim: int) -> np.ndarray:
    parts = [np.asarray(embedder.embed(_bodies(rows[i:i + batch])), dtype=np.float32)
             for i in range(0, len(rows), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)


def reindex(db: Database, embedder: Embedder, batch: int = 256) -> tuple[int, float]:
    """Replace all vectors and the index record; readers see the old index until commit.

    The chunks are embedded outside any transaction (the slow part); chunks written
    while that runs are embedded when the new vectors are swapped in, so none is left
    without a vector. A crash before the swap leaves the old index whole."""
    started = time.perf_counter()
    store = open_store(db)
    with db.connect() as conn:
        rows = conn.execute(text(f"{_BODIES} ORDER BY c.id")).all()
    dim = embedder.dimension
    vectors = _embed(embedder, rows, batch, dim)
    if len(vectors):
        dim = int(vectors.shape[1])

    def catch_up(conn: Connection, ids: list[int]) -> np.ndarray:
        added = conn.execute(text(f"{_BODIES} WHERE c.id IN :ids ORDER BY c.id")
                             .bindparams(bindparam("ids", expanding=True)), {"ids": ids}).all()
        return _embed(embedder, added, batch, dim)

    written = store.replace_vectors(embedder.model_id, dim, [r.id for r in rows], vectors,
                                    catch_up=catch_up)
    return written, time.perf_counter() - started
