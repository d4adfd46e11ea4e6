"""Retrieval quality and speed on a BEIR dataset (SciFact), through Charter's own path.

For each database the corpus is ingested with ``Ingestor`` (the same code as
``charter kb add``), as JSONL records with ``title`` and ``text``. Quality: each query
is searched in bm25, dense and hybrid mode with 200 chunks per leg, chunks are merged to
documents by their best rank, and nDCG@10 and recall@100 are computed from the qrels.
Speed: each query is searched again with the production settings (top 10, 100 per
leg), timing the whole call including the query embedding.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charter.bench.pg import postgres
from charter.core.principal import Principal
from charter.backends.base import Embedder
from charter.core.config import Settings
from charter.core.errors import InvalidInputError
from charter.knowledge.ingest import IngestOptions, Ingestor
from charter.knowledge.loaders import RecordOptions
from charter.knowledge.store import open_store
from charter.knowledge.search import Searcher
from charter.store.db import Database

MODES = ("bm25", "dense", "hybrid")
READER = Principal("bench", clearance="restricted", groups=frozenset({"*"}))
# What ordinary users are: one group, internal clearance. The corpus is ingested in three
# parts by row (internal for everyone, internal for sales, confidential for hr), so this
# reader's searches take the filtered path and see two thirds of it.
FILTERED_READER = Principal("bench-user", clearance="internal", groups=frozenset({"sales"}))
PARTS = (("internal", ()), ("internal", ("sales",)), ("confidential", ("hr",)))


@dataclass(frozen=True)
class Dataset:
    corpus: Path
    queries: list[tuple[str, str]]
    qrels: dict[str, dict[str, int]]


def load_dataset(folder: Path, limit_queries: int | None = None) -> Dataset:
    corpus = folder / "corpus.jsonl"
    queries_path = folder / "queries.jsonl"
    qrels_path = folder / "qrels" / "test.tsv"
    for p in (corpus, queries_path, qrels_path):
        if not p.is_file():
            raise InvalidInputError(f"{p} not found: --dataset must be a BEIR folder with "
                                    "corpus.jsonl, queries.jsonl and qrels/test.tsv")
    qrels: dict[str, dict[str, int]] = {}
    for line in qrels_path.read_text().splitlines()[1:]:
        q, c, score = line.split("\t")
        qrels.setdefault(q, {})[c] = int(score)
    queries = []
    for line in queries_path.read_text().splitlines():
        row = json.loads(line)
        if row["_id"] in qrels:
            queries.append((row["_id"], row["text"]))
    return Dataset(corpus, queries[:limit_queries] if limit_queries else queries, qrels)


def ndcg_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    dcg = sum(rel.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(v / math.log2(i + 2) for i, v in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], rel: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, v in rel.items() if v > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _already_ingested(db: Database, data: Dataset, corpus_limit: int | None) -> bool:
    expected = corpus_limit or sum(1 for _ in data.corpus.open())
    return open_store(db).counts()["documents"] == expected


def run_backend(db: Database, embedder: Embedder, data: Dataset, settings: Settings,
                corpus_limit: int | None = None,
                log: Callable[[str], None] = lambda _: None,
                reuse: bool = False) -> dict[str, dict[str, float | None]]:
    db.upgrade()
    if reuse and _already_ingested(db, data, corpus_limit):
        log("  reusing the ingested corpus in the work folder (no ingest figures)")
        open_store(db).refresh_statistics()  # as the ingest itself would have
        return _queries(db, embedder, data, settings, None, None, log)
    tmp = Path(tempfile.mkdtemp())
    parts = [tmp / f"corpus-{i}.jsonl" for i in range(len(PARTS))]
    files = [f.open("w") for f in parts]
    with data.corpus.open() as src:
        for i, line in enumerate(src):
            if corpus_limit and i >= corpus_limit:
                break
            files[i % len(PARTS)].write(line)
    for f in files:
        f.close()
    ingestor = Ingestor(db, embedder)
    docs, chunks, seconds = 0, 0, 0.0
    log(f"  ingesting {data.corpus} in {len(PARTS)} parts of different access ...")
    for path, (classification, groups) in zip(parts, PARTS, strict=True):
        options = IngestOptions(classification=classification, groups=groups, source="beir",
                                records=RecordOptions("text", "_id", "title"),
                                chunk_size=settings.kb_chunk_size,
                                chunk_overlap=settings.kb_chunk_overlap)
        report = ingestor.add([path], options)
        docs += len(report.added) + len(report.updated)
        chunks += report.chunks
        seconds += report.seconds
    shutil.rmtree(tmp, ignore_errors=True)
    ingest_rate = docs / seconds if seconds else 0.0
    ingest_ratio = seconds / ingestor.embed_seconds if ingestor.embed_seconds else 0.0
    log(f"  {docs} documents, {chunks} chunks in {seconds:.1f}s "
        f"(embedding {ingestor.embed_seconds:.1f}s)")
    return _queries(db, embedder, data, settings, round(ingest_rate, 1), round(ingest_ratio, 3),
                    log)


def _queries(db: Database, embedder: Embedder, data: Dataset, settings: Settings,
             ingest_rate: float | None, ingest_ratio: float | None,
             log: Callable[[str], None]) -> dict[str, dict[str, float | None]]:
    searcher = Searcher(db, embedder, fusion=settings.kb_fusion, alpha=settings.kb_alpha,
                        depth=200)
    live = Searcher(db, embedder, fusion=settings.kb_fusion, alpha=settings.kb_alpha, depth=100)
    uri_to_id: dict[str, str] = {}
    results: dict[str, dict[str, float | None]] = {}
    qvecs = embedder.embed([q for _, q in data.queries])
    for mode in MODES:
        ndcgs, recalls, latencies = [], [], []
        for (qid, query), qvec in zip(data.queries, qvecs, strict=True):
            hits = searcher.search(READER, query, k=200, mode=mode, query_vector=qvec)  # type: ignore[arg-type]
            ranked: list[str] = []
            for h in hits:
                doc = uri_to_id.setdefault(h.uri, h.uri.rsplit("#row=", 1)[-1])
                if doc not in ranked:
                    ranked.append(doc)
            ndcgs.append(ndcg_at(ranked, data.qrels[qid]))
            recalls.append(recall_at(ranked, data.qrels[qid]))
        # Latency in its own pass, as a user would see it: the question as text (so the query
        # embedding is included), top 10, back to back, not interleaved with the deep
        # quality searches above.
        for _, query in data.queries:
            t0 = time.perf_counter()
            live.search(READER, query, k=10, mode=mode)  # type: ignore[arg-type]
            latencies.append((time.perf_counter() - t0) * 1000)
        # The same for an ordinary user: their searches take the access-filtered path.
        filtered = []
        for _, query in data.queries:
            t0 = time.perf_counter()
            live.search(FILTERED_READER, query, k=10, mode=mode)  # type: ignore[arg-type]
            filtered.append((time.perf_counter() - t0) * 1000)
        results[mode] = {
            "ndcg@10": round(statistics.mean(ndcgs), 4),
            "recall@100": round(statistics.mean(recalls), 4),
            "p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(_percentile(latencies, 0.95), 2),
            "filtered_p50_ms": round(statistics.median(filtered), 2),
            "filtered_p95_ms": round(_percentile(filtered, 0.95), 2),
            "ingest_docs_per_s": ingest_rate,
            "ingest_vs_embedding": ingest_ratio,
        }
        log(f"  {mode}: {results[mode]}")
    return results


# What the retrieval evaluation suite measures when no --target names databases.
DEFAULT_BACKENDS = ("sqlite",)


def run(settings: Settings, embedder: Embedder, dataset: Path, backends: list[str],
        corpus_limit: int | None = None, query_limit: int | None = None,
        log: Callable[[str], None] = lambda _: None, work_dir: Path | None = None) -> dict[str, Any]:
    data = load_dataset(dataset, query_limit)
    out: dict[str, Any] = {}
    for backend in backends:
        reuse = work_dir is not None
        work = (work_dir / backend) if work_dir else Path(tempfile.mkdtemp(prefix=f"charter-bench-{backend}-"))
        work.mkdir(parents=True, exist_ok=True)
        try:
            log(f"{backend}:")
            if backend == "sqlite":
                db = Database(f"sqlite:///{work / 'bench.db'}")
                out[backend] = run_backend(db, embedder, data, settings, corpus_limit, log, reuse)
                db.dispose()
            elif backend == "postgres":
                with postgres(work) as url:
                    db = Database(url)
                    out[backend] = run_backend(db, embedder, data, settings, corpus_limit, log,
                                               reuse)
                    db.dispose()
            else:
                raise InvalidInputError(f"unknown backend {backend!r}: use sqlite or postgres")
        finally:
            if work_dir is None:
                shutil.rmtree(work, ignore_errors=True)
    return out
