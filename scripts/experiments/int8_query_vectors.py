"""Does searching with screening's int8 question vector lose retrieval quality?

Request screening embeds the question on the int8 ONNX graph; the index holds vectors of
the full-precision model, so retrieval embeds the question a second time (about a quarter
of a chat request's CPU on the gateway bench). This ingests SciFact once (SQLite, the
bench's own ingest) and scores dense and hybrid nDCG@10 / recall@100 over the 300 test
queries with each query vector: full precision (``embed``) and int8 (``embed_queries``).

    python scripts/experiments/int8_query_vectors.py ../shared/data/scifact [--work DIR]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from charter.bench.retrieval import READER, load_dataset, ndcg_at, recall_at, run_backend
from charter.core.config import load_settings
from charter.knowledge.search import Searcher
from charter.runtime import Runtime
from charter.store.db import Database


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--work", type=Path, default=Path("/tmp/int8-queries"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    settings = load_settings({"CHARTER_DATA_DIR": str(args.work / "data")})
    rt = Runtime.open(settings)
    embedder = rt.embedder()
    data = load_dataset(args.dataset)
    db = Database(f"sqlite:///{args.work / 'kb.db'}")
    run_backend(db, embedder, data, settings, log=print, reuse=True)
    texts = [q for _, q in data.queries]
    full = np.asarray(embedder.embed(texts), dtype=np.float32)
    int8 = np.asarray(embedder.embed_queries(texts), dtype=np.float32)
    cos = (full * int8).sum(axis=1)
    print(f"cosine(full, int8) over {len(texts)} queries: mean {cos.mean():.4f}, "
          f"min {cos.min():.4f}")
    searcher = Searcher(db, embedder, fusion=settings.kb_fusion, alpha=settings.kb_alpha,
                        depth=200)
    for mode in ("dense", "hybrid"):
        for name, vecs in (("full", full), ("int8", int8)):
            ndcgs, recalls = [], []
            for (qid, query), vec in zip(data.queries, vecs, strict=True):
                hits = searcher.search(READER, query, k=200, mode=mode,  # type: ignore[arg-type]
                                       query_vector=vec.tolist())
                ranked: list[str] = []
                for h in hits:
                    doc = h.uri.rsplit("#row=", 1)[-1]
                    if doc not in ranked:
                        ranked.append(doc)
                ndcgs.append(ndcg_at(ranked, data.qrels[qid]))
                recalls.append(recall_at(ranked, data.qrels[qid]))
            print(f"{mode:6s} {name}: nDCG@10 {statistics.mean(ndcgs):.4f}  recall@100 "
                  f"{statistics.mean(recalls):.4f}")
    rt.close()


if __name__ == "__main__":
    main()
