"""What screening chunks for injection at ingest adds to `kb add`.

Ingests the first N SciFact abstracts (as JSONL records, the retrieval bench's way) into a
fresh SQLite database twice, without and with the passage checker `charter kb add` uses,
and prints the wall time, the embedding time and the screening time of each.

    python scripts/experiments/ingest_screening_cost.py ../shared/data/scifact [--docs 500]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from charter.core.config import load_settings
from charter.knowledge.ingest import IngestOptions, Ingestor
from charter.knowledge.loaders import RecordOptions
from charter.runtime import Runtime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--docs", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        with (args.dataset / "corpus.jsonl").open() as src, corpus.open("w") as out:
            for i, line in enumerate(src):
                if i >= args.docs:
                    break
                out.write(line)
        for label, screened in (("without screening", False), ("with screening", True)):
            rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": str(Path(tmp) / label)}))
            embedder = rt.embedder()
            embedder.embed(["warm-up"])
            checker = rt.screen.passage_checker() if screened else None
            if checker is not None:
                checker.check_passages(["warm-up"])
            ingestor = Ingestor(rt.db, embedder, checker=checker)
            report = ingestor.add([corpus], IngestOptions(records=RecordOptions(
                "text", "_id", "title")))
            print(f"{label}: {report.chunks} chunks in {report.seconds:.1f}s (embedding "
                  f"{ingestor.embed_seconds:.1f}s, screening {ingestor.screen_seconds:.1f}s)")
            rt.close()


if __name__ == "__main__":
    main()
