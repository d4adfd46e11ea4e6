"""The knowledge base on PostgreSQL: BM25 over the chunk_terms postings, pgvector with HNSW.

Each chunk's keyword entries are rows of ``chunk_terms`` (one per stemmed term, with the
term frequency, the chunk's length and its access fields), so the keyword leg filters
while reading the covering index (migration 0004). Vectors are a pgvector column whose
dimension is fixed when the index is created, searched through an HNSW index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from charter.core.principal import Principal
from charter.knowledge.store import vector_literal
from charter.knowledge.store.base import BaseDocumentStore, _acl, _metadata, _where
from charter.store.db import Database

if TYPE_CHECKING:
    from charter.knowledge.search import SearchFilters


class PostgresDocumentStore(BaseDocumentStore):
    """Reads and writes the knowledge base tables on PostgreSQL."""

    dialect = "postgresql"  # the database backend name it serves

    KEYWORD_ENTRIES_SQL = "SELECT count(DISTINCT chunk_id) FROM chunk_terms"

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._stats: tuple[str, int, float] | None = None  # (generation, chunks, mean length)

    # -- writes --------------------------------------------------------------------

    def _create_vector_index(self, conn: Connection, dimension: int) -> None:
        """Fix the column's dimension (the table is empty here) and index it."""
        conn.execute(text(f"ALTER TABLE chunk_vectors ALTER COLUMN embedding TYPE "
                          f"vector({dimension})"))
        conn.execute(text(
            "CREATE INDEX IF NOT EXISTS ix_chunk_vectors_hnsw ON chunk_vectors USING hnsw "
            "(embedding vector_cosine_ops)"
        ))

    def _index_keywords(self, conn: Connection, chunk_id: int, body: str, level: int,
                        groups: str) -> None:
        # Postings carry the chunk's length and access fields, so the keyword leg
        # reads only the covering index (migration 0004).
        conn.execute(text(
            "WITH terms AS (SELECT lexeme, coalesce(array_length(positions, 1), 1) AS tf "
            "FROM unnest(to_tsvector('english', :body))), "
            "ins AS (INSERT INTO chunk_terms (chunk_id, term, tf, length, clearance_level, "
            "groups) SELECT :id, lexeme, tf, (SELECT coalesce(sum(tf), 0) FROM terms), "
            ":l, :g FROM terms RETURNING length) "
            "UPDATE chunks SET length = coalesce((SELECT max(length) FROM ins), 0) "
            "WHERE id = :id"),
            {"id": chunk_id, "body": body, "l": level, "g": groups})

    def _insert_vector(self, conn: Connection, chunk_id: int, vector: Sequence[float]) -> None:
        conn.execute(text("INSERT INTO chunk_vectors (chunk_id, embedding) VALUES "
                          "(:id, CAST(:v AS vector))"),
                     {"id": chunk_id, "v": vector_literal(vector)})

    def _delete_keywords(self, conn: Connection, doc_id: str) -> None:
        return None  # chunk_terms rows go with their chunks (ON DELETE CASCADE)

    def _update_keyword_access(self, conn: Connection, doc_id: str, level: int,
                               groups: str) -> None:
        conn.execute(text("UPDATE chunk_terms SET clearance_level = :l, groups = :g "
                          "WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = :id)"),
                     {"l": level, "g": groups, "id": doc_id})

    def _clear_vectors(self, conn: Connection) -> None:
        # TRUNCATE, not DELETE: an index built later in this transaction would still
        # see the deleted rows (of the old dimension) and fail on them.
        conn.execute(text("DROP INDEX IF EXISTS ix_chunk_vectors_hnsw"))
        conn.execute(text("TRUNCATE chunk_vectors"))
        conn.execute(text("ALTER TABLE chunk_vectors ALTER COLUMN embedding TYPE vector"))

    def refresh_statistics(self) -> None:
        """Refresh planner statistics and the visibility map after a large write (VACUUM
        ANALYZE): index-only scans of the keyword postings need the latter."""
        with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) chunk_terms, chunks, chunk_vectors"))

    # -- search legs ---------------------------------------------------------------

    def keyword(self, principal: Principal, terms: Sequence[str], depth: int,
                filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """BM25 (k1 = 1.2, b = 0.75) over the chunk_terms postings.

        Each posting carries its chunk's length and access fields, so the access filter is
        applied while reading the covering index; only metadata filters join chunks. The
        chunk count and mean length are read once per index generation.
        """
        with self.db.connect() as conn:
            n, avgdl = self._corpus_stats(conn)
            # Stem the query and count each term's postings first: with the terms as a
            # literal array the planner sees how few there are and reads the postings index
            # per term (a single statement let it guess thousands and scan the whole table).
            # df counts every posting of the term, as BM25's idf does, not only the visible ones.
            dfs = conn.execute(text(
                "SELECT term, count(*) AS df FROM chunk_terms WHERE term = "
                "ANY(tsvector_to_array(to_tsvector('english', :q))) GROUP BY term"),
                {"q": " ".join(terms)}).all()
            if not dfs:
                return []
            acl, params = _acl(principal, "t")
            meta, meta_params = _metadata(filters, "c")
            # BM25 with k1 = 1.2, b = 0.75: idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl));
            # the constant factor (k1 + 1) is folded into idf, which does not change the ranking.
            params.update(meta_params, depth=depth, k_norm=1.2 * 0.25, k_len=1.2 * 0.75 / avgdl,
                          terms=[r.term for r in dfs],
                          idfs=[2.2 * math.log(1 + (n - r.df + 0.5) / (r.df + 0.5)) for r in dfs])
            join = ""
            if meta:
                join = " JOIN chunks c ON c.id = p.chunk_id WHERE " + " AND ".join(meta)
            rows = conn.execute(text(
                # All float8 arithmetic (a bare 0.75 * length would be numeric, several times slower).
                "SELECT p.chunk_id AS id, sum(p.idf * p.tf / (p.tf + :k_norm + p.length * :k_len)) AS s "
                "FROM unnest(CAST(:terms AS text[]), CAST(:idfs AS float8[])) AS q(term, idf) "
                "CROSS JOIN LATERAL (SELECT t.chunk_id, t.tf, t.length, q.idf FROM chunk_terms t "
                "WHERE t.term = q.term AND " + " AND ".join(acl) + ") p" + join +
                " GROUP BY p.chunk_id ORDER BY s DESC, p.chunk_id LIMIT :depth"), params)
            return [(r.id, float(r.s)) for r in rows]

    def _corpus_stats(self, conn: Connection) -> tuple[int, float]:
        key = self.generation(conn)
        if self._stats is None or self._stats[0] != key:
            n, total = conn.execute(text("SELECT count(*), coalesce(sum(length), 0) FROM chunks")).one()
            self._stats = (key, int(n), max(float(total) / max(int(n), 1), 1.0))
        return self._stats[1], self._stats[2]

    def dense(self, principal: Principal, vector: Sequence[float], depth: int,
              filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """pgvector's cosine distance through the HNSW index, as a similarity."""
        dim = self.dimension()
        if not dim:
            return []
        where, params = _where(principal, filters)
        params["depth"] = depth
        with self.db.connect() as conn:
            # HNSW returns at most ef_search rows before the access filter; ask for enough.
            conn.execute(text(f"SET LOCAL hnsw.ef_search = {max(40, min(int(depth) * 2, 1000))}"))
            params["v"] = vector_literal(vector)
            rows = conn.execute(text(
                f"SELECT c.id, (v.embedding <=> CAST(:v AS vector({dim}))) AS d "
                "FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id WHERE " + where +
                " ORDER BY d LIMIT :depth"), params)
            return [(r.id, 1.0 - float(r.d)) for r in rows]
