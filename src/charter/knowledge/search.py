"""Hybrid search: a keyword leg and a dense leg, both filtered to the asker's clearance.

The access filter (clearance level and groups) and the metadata filters are part of
each leg's SQL, so chunks the principal may not see are never scored, ranked, returned
or counted. The legs are fused by reciprocal rank (default) or by a convex combination
of min-max normalised scores; see docs/knowledge.md for the measurements behind the
default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, text

from charter.core.principal import CLEARANCE_LEVELS, Principal
from charter.backends.base import Embedder
from charter.core.errors import InvalidInputError
from charter.knowledge import vectors
from charter.knowledge.store import KnowledgeStore, decode_names, vector_literal
from charter.store.db import Database
from charter.core.text import STOPWORDS

Mode = Literal["hybrid", "bm25", "dense"]
Fusion = Literal["rrf", "convex"]
ALL_GROUPS = "*"


@dataclass(frozen=True)
class SearchFilters:
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    updated_after: str | None = None
    updated_before: str | None = None


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    uid: str
    document_id: str
    title: str
    uri: str
    text: str
    heading: str
    page: int | None
    start: int
    end: int
    score: float
    similarity: float | None = None  # cosine with the question, when the vector leg saw it

    @property
    def location(self) -> str:
        parts = [p for p in (self.heading, f"page {self.page}" if self.page else "") if p]
        parts.append(f"chars {self.start}-{self.end}")
        return ", ".join(parts)


def _acl(principal: Principal, alias: str = "c") -> tuple[list[str], dict[str, Any]]:
    """SQL clauses for what the principal may see, on a table with ``clearance_level`` and
    ``groups`` columns (chunks, or PostgreSQL's postings)."""
    level = CLEARANCE_LEVELS.index(principal.clearance)
    clauses = [f"{alias}.clearance_level <= :acl_level"]
    params: dict[str, Any] = {"acl_level": level}
    if ALL_GROUPS not in principal.groups:
        group_terms = [f"{alias}.groups = ''"]
        for i, group in enumerate(sorted(principal.groups)):
            group_terms.append(f"{alias}.groups LIKE :acl_g{i}")
            params[f"acl_g{i}"] = f"%|{group.lower()}|%"
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
                tag_terms.append(f"{alias}.tags LIKE :f_tag{i}")
                params[f"f_tag{i}"] = f"%|{tag.lower()}|%"
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


_TOKEN = re.compile(r"[A-Za-z0-9]+")


def keyword_terms(query: str) -> list[str]:
    seen: dict[str, None] = {}
    for tok in _TOKEN.findall(query):
        low = tok.lower()
        if low not in STOPWORDS and (len(low) > 1 or low.isdigit()):
            seen.setdefault(low, None)
    return list(seen)[:64]


class Searcher:
    """Runs the keyword and dense legs and fuses them."""

    def __init__(self, db: Database, embedder: Embedder, *, fusion: Fusion = "rrf",
                 alpha: float = 0.5, rrf_k: int = 60, depth: int = 100) -> None:
        if fusion not in ("rrf", "convex"):
            raise InvalidInputError(f"fusion must be rrf or convex, not {fusion!r}")
        self.db = db
        self.store = KnowledgeStore(db)
        self.embedder = embedder
        self.fusion = fusion
        self.alpha = alpha
        self.rrf_k = rrf_k
        self.depth = depth
        self._stats: tuple[str, int, float] | None = None  # (generation, chunks, mean length)

    # -- legs ------------------------------------------------------------------------

    def keyword(self, principal: Principal, query: str, depth: int,
                filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """(chunk id, score) best first; higher is better."""
        terms = keyword_terms(query)
        if not terms:
            return []
        with self.db.connect() as conn:
            if self.store.pg:
                return self._pg_keyword(conn, principal, terms, depth, filters)
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

    def _pg_keyword(self, conn: Connection, principal: Principal, terms: list[str], depth: int,
                    filters: SearchFilters | None) -> list[tuple[int, float]]:
        """BM25 (k1 = 1.2, b = 0.75) over the chunk_terms postings.

        Each posting carries its chunk's length and access fields, so the access filter is
        applied while reading the covering index; only metadata filters join chunks. The
        chunk count and mean length are read once per index generation.
        """
        n, avgdl = self._corpus_stats(conn)
        # Stem the query and count each term's postings first: with the terms as a literal
        # array the planner sees how few there are and reads the postings index per term
        # (a single statement let it guess thousands and scan the whole table).
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
        key = self.store.generation()
        if self._stats is None or self._stats[0] != key:
            n, total = conn.execute(text("SELECT count(*), coalesce(sum(length), 0) FROM chunks")).one()
            self._stats = (key, int(n), max(float(total) / max(int(n), 1), 1.0))
        return self._stats[1], self._stats[2]

    def dense(self, principal: Principal, vector: Sequence[float], depth: int,
              filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) best first."""
        dim = self.store.dimension()
        if not dim:
            return []
        if not self.store.pg:
            return vectors.search(self.db, self.store.generation(), principal, vector, depth,
                                  filters)
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

    # -- fusion --------------------------------------------------------------------

    def fuse(self, keyword: list[tuple[int, float]], dense: list[tuple[int, float]]) -> list[tuple[int, float]]:
        scores: dict[int, float] = {}
        if self.fusion == "rrf":
            for ranked in (keyword, dense):
                for rank, (cid, _) in enumerate(ranked, start=1):
                    scores[cid] = scores.get(cid, 0.0) + 1.0 / (self.rrf_k + rank)
        else:
            for ranked, weight in ((keyword, 1.0 - self.alpha), (dense, self.alpha)):
                if not ranked:
                    continue
                values = [s for _, s in ranked]
                lo, hi = min(values), max(values)
                span = (hi - lo) or 1.0
                for cid, s in ranked:
                    scores[cid] = scores.get(cid, 0.0) + weight * (s - lo) / span
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    def search(self, principal: Principal, query: str, *, k: int = 10, mode: Mode = "hybrid",
               filters: SearchFilters | None = None,
               query_vector: Sequence[float] | None = None) -> list[Hit]:
        if mode not in ("hybrid", "bm25", "dense"):
            raise InvalidInputError(f"search mode must be hybrid, bm25 or dense, not {mode!r}")
        depth = max(self.depth, k)
        kw = self.keyword(principal, query, depth, filters) if mode != "dense" else []
        dn: list[tuple[int, float]] = []
        if mode != "bm25":
            vec = query_vector if query_vector is not None else self.embedder.embed([query])[0]
            dn = self.dense(principal, vec, depth, filters)
        ranked = kw if mode == "bm25" else dn if mode == "dense" else self.fuse(kw, dn)
        return self._hits(ranked[:k], dict(dn))

    def _hits(self, ranked: list[tuple[int, float]],
              similarity: dict[int, float] | None = None) -> list[Hit]:
        if not ranked:
            return []
        ids = [cid for cid, _ in ranked]
        params = {f"i{n}": cid for n, cid in enumerate(ids)}
        with self.db.connect() as conn:
            rows = conn.execute(text(
                "SELECT c.id, c.uid, c.document_id, c.text, c.heading, c.page, c.char_start, "
                "c.char_end, d.title, d.uri FROM chunks c JOIN documents d ON d.id = c.document_id "
                f"WHERE c.id IN ({', '.join(':' + k for k in params)})"), params)
            by_id = {r.id: r for r in rows}
        hits = []
        for cid, score in ranked:
            r = by_id.get(cid)
            if r is None:  # removed between the legs and this read
                continue
            hits.append(Hit(cid, r.uid, r.document_id, r.title, r.uri, r.text, r.heading,
                            r.page, r.char_start, r.char_end, score,
                            (similarity or {}).get(cid)))
        return hits


__all__ = ["Hit", "SearchFilters", "Searcher", "decode_names", "keyword_terms"]
