"""The knowledge base on SQLite: an FTS5 keyword index and exact in-process vector search.

Keyword entries live in the ``chunks_fts`` FTS5 table (rowid = chunk id) and are ranked by
FTS5's own BM25. Vectors are float32 blobs in ``chunk_vectors``, searched exactly over an
in-process copy (``_sqlite_vectors``) that reloads whenever the index generation moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Connection, text

from charter.core.principal import Principal
from charter.knowledge.store import _sqlite_vectors
from charter.knowledge.store.base import BaseDocumentStore, _sees_everything, _where

if TYPE_CHECKING:
    from charter.knowledge.search import SearchFilters


class SQLiteDocumentStore(BaseDocumentStore):
    """Reads and writes the knowledge base tables on SQLite."""

    dialect = "sqlite"  # the database backend name it serves

    KEYWORD_ENTRIES_SQL = "SELECT count(*) FROM chunks_fts"

    # -- writes --------------------------------------------------------------------

    def _create_vector_index(self, conn: Connection, dimension: int) -> None:
        return None  # blobs of any length; the search is exact, over no index

    def _index_keywords(self, conn: Connection, chunk_id: int, body: str, level: int,
                        groups: str) -> None:
        conn.execute(text("INSERT INTO chunks_fts (rowid, body) VALUES (:id, :body)"),
                     {"id": chunk_id, "body": body})

    def _insert_vector(self, conn: Connection, chunk_id: int, vector: Sequence[float]) -> None:
        conn.execute(text("INSERT INTO chunk_vectors (chunk_id, embedding) VALUES (:id, :v)"),
                     {"id": chunk_id, "v": np.asarray(vector, dtype=np.float32).tobytes()})

    def _delete_keywords(self, conn: Connection, doc_id: str) -> None:
        conn.execute(text("DELETE FROM chunks_fts WHERE rowid IN "
                          "(SELECT id FROM chunks WHERE document_id = :d)"), {"d": doc_id})

    def _update_keyword_access(self, conn: Connection, doc_id: str, level: int,
                               groups: str) -> None:
        return None  # the keyword leg joins chunks for the access fields

    def _clear_vectors(self, conn: Connection) -> None:
        conn.execute(text("DELETE FROM chunk_vectors"))

    def refresh_statistics(self) -> None:
        """Refresh planner statistics after a large write (PRAGMA optimize)."""
        with self.db.connect() as conn:
            conn.execute(text("PRAGMA optimize"))

    # -- search legs ---------------------------------------------------------------

    def keyword(self, principal: Principal, terms: Sequence[str], depth: int,
                filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """FTS5's BM25, negated so that higher is better."""
        with self.db.connect() as conn:
            where, params = _where(principal, filters)
            params["depth"] = depth
            params["q"] = " OR ".join(f'"{t}"' for t in terms)
            if _sees_everything(principal, filters):
                # Nothing to filter: FTS5's own top-k path, without the join (about 3 ms less
                # on SciFact). Every other principal takes the filtered query below.
                rows = conn.execute(text(
                    "SELECT rowid AS id, rank AS s FROM chunks_fts WHERE chunks_fts MATCH :q "
                    "ORDER BY rank LIMIT :depth"), {"q": params["q"], "depth": depth})
                return [(r.id, -float(r.s)) for r in rows]
            rows = conn.execute(text(
                "SELECT c.id, bm25(chunks_fts) AS s FROM chunks_fts JOIN chunks c ON "
                "c.id = chunks_fts.rowid WHERE chunks_fts MATCH :q AND " + where +
                " ORDER BY s, c.id LIMIT :depth"), params)
            return [(r.id, -float(r.s)) for r in rows]

    def dense(self, principal: Principal, vector: Sequence[float], depth: int,
              filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Exact cosine search over the in-process copy of the vectors."""
        if not self.dimension():
            return []
        return _sqlite_vectors.search(self.db, self.generation(), principal, vector, depth,
                                      filters)
