"""The knowledge base tables: documents, chunks, keyword index and vectors, kept in step.

Every write goes through ``write_documents``: a batch of documents with their chunks,
keyword entries and vectors lands in one transaction, and a changed document's old
chunks are replaced in that same transaction, so readers see the old version or the
new one, never a mix, and a crash leaves the previous state.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from charter.core.principal import CLEARANCE_LEVELS
from charter.core.errors import InvalidInputError, NotFoundError, StorageError
from charter.knowledge.chunking import Chunk
from charter.store.db import Database, utcnow

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


class IndexMismatchError(StorageError):
    """The configured embedder differs from the one the index was built with."""

    status = 409
    code = "index_mismatch"
    exit_code = 2


def encode_names(names: Sequence[str], what: str) -> str:
    """``["hr", "legal"]`` -> ``"|hr|legal|"``: one text column that both databases filter."""
    clean = sorted({n.strip().lower() for n in names if n.strip()})
    for n in clean:
        if not set(n) <= _NAME_CHARS or len(n) > 60:
            raise InvalidInputError(
                f"invalid {what} name {n!r}: use letters, digits, '-', '_' or '.'"
            )
    return "|" + "|".join(clean) + "|" if clean else ""


def decode_names(value: str) -> list[str]:
    return [n for n in value.split("|") if n]


def clearance_level(classification: str) -> int:
    if classification not in CLEARANCE_LEVELS:
        raise InvalidInputError(
            f"unknown classification {classification!r}; use one of "
            + ", ".join(CLEARANCE_LEVELS)
        )
    return CLEARANCE_LEVELS.index(classification)


@dataclass(frozen=True)
class DocumentRecord:
    id: str
    uri: str
    source: str
    title: str
    content_hash: str
    version: int
    classification: str
    groups: list[str]
    tags: list[str]
    metadata: dict[str, Any]
    loader: str
    chars: int
    chunk_count: int
    created_at: str
    updated_at: str


@dataclass
class DocumentWrite:
    """A document to store, with its chunks and one vector per chunk."""

    uri: str
    source: str
    title: str
    content_hash: str
    classification: str
    groups: Sequence[str]
    tags: Sequence[str]
    loader: str
    chars: int
    chunks: list[Chunk]
    vectors: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)


def _doc(row: Any) -> DocumentRecord:
    return DocumentRecord(
        id=row.id, uri=row.uri, source=row.source, title=row.title,
        content_hash=row.content_hash, version=row.version, classification=row.classification,
        groups=decode_names(row.groups), tags=decode_names(row.tags),
        metadata=json.loads(row.metadata), loader=row.loader, chars=row.chars,
        chunk_count=row.chunk_count, created_at=row.created_at, updated_at=row.updated_at,
    )


def index_body(title: str, chunk: Chunk) -> str:
    """What the keyword and vector legs see: the chunk with its document title and headings."""
    head = " > ".join(x for x in (title, chunk.heading) if x)
    return f"{head}\n{chunk.text}" if head else chunk.text


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


class KnowledgeStore:
    """Reads and writes the knowledge base tables on SQLite or PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pg = db.dialect == "postgresql"

    # -- index metadata ------------------------------------------------------------

    def index_info(self) -> tuple[str, int] | None:
        """(embedding model, dimension) of the index, None before the first ingest; read on
        every grounded request, so through the shared read cache."""
        def load() -> tuple[str, int] | None:
            with self.db.connect() as conn:
                row = conn.execute(text(
                    "SELECT embedding_model, dimension FROM kb_index WHERE id = 1")).first()
            return (row.embedding_model, row.dimension) if row else None

        return self.db.cache.get(("kb_index",), load)

    def ensure_index(self, model_id: str, dimension: int) -> None:
        """Record the embedder on first use; refuse a different one afterwards."""
        info = self.index_info()
        if info is None:
            with self.db.transaction(exclusive=True) as conn:
                if conn.execute(text("SELECT 1 FROM kb_index WHERE id = 1")).first() is None:
                    conn.execute(text("INSERT INTO kb_index (id, embedding_model, dimension, created_at) "
                                      "VALUES (1, :m, :d, :t)"), {"m": model_id, "d": dimension, "t": utcnow()})
                    self._create_vector_index(conn, dimension)
            self.db.cache.invalidate("kb_index")
            info = self.index_info()
        assert info is not None
        if info != (model_id, dimension):
            raise IndexMismatchError(
                f"the knowledge base index was built with {info[0]} ({info[1]} dimensions) but "
                f"the embedding alias now gives {model_id} ({dimension} dimensions); run "
                "`charter kb reindex` to re-embed every document with the new model"
            )

    def _create_vector_index(self, conn: Connection, dimension: int) -> None:
        """On PostgreSQL, fix the column's dimension (the table is empty here) and index it."""
        if self.pg:
            conn.execute(text(f"ALTER TABLE chunk_vectors ALTER COLUMN embedding TYPE "
                              f"vector({dimension})"))
            conn.execute(text(
                "CREATE INDEX IF NOT EXISTS ix_chunk_vectors_hnsw ON chunk_vectors USING hnsw "
                "(embedding vector_cosine_ops)"
            ))

    def generation(self) -> str:
        """Changes with every write to chunks or their access fields (and with a new index)."""
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT generation, created_at FROM kb_index WHERE id = 1")).first()
        return f"{row.created_at}#{row.generation}" if row else ""

    @staticmethod
    def _bump(conn: Connection) -> None:
        conn.execute(text("UPDATE kb_index SET generation = generation + 1 WHERE id = 1"))

    def dimension(self) -> int:
        info = self.index_info()
        return info[1] if info else 0

    # -- documents -----------------------------------------------------------------

    def find(self, uri: str) -> DocumentRecord | None:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT * FROM documents WHERE uri = :u"), {"u": uri}).first()
        return _doc(row) if row else None

    def get(self, key: str) -> DocumentRecord:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT * FROM documents WHERE id = :k OR uri = :k"),
                               {"k": key}).first()
        if row is None:
            raise NotFoundError(f"no document with id or path {key!r}; see `charter kb list`")
        return _doc(row)

    def list(self, source: str | None = None, prefix: str | None = None) -> list[DocumentRecord]:
        sql = "SELECT * FROM documents"
        params: dict[str, Any] = {}
        where = []
        if source is not None:
            where.append("source = :s")
            params["s"] = source
        if prefix is not None:
            where.append("uri LIKE :p")
            params["p"] = prefix.replace("%", r"\%").replace("_", r"\_") + "%"
        if where:
            sql += " WHERE " + " AND ".join(where) + (" ESCAPE '\\'" if prefix is not None else "")
        with self.db.connect() as conn:
            return [_doc(r) for r in conn.execute(text(sql + " ORDER BY uri"), params)]

    def chunks_of(self, document_id: str) -> list[dict[str, Any]]:
        with self.db.connect() as conn:
            rows = conn.execute(text(
                "SELECT uid, ordinal, text, heading, page, char_start, char_end FROM chunks "
                "WHERE document_id = :d ORDER BY ordinal"), {"d": document_id})
            return [dict(r._mapping) for r in rows]

    def counts(self) -> dict[str, int]:
        with self.db.connect() as conn:
            out = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                   for t in ("documents", "chunks", "chunk_vectors")}
            if not self.pg:
                out["keyword_entries"] = conn.execute(text("SELECT count(*) FROM chunks_fts")).scalar_one()
            else:
                out["keyword_entries"] = conn.execute(
                    text("SELECT count(DISTINCT chunk_id) FROM chunk_terms")).scalar_one()
        return out

    # -- writes --------------------------------------------------------------------

    def write_documents(self, items: Sequence[DocumentWrite]) -> list[DocumentRecord]:
        """Insert or replace documents with their chunks, keyword entries and vectors,
        all in one transaction."""
        now = utcnow()
        written: list[str] = []
        with self.db.transaction(exclusive=True) as conn:
            for item in items:
                if len(item.vectors) != len(item.chunks):
                    raise StorageError(f"{item.uri}: {len(item.chunks)} chunks but "
                                       f"{len(item.vectors)} vectors")
                level = clearance_level(item.classification)
                groups = encode_names(item.groups, "group")
                tags = encode_names(item.tags, "tag")
                existing = conn.execute(text("SELECT id, version FROM documents WHERE uri = :u"),
                                        {"u": item.uri}).first()
                values = {
                    "uri": item.uri, "source": item.source, "title": item.title,
                    "h": item.content_hash, "c": item.classification, "l": level, "g": groups,
                    "t": tags, "m": json.dumps(item.metadata, sort_keys=True, default=str),
                    "loader": item.loader, "chars": item.chars, "n": len(item.chunks), "now": now,
                }
                if existing is None:
                    doc_id, version = uuid.uuid4().hex, 1
                    conn.execute(text(
                        "INSERT INTO documents (id, uri, source, title, content_hash, version, "
                        "classification, clearance_level, groups, tags, metadata, loader, chars, "
                        "chunk_count, created_at, updated_at) VALUES (:id, :uri, :source, :title, "
                        ":h, 1, :c, :l, :g, :t, :m, :loader, :chars, :n, :now, :now)"),
                        {"id": doc_id, **values})
                else:
                    doc_id, version = existing.id, existing.version + 1
                    self._delete_chunks(conn, doc_id)
                    conn.execute(text(
                        "UPDATE documents SET source = :source, title = :title, content_hash = :h, "
                        "version = :v, classification = :c, clearance_level = :l, groups = :g, "
                        "tags = :t, metadata = :m, loader = :loader, chars = :chars, "
                        "chunk_count = :n, updated_at = :now WHERE id = :id"),
                        {"id": doc_id, "v": version, **values})
                self._insert_chunks(conn, doc_id, version, item, level, groups, tags, now)
                written.append(doc_id)
            self._bump(conn)
        return [self.get(d) for d in written]

    def _insert_chunks(self, conn: Connection, doc_id: str, version: int, item: DocumentWrite,
                       level: int, groups: str, tags: str, now: str) -> None:
        for chunk, vector in zip(item.chunks, item.vectors, strict=True):
            params = {
                "uid": f"{doc_id}:{version}:{chunk.ordinal}", "d": doc_id, "o": chunk.ordinal,
                "text": chunk.text, "heading": chunk.heading, "page": chunk.page,
                "s": chunk.start, "e": chunk.end, "l": level, "g": groups, "src": item.source,
                "tags": tags, "now": now, "body": index_body(item.title, chunk),
            }
            columns = ("uid, document_id, ordinal, text, heading, page, char_start, char_end, "
                       "clearance_level, groups, source, tags, updated_at")
            values = ":uid, :d, :o, :text, :heading, :page, :s, :e, :l, :g, :src, :tags, :now"
            if self.pg:
                chunk_id = conn.execute(text(
                    f"INSERT INTO chunks ({columns}) VALUES ({values}) RETURNING id"),
                    params).scalar_one()
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
                    {"id": chunk_id, "body": params["body"], "l": level, "g": groups})
                conn.execute(text("INSERT INTO chunk_vectors (chunk_id, embedding) VALUES "
                                  "(:id, CAST(:v AS vector))"),
                             {"id": chunk_id, "v": vector_literal(vector)})
            else:
                chunk_id = conn.execute(text(
                    f"INSERT INTO chunks ({columns}) VALUES ({values}) RETURNING id"),
                    params).scalar_one()
                conn.execute(text("INSERT INTO chunks_fts (rowid, body) VALUES (:id, :body)"),
                             {"id": chunk_id, "body": params["body"]})
                conn.execute(text("INSERT INTO chunk_vectors (chunk_id, embedding) VALUES (:id, :v)"),
                             {"id": chunk_id,
                              "v": np.asarray(vector, dtype=np.float32).tobytes()})

    def _delete_chunks(self, conn: Connection, doc_id: str) -> None:
        if not self.pg:
            conn.execute(text("DELETE FROM chunks_fts WHERE rowid IN "
                              "(SELECT id FROM chunks WHERE document_id = :d)"), {"d": doc_id})
        conn.execute(text("DELETE FROM chunk_vectors WHERE chunk_id IN "
                          "(SELECT id FROM chunks WHERE document_id = :d)"), {"d": doc_id})
        conn.execute(text("DELETE FROM chunks WHERE document_id = :d"), {"d": doc_id})

    def refresh_statistics(self) -> None:
        """Refresh planner statistics after a large write (VACUUM ANALYZE / PRAGMA optimize)."""
        if self.pg:
            with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM (ANALYZE) chunk_terms, chunks, chunk_vectors"))
        else:
            with self.db.connect() as conn:
                conn.execute(text("PRAGMA optimize"))

    def update_access(self, doc_id: str, classification: str, groups: Sequence[str],
                      tags: Sequence[str]) -> None:
        """Change a document's classification, groups and tags without re-embedding it."""
        level = clearance_level(classification)
        g, t = encode_names(groups, "group"), encode_names(tags, "tag")
        now = utcnow()
        with self.db.transaction(exclusive=True) as conn:
            conn.execute(text("UPDATE documents SET classification = :c, clearance_level = :l, "
                              "groups = :g, tags = :t, updated_at = :now WHERE id = :id"),
                         {"c": classification, "l": level, "g": g, "t": t, "now": now, "id": doc_id})
            conn.execute(text("UPDATE chunks SET clearance_level = :l, groups = :g, tags = :t, "
                              "updated_at = :now WHERE document_id = :id"),
                         {"l": level, "g": g, "t": t, "now": now, "id": doc_id})
            if self.pg:
                conn.execute(text("UPDATE chunk_terms SET clearance_level = :l, groups = :g "
                                  "WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = :id)"),
                             {"l": level, "g": g, "id": doc_id})
            self._bump(conn)

    def remove(self, doc_ids: Sequence[str]) -> int:
        with self.db.transaction(exclusive=True) as conn:
            for doc_id in doc_ids:
                self._delete_chunks(conn, doc_id)
                conn.execute(text("DELETE FROM documents WHERE id = :d"), {"d": doc_id})
            self._bump(conn)
        return len(doc_ids)
