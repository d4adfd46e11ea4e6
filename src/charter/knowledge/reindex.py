"""Re-embedding every chunk with a new embedding model, in one transaction."""

from __future__ import annotations

import time

import numpy as np
from sqlalchemy import text

from charter.backends.base import Embedder
from charter.knowledge.store import KnowledgeStore, vector_literal
from charter.store.db import Database, utcnow


def reindex(db: Database, embedder: Embedder, batch: int = 256) -> tuple[int, float]:
    """Replace all vectors and the index record; readers see the old index until commit."""
    started = time.perf_counter()
    store = KnowledgeStore(db)
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
    with db.connect() as conn:
        generation = conn.execute(text("SELECT generation FROM kb_index WHERE id = 1")).scalar() or 0
    with db.transaction(exclusive=True) as conn:
        if store.pg:
            # TRUNCATE, not DELETE: an index built later in this transaction would still
            # see the deleted rows (of the old dimension) and fail on them.
            conn.execute(text("DROP INDEX IF EXISTS ix_chunk_vectors_hnsw"))
            conn.execute(text("TRUNCATE chunk_vectors"))
            conn.execute(text("ALTER TABLE chunk_vectors ALTER COLUMN embedding TYPE vector"))
        else:
            conn.execute(text("DELETE FROM chunk_vectors"))
        conn.execute(text("DELETE FROM kb_index"))
        conn.execute(text("INSERT INTO kb_index (id, embedding_model, dimension, generation, "
                          "created_at) VALUES (1, :m, :d, :g, :t)"),
                     {"m": embedder.model_id, "d": dim, "g": generation + 1, "t": utcnow()})
        store._create_vector_index(conn, dim)
        flat = np.concatenate(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
        for row, vec in zip(rows, flat, strict=True):
            if store.pg:
                conn.execute(text("INSERT INTO chunk_vectors (chunk_id, embedding) VALUES "
                                  "(:i, CAST(:v AS vector))"), {"i": row.id, "v": vector_literal(vec)})
            else:
                conn.execute(text("INSERT INTO chunk_vectors (chunk_id, embedding) VALUES (:i, :v)"),
                             {"i": row.id, "v": vec.tobytes()})
    db.cache.invalidate("kb_index")
    return len(rows), time.perf_counter() - started
