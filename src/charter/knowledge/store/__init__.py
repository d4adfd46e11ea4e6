"""The knowledge base tables: documents, chunks, keyword index and vectors, kept in step.

Callers use the ``DocumentStore`` protocol and get an implementation from
``open_store(db)``: ``SQLiteDocumentStore`` (FTS5 keyword leg, exact in-process vector
search) or ``PostgresDocumentStore`` (BM25 over the chunk_terms postings, pgvector with an
HNSW index). The SQL both databases share is in ``base.py``; every difference between
them lives in ``sqlite.py`` and ``postgres.py``.

Every write goes through ``write_documents``: a batch of documents with their chunks,
keyword entries and vectors lands in one transaction, and a changed document's old
chunks are replaced in that same transaction, so readers see the old version or the
new one, never a mix, and a crash leaves the previous state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from charter.core.chat import PassageCheck
from charter.core.errors import ConfigError, InvalidInputError, StorageError
from charter.core.principal import CLEARANCE_LEVELS, Principal
from charter.knowledge.chunking import Chunk
from charter.store.db import Database

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from charter.knowledge.search import SearchFilters

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
    # One injection verdict per chunk, stored beside it in the same transaction (none:
    # the chunks are screened when they are retrieved, until `kb rescreen`).
    checks: Sequence[PassageCheck] | None = None


def index_body(title: str, chunk: Chunk) -> str:
    """What the keyword and vector legs see: the chunk with its document title and headings."""
    head = " > ".join(x for x in (title, chunk.heading) if x)
    return f"{head}\n{chunk.text}" if head else chunk.text


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


@runtime_checkable
class DocumentStore(Protocol):
    """Reads and writes the knowledge base tables of one database."""

    # -- index metadata --------------------------------------------------------------

    def index_info(self) -> tuple[str, int] | None:
        """(embedding model, dimension) of the index, None before the first ingest."""
        ...

    def ensure_index(self, model_id: str, dimension: int) -> None:
        """Record the embedder on first use; ``IndexMismatchError`` for a different one."""
        ...

    def generation(self, conn: Connection | None = None) -> str:
        """Changes with every write to chunks or their access fields (and with a new index);
        read on ``conn`` when given."""
        ...

    def dimension(self) -> int:
        """The index's vector dimension, 0 before the first ingest."""
        ...

    # -- documents -------------------------------------------------------------------

    def find(self, uri: str) -> DocumentRecord | None:
        """The document stored under ``uri``, or None."""
        ...

    def get(self, key: str) -> DocumentRecord:
        """The document with this id or uri; ``NotFoundError`` if there is none."""
        ...

    def list(self, source: str | None = None, prefix: str | None = None) -> list[DocumentRecord]:
        """Documents by uri, optionally of one source and/or under a uri prefix."""
        ...

    def chunks_of(self, document_id: str) -> list[dict[str, Any]]:
        """A document's chunks in order, with their location fields."""
        ...

    def counts(self) -> dict[str, int]:
        """Rows in documents, chunks, chunk_vectors, and chunks with keyword entries."""
        ...

    # -- writes ----------------------------------------------------------------------

    def write_documents(self, items: Sequence[DocumentWrite],
                        remove: Sequence[str] = ()) -> list[DocumentRecord]:
        """Insert or replace documents with their chunks, keyword entries and vectors,
        and delete the documents ``remove`` names, all in one transaction."""
        ...

    def refresh_statistics(self) -> None:
        """Refresh planner statistics after a large write."""
        ...

    def update_access(self, doc_id: str, classification: str, groups: Sequence[str],
                      tags: Sequence[str]) -> None:
        """Change a document's classification, groups and tags without re-embedding it."""
        ...

    def remove(self, doc_ids: Sequence[str]) -> int:
        """Delete documents with their chunks, keyword entries and vectors."""
        ...

    def replace_vectors(self, model_id: str, dimension: int, chunk_ids: Sequence[int],
                        vectors: np.ndarray,
                        catch_up: Callable[[Connection, list[int]], np.ndarray] | None = None
                        ) -> int:
        """Replace every chunk's vector and the index record (a new embedding model), in
        one transaction; readers see the old index until it commits. Chunks written since
        ``chunk_ids`` were read are embedded by ``catch_up`` in that transaction; returns
        the number of vectors written."""
        ...

    # -- passage verdicts ------------------------------------------------------------

    def unchecked(self, detector: str, after: int, limit: int) -> list[tuple[int, str]]:
        """(chunk id, text) of up to ``limit`` chunks past id ``after``, in id order, with
        no injection verdict from ``detector``."""
        ...

    def store_checks(self, checks: Sequence[tuple[int, str, PassageCheck]]) -> int:
        """Store (or replace) chunks' injection verdicts, each given with the text it was
        made on; a chunk whose text is no longer that (removed, or its id reused) takes
        none. Returns how many were stored."""
        ...

    def check_counts(self, detector: str) -> dict[str, int]:
        """Chunks with a verdict from ``detector`` (``current``), of which ``flagged``,
        and chunks with none or another version's (``stale``)."""
        ...

    # -- search legs -----------------------------------------------------------------

    def keyword(self, principal: Principal, terms: Sequence[str], depth: int,
                filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """(chunk id, score) best first, higher is better, among the chunks the principal
        may see; ``terms`` are the query's keyword terms (never empty)."""
        ...

    def dense(self, principal: Principal, vector: Sequence[float], depth: int,
              filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) best first, among the chunks the principal may see."""
        ...


# The implementations import the types above from this package, so they come last.
from charter.knowledge.store.postgres import PostgresDocumentStore  # noqa: E402
from charter.knowledge.store.sqlite import SQLiteDocumentStore  # noqa: E402

STORES: dict[str, Callable[[Database], DocumentStore]] = {
    cls.dialect: cls for cls in (SQLiteDocumentStore, PostgresDocumentStore)}


def open_store(db: Database) -> DocumentStore:
    """The knowledge base store for ``db``'s database."""
    try:
        implementation = STORES[db.dialect]
    except KeyError:
        raise ConfigError(
            f"the knowledge base does not support database {db.dialect!r}; use SQLite "
            "(sqlite:///path) or PostgreSQL (postgresql+psycopg://...)"
        ) from None
    return implementation(db)


__all__ = [
    "DocumentRecord", "DocumentStore", "DocumentWrite", "IndexMismatchError",
    "PostgresDocumentStore", "SQLiteDocumentStore", "STORES", "clearance_level",
    "decode_names", "encode_names", "index_body", "open_store", "vector_literal",
]
