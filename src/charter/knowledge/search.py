"""Hybrid search: a keyword leg and a dense leg, both filtered to the asker's clearance.

The legs themselves are the knowledge store's (``DocumentStore.keyword`` and ``.dense``,
one implementation per database in knowledge/store/). The access filter (clearance level
and groups) and the metadata filters are part of each leg's SQL, so chunks the principal
may not see are never scored, ranked, returned or counted. The legs are fused by
reciprocal rank (default) or by a convex combination of min-max normalised scores; see
docs/knowledge.md for the measurements behind the default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text

from charter.core.chat import PassageCheck
from charter.core.principal import Principal
from charter.backends.base import Embedder
from charter.core.errors import InvalidInputError
from charter.knowledge.store import DocumentStore, decode_names, open_store
from charter.store.db import Database
from charter.core.text import STOPWORDS

Mode = Literal["hybrid", "bm25", "dense"]
Fusion = Literal["rrf", "convex"]


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
    check: PassageCheck | None = None  # the injection verdict stored at ingest

    @property
    def location(self) -> str:
        parts = [p for p in (self.heading, f"page {self.page}" if self.page else "") if p]
        parts.append(f"chars {self.start}-{self.end}")
        return ", ".join(parts)


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
        self.store: DocumentStore = open_store(db)
        self.embedder = embedder
        self.fusion = fusion
        self.alpha = alpha
        self.rrf_k = rrf_k
        self.depth = depth

    # -- legs ------------------------------------------------------------------------

    def keyword(self, principal: Principal, query: str, depth: int,
                filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """(chunk id, score) best first; higher is better."""
        terms = keyword_terms(query)
        if not terms:
            return []
        return self.store.keyword(principal, terms, depth, filters)

    def dense(self, principal: Principal, vector: Sequence[float], depth: int,
              filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) best first."""
        return self.store.dense(principal, vector, depth, filters)

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
                "c.char_end, d.title, d.uri, s.detector, s.flagged, s.score AS check_score, "
                "s.evidence FROM chunks c JOIN documents d ON d.id = c.document_id "
                "LEFT JOIN chunk_screens s ON s.chunk_id = c.id "
                f"WHERE c.id IN ({', '.join(':' + k for k in params)})"), params)
            by_id = {r.id: r for r in rows}
        hits = []
        for cid, score in ranked:
            r = by_id.get(cid)
            if r is None:  # removed between the legs and this read
                continue
            hits.append(Hit(cid, r.uid, r.document_id, r.title, r.uri, r.text, r.heading,
                            r.page, r.char_start, r.char_end, score,
                            (similarity or {}).get(cid),
                            PassageCheck(r.detector, bool(r.flagged), float(r.check_score),
                                         r.evidence) if r.detector else None))
        return hits


__all__ = ["Hit", "SearchFilters", "Searcher", "decode_names", "keyword_terms"]
