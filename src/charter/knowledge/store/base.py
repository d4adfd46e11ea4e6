"""The knowledge base SQL that SQLite and PostgreSQL share, and the access-filter clauses.

``BaseDocumentStore`` holds every read and write whose SQL is the same on both
databases; where the two differ (the keyword index, the vector column and index,
planner statistics, the search legs) it calls a hook that ``SQLiteDocumentStore`` and
``PostgresDocumentStore`` implement.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, bindparam, text

from charter.core.chat import PassageCheck
from charter.core.errors import NotFoundError, StorageError
from charter.core.principal import CLEARANCE_LEVELS, Principal
from charter.knowledge.store import (
    DocumentRecord,
    DocumentWrite,
    IndexMismatchError,
    clearance_level,
    decode_names,
    encode_names,
    index_body,
)
from charter.store.db import Database, utcnow

if TYPE_CHECKING:
    from charter.knowledge.search import SearchFilters

ALL_GROUPS = "*"


def _doc(row: Any) -> DocumentRecord:
    return DocumentRecord(
        id=row.id, uri=row.uri, source=row.source, title=row.title,
        content_hash=row.content_hash, version=row.version, classification=row.classification,
        groups=decode_names(row.groups), tags=decode_names(row.tags),
        metadata=json.loads(row.metadata), loader=row.loader, chars=row.chars,
        chunk_count=row.chunk_count, created_at=row.created_at, updated_at=row.updated_at,
    )


# -- access and metadata filters, as SQL -------------------------------------------------


def member_pattern(name: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) matching ``|name|`` exactly inside an encoded
    list: ``_`` and ``%`` in a name are literal characters, not wildcards."""
    escaped = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%|{escaped}|%"


def _acl(principal: Principal, alias: str = "c") -> tuple[list[str], dict[str, Any]]:
    """SQL clauses for what the principal may see, on a table with ``clearance_level`` and
    ``groups`` columns (chunks, or PostgreSQL's postings)."""
    level = CLEARANCE_LEVELS.index(principal.clearance)
    clauses = [f"{alias}.clearance_level <= :acl_level"]
    params: dict[str, Any] = {"acl_level": level}
    if ALL_GROUPS not in principal.groups:
        group_terms = [f"{alias}.groups = ''"]
        for i, group in enumerate(sorted(principal.groups)):
            group_terms.append(f"{alias}.groups LIKE :acl_g{i} ESCAPE '\\'")
            params[f"acl_g{i}"] = member_pattern(group)
        clauses.append("(" + " OR ".join(group_terms) + ")")
    return clauses, params


def _metadata(filters: SearchFilters | None, alias: str = "c") -> tuple[list[str], dict[str, Any]]:
    """SQL clauses for the metadata filters, on chunks."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if filters:
        if filters.sources:
            names = []
            for i, src in enumerate(filters.sources):
                names.append(f":f_src{i}")
                params[f"f_src{i}"] = src
            clauses.append(f"{alias}.source IN ({', '.join(names)})")
        if filters.tags:
            tag_terms = []
            for i, tag in enumerate(filters.tags):
                tag_terms.append(f"{alias}.tags LIKE :f_tag{i} ESCAPE '\\'")
                params[f"f_tag{i}"] = member_pattern(tag)
            clauses.append("(" + " OR ".join(tag_terms) + ")")
        if filters.updated_after:
            clauses.append(f"{alias}.updated_at >= :f_after")
            params["f_after"] = filters.updated_after
        if filters.updated_before:
            clauses.append(f"{alias}.updated_at < :f_before")
            params["f_before"] = filters.updated_before
    return clauses, params


def _where(principal: Principal, filters: SearchFilters | None) -> tuple[str, dict[str, Any]]:
    """SQL for what the principal may see, plus the metadata filters, on table alias ``c``."""
    acl, params = _acl(principal)
    meta, meta_params = _metadata(filters)
    return " AND ".join(acl + meta), {**params, **meta_params}


def _sees_everything(principal: Principal, filters: SearchFilters | None) -> bool:
    """True when the access filter and the metadata filters admit every chunk."""
    no_filters = filters is None or not (filters.sources or filters.tags or filters.updated_after
                                         or filters.updated_before)
    return (no_filters and ALL_GROUPS in principal.groups
            and principal.clearance == CLEARANCE_LEVELS[-1])


class BaseDocumentStore:
    """The shared SQL of the knowledge base tables; subclasses fill in the hooks below."""

    # Counts the chunks that have keyword entries (``counts()["keyword_entries"]``).
    KEYWORD_ENTRIES_SQL: str

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- hooks: what differs per database ------------------------------------------

    def _create_vector_index(self, conn: Connection, dimension: int) -> None:
        """Prepare the vector column and its index for ``dimension`` (the table is empty)."""
        raise NotImplementedError

    def _index_keywords(self, conn: Connection, chunk_id: int, body: str, level: int,
                        groups: str) -> None:
        """Add a new chunk's keyword entries for ``body``."""
        raise NotImplementedError

    def _insert_vector(self, conn: Connection, chunk_id: int, vector: Sequence[float]) -> None:
        raise NotImplementedError

    def _delete_keywords(self, conn: Connection, doc_id: str) -> None:
        """Delete a document's keyword entries that deleting its chunks does not."""
        raise NotImplementedError

    def _update_keyword_access(self, conn: Connection, doc_id: str, level: int,
                               groups: str) -> None:
        """Copy a document's new access fields to keyword entries that carry them."""
        raise NotImplementedError

    def _clear_vectors(self, conn: Connection) -> None:
        """Delete every vector (and the vector index) before a reindex."""
        raise NotImplementedError

    def refresh_statistics(self) -> None:
        raise NotImplementedError

    def keyword(self, principal: Principal, terms: Sequence[str], depth: int,
                filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        raise NotImplementedError

    def dense(self, principal: Principal, vector: Sequence[float], depth: int,
              filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        raise NotImplementedError

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

    def generation(self, conn: Connection | None = None) -> str:
        """Changes with every write to chunks or their access fields (and with a new index).
        Read on ``conn`` when the caller holds one: a second connection taken while one is
        held can wait forever once every thread holds one and waits for another."""
        if conn is None:
            with self.db.connect() as own:
                return self.generation(own)
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
            out["keyword_entries"] = conn.execute(text(self.KEYWORD_ENTRIES_SQL)).scalar_one()
        return out

    # -- writes --------------------------------------------------------------------

    def write_documents(self, items: Sequence[DocumentWrite],
                        remove: Sequence[str] = ()) -> list[DocumentRecord]:
        """Insert or replace documents with their chunks, keyword entries and vectors,
        and delete the documents ``remove`` names, all in one transaction (the rows of
        one record file go together, so a crash leaves the file wholly old or new)."""
        now = utcnow()
        written: list[str] = []
        with self.db.transaction(exclusive=True) as conn:
            self.db.lock(conn, "kb_write")
            self._remove(conn, remove)
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
        columns = ("uid, document_id, ordinal, text, heading, page, char_start, char_end, "
                   "clearance_level, groups, source, tags, updated_at")
        values = ":uid, :d, :o, :text, :heading, :page, :s, :e, :l, :g, :src, :tags, :now"
        ids: list[int] = []
        for chunk, vector in zip(item.chunks, item.vectors, strict=True):
            params = {
                "uid": f"{doc_id}:{version}:{chunk.ordinal}", "d": doc_id, "o": chunk.ordinal,
                "text": chunk.text, "heading": chunk.heading, "page": chunk.page,
                "s": chunk.start, "e": chunk.end, "l": level, "g": groups, "src": item.source,
                "tags": tags, "now": now, "body": index_body(item.title, chunk),
            }
            chunk_id = conn.execute(text(
                f"INSERT INTO chunks ({columns}) VALUES ({values}) RETURNING id"),
                params).scalar_one()
            self._index_keywords(conn, chunk_id, params["body"], level, groups)
            self._insert_vector(conn, chunk_id, vector)
            ids.append(chunk_id)
        if item.checks is not None:
            if len(item.checks) != len(ids):
                raise StorageError(f"{item.uri}: {len(ids)} chunks but {len(item.checks)} "
                                   "injection verdicts")
            self._upsert_checks(conn, list(zip(ids, item.checks, strict=True)))

    def _delete_chunks(self, conn: Connection, doc_id: str) -> None:
        self._delete_keywords(conn, doc_id)
        conn.execute(text("DELETE FROM chunk_screens WHERE chunk_id IN "
                          "(SELECT id FROM chunks WHERE document_id = :d)"), {"d": doc_id})
        conn.execute(text("DELETE FROM chunk_vectors WHERE chunk_id IN "
                          "(SELECT id FROM chunks WHERE document_id = :d)"), {"d": doc_id})
        conn.execute(text("DELETE FROM chunks WHERE document_id = :d"), {"d": doc_id})

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
            self._update_keyword_access(conn, doc_id, level, g)
            self._bump(conn)

    def remove(self, doc_ids: Sequence[str]) -> int:
        with self.db.transaction(exclusive=True) as conn:
            self.db.lock(conn, "kb_write")
            self._remove(conn, doc_ids)
            self._bump(conn)
        return len(doc_ids)

    def _remove(self, conn: Connection, doc_ids: Sequence[str]) -> None:
        for doc_id in doc_ids:
            self._delete_chunks(conn, doc_id)
            conn.execute(text("DELETE FROM documents WHERE id = :d"), {"d": doc_id})

    # -- passage verdicts ------------------------------------------------------------

    def unchecked(self, detector: str, after: int, limit: int) -> list[tuple[int, str]]:
        with self.db.connect() as conn:
            rows = conn.execute(text(
                "SELECT c.id, c.text FROM chunks c LEFT JOIN chunk_screens s "
                "ON s.chunk_id = c.id WHERE c.id > :after AND (s.detector IS NULL OR "
                "s.detector != :v) ORDER BY c.id LIMIT :n"),
                {"after": after, "v": detector, "n": limit}).all()
        return [(r.id, r.text) for r in rows]

    def store_checks(self, checks: Sequence[tuple[int, str, PassageCheck]]) -> int:
        if not checks:
            return 0
        with self.db.transaction(exclusive=True) as conn:
            # Under the write lock no chunk changes between this read and the write. Only
            # chunks that still hold the text that was screened take a verdict: one removed
            # since it was read takes none, nor one written since under a reused id.
            self.db.lock(conn, "kb_write")
            now = {r.id: r.text for r in conn.execute(
                text("SELECT id, text FROM chunks WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)), {"ids": [c for c, _, _ in checks]})}
            kept = [(c, v) for c, screened, v in checks if now.get(c) == screened]
            self._upsert_checks(conn, kept)
        return len(kept)

    @staticmethod
    def _upsert_checks(conn: Connection, checks: Sequence[tuple[int, PassageCheck]]) -> None:
        if not checks:
            return
        conn.execute(text(
            "INSERT INTO chunk_screens (chunk_id, detector, flagged, score, evidence) "
            "VALUES (:c, :v, :f, :s, :e) ON CONFLICT (chunk_id) DO UPDATE SET "
            "detector = excluded.detector, flagged = excluded.flagged, "
            "score = excluded.score, evidence = excluded.evidence"),
            [{"c": c, "v": v.detector, "f": v.flagged, "s": v.score, "e": v.evidence[:500]}
             for c, v in checks])

    def check_counts(self, detector: str) -> dict[str, int]:
        with self.db.connect() as conn:
            row = conn.execute(text(
                "SELECT count(*) AS chunks, "
                "count(CASE WHEN s.detector = :v THEN 1 END) AS current, "
                "count(CASE WHEN s.detector = :v AND s.flagged THEN 1 END) AS flagged "
                "FROM chunks c LEFT JOIN chunk_screens s ON s.chunk_id = c.id"),
                {"v": detector}).one()
        return {"current": row.current, "flagged": row.flagged,
                "stale": row.chunks - row.current}

    def replace_vectors(self, model_id: str, dimension: int, chunk_ids: Sequence[int],
                        vectors: np.ndarray,
                        catch_up: Callable[[Connection, list[int]], np.ndarray] | None = None
                        ) -> int:
        """Replace all vectors and the index record; readers see the old index until commit.

        ``chunk_ids`` were embedded before this call; chunks written since (a sync running
        beside a reindex) are embedded by ``catch_up`` inside the transaction, and chunks
        removed since are skipped, so the new index holds exactly the chunks that exist.
        Returns the number of vectors written."""
        with self.db.connect() as conn:
            generation = conn.execute(text("SELECT generation FROM kb_index WHERE id = 1")).scalar() or 0
        with self.db.transaction(exclusive=True) as conn:
            self.db.lock(conn, "kb_write")
            existing = {int(r[0]) for r in conn.execute(text("SELECT id FROM chunks"))}
            given = dict(zip(chunk_ids, vectors, strict=True))
            missing = sorted(existing - given.keys())
            if missing:
                if catch_up is None:
                    raise StorageError(f"{len(missing)} chunks were written during the "
                                       "reindex; run it again")
                given.update(zip(missing, catch_up(conn, missing), strict=True))
            self._clear_vectors(conn)
            conn.execute(text("DELETE FROM kb_index"))
            conn.execute(text("INSERT INTO kb_index (id, embedding_model, dimension, generation, "
                              "created_at) VALUES (1, :m, :d, :g, :t)"),
                         {"m": model_id, "d": dimension, "g": generation + 1, "t": utcnow()})
            self._create_vector_index(conn, dimension)
            for chunk_id in sorted(existing):
                self._insert_vector(conn, chunk_id, given[chunk_id])
        self.db.cache.invalidate("kb_index")
        return len(existing)
