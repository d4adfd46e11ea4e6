"""A process for the kill tests: ingests a record file or reindexes, to be killed mid-way.

``python -m tests.knowledge.crash_worker ingest URL FILE`` or ``... reindex URL MODEL``.
The real ``Ingestor`` and ``reindex``; only the embedder is the test's bag-of-words one,
slowed a little per text so that a kill lands inside the work.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from charter.knowledge.ingest import Ingestor
from charter.knowledge.reindex import reindex
from charter.store.db import Database
from tests.knowledge.helpers import HashEmbedder


class SlowHash(HashEmbedder):
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        time.sleep(0.002 * len(texts))
        return super().embed(texts)


def main(argv: list[str]) -> None:
    action, url, arg = argv
    db = Database(url)
    db.ensure_ready(auto_migrate=True)
    if action == "ingest":
        Ingestor(db, SlowHash(), batch_chunks=8).add([Path(arg)])
    else:
        reindex(db, SlowHash(name=arg), batch=8)
    db.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
