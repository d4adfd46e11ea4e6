"""`kill -9` at random points of a record-file ingest and of a reindex: the file is wholly
old or wholly new afterwards, every chunk has exactly one vector of the index's model,
and the next run completes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from charter.core.principal import local_admin
from charter.knowledge.ingest import Ingestor
from charter.knowledge.reindex import reindex
from charter.knowledge.store import open_store
from charter.store.db import Database
from tests.knowledge.helpers import HashEmbedder
from tests.knowledge.test_crash import consistency

ROOT = Path(__file__).resolve().parents[2]
ROWS = 240
KILLS = 20


def write_records(path: Path, generation: int) -> None:
    lines = ["id,title,text"]
    lines += [f"{i},Item {i},Generation {generation} of item {i}: budget line {i * 7}."
              for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n")


def generations(db: Database, path: Path) -> tuple[set[str], set[int]]:
    """The content hashes of the file's rows and the generations their text names."""
    with db.connect() as conn:
        rows = conn.execute(text(
            "SELECT d.content_hash, c.text FROM documents d JOIN chunks c ON c.document_id = "
            "d.id WHERE d.uri LIKE :u"), {"u": f"{path}#row=%"}).all()
    found = {int(r.text.split("Generation ")[1].split()[0]) for r in rows}
    return {r.content_hash for r in rows}, found


def _run(cmd: list[str]) -> float:
    """Run ``cmd`` to the end; its wall time."""
    began = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return time.monotonic() - began


def _kill_at_random(cmd: list[str], rng: random.Random, longest: float) -> bool:
    """Run ``cmd`` and SIGKILL it after a random delay up to ``longest`` (a whole run's
    time); True when it was killed."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        proc.wait(timeout=rng.uniform(0.1, longest))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
        return True
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
    return False


def _ingested(tmp_path: Path) -> tuple[str, Path, Database]:
    """A SQLite knowledge base holding generation 0 of the record file."""
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    records = tmp_path / "items.csv"
    db = Database(url, cache_ttl=0)  # it watches other processes' writes
    db.ensure_ready(auto_migrate=True)
    write_records(records, 0)
    Ingestor(db, HashEmbedder(), batch_chunks=8).add([records])
    return url, records, db


def _worker(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.knowledge.crash_worker", *args]


@pytest.mark.integration
@pytest.mark.slow
def test_kills_during_a_record_ingest_leave_each_file_wholly_old_or_new(tmp_path: Path) -> None:
    url, records, db = _ingested(tmp_path)
    write_records(records, 1)
    whole = _run(_worker("ingest", url, str(records)))
    rng = random.Random(7)
    killed = 0
    for round_ in range(2, 3 * KILLS):
        write_records(records, round_)
        killed += _kill_at_random(_worker("ingest", url, str(records)), rng, whole)
        hashes, found = generations(db, records)
        assert len(hashes) == 1 and len(found) == 1, (round_, hashes, found)
        _, problems = consistency(db)
        assert problems == []
        if killed >= KILLS:
            break
    assert killed >= KILLS, f"only {killed} runs were killed before they finished"
    report = Ingestor(db, HashEmbedder(), batch_chunks=8).add([records])
    hashes, found = generations(db, records)
    assert found == {round_} and len(hashes) == 1
    assert report.failed == [] and len(open_store(db).list(prefix=f"{records}#row=")) == ROWS
    db.dispose()


def index_state(db: Database) -> tuple[str, list[str]]:
    """The index's model, and what is wrong with the vectors: chunks without exactly one
    vector, or with a vector another model made."""
    info = open_store(db).index_info()
    assert info is not None
    model = HashEmbedder(name=info[0])
    with db.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.id, c.heading, c.text, d.title FROM chunks c JOIN documents d "
            "ON d.id = c.document_id ORDER BY c.id")).all()
        stored: dict[int, list[bytes]] = {}
        for r in conn.execute(text("SELECT chunk_id, embedding FROM chunk_vectors")):
            stored.setdefault(int(r.chunk_id), []).append(bytes(r.embedding))
    bodies = [f"{' > '.join(x for x in (r.title, r.heading) if x)}\n{r.text}" for r in rows]
    expected = np.asarray(model.embed(bodies), dtype=np.float32)
    wrong = [f"chunk {r.id}: {len(stored.get(r.id, []))} vectors" for r in rows
             if len(stored.get(r.id, [])) != 1]
    wrong += [f"chunk {r.id}: not {info[0]}'s vector" for r, want in zip(rows, expected)
              if len(stored.get(r.id, [])) == 1 and not np.allclose(
                  np.frombuffer(stored[r.id][0], dtype=np.float32), want, atol=1e-6)]
    if len(stored) != len(rows):
        wrong.append(f"{len(stored)} vectors for {len(rows)} chunks")
    return info[0], wrong


@pytest.mark.integration
@pytest.mark.slow
def test_kills_during_a_reindex_leave_the_old_index_or_the_new_one(tmp_path: Path) -> None:
    url, records, db = _ingested(tmp_path)
    whole = _run(_worker("reindex", url, "hash-64-r0"))
    rng = random.Random(11)
    killed, models = 0, ["hash-64-r0"]
    for round_ in range(1, 3 * KILLS):
        target = f"hash-64-r{round_}"
        killed += _kill_at_random(_worker("reindex", url, target), rng, whole)
        model, wrong = index_state(db)
        # Killed before the swap committed: the old index; after it: the new one.
        assert wrong == [] and model in (models[-1], target), (round_, model, wrong[:3])
        models.append(model)
        if killed >= KILLS:
            break
    assert killed >= KILLS, f"only {killed} runs were killed before they finished"
    count, _ = reindex(db, HashEmbedder(name="hash-64-final"))
    assert count == ROWS and index_state(db) == ("hash-64-final", [])
    db.dispose()


class WritesWhileEmbedding(HashEmbedder):
    """Stands in for a sync running beside the reindex: the first embedding call adds
    a document before the new vectors are swapped in."""

    def __init__(self, db: Database, extra: Path, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.db, self.extra, self.wrote = db, extra, False

    def embed(self, texts):  # type: ignore[no-untyped-def]
        if not self.wrote:
            self.wrote = True
            Ingestor(self.db, HashEmbedder(), batch_chunks=8).add([self.extra])
        return super().embed(texts)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_chunks_written_during_a_reindex_keep_a_vector(tmp_path: Path, backend: str,
                                                       request: pytest.FixtureRequest) -> None:
    url = (f"sqlite:///{tmp_path / 'kb.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    db = Database(url, cache_ttl=0)  # it watches other processes' writes
    db.ensure_ready(auto_migrate=True)
    records, extra = tmp_path / "items.csv", tmp_path / "late.md"
    write_records(records, 0)
    extra.write_text("# Late memo\n\nThe travel policy changed on Monday for every team.")
    Ingestor(db, HashEmbedder(), batch_chunks=8).add([records])
    count, _ = reindex(db, WritesWhileEmbedding(db, extra, name="hash-64-new"))
    assert count == ROWS + 1
    if backend == "sqlite":
        assert index_state(db) == ("hash-64-new", [])
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM chunk_vectors")).scalar() == ROWS + 1
    store = open_store(db)
    late = store.find(str(extra.resolve()))
    assert late is not None
    with db.connect() as conn:
        late_chunks = {int(r[0]) for r in conn.execute(
            text("SELECT id FROM chunks WHERE document_id = :d"), {"d": late.id})}
    hits = store.dense(local_admin(), HashEmbedder(name="hash-64-new").embed(
        ["Late memo\nThe travel policy changed on Monday for every team."])[0], 3, None)
    assert late_chunks & {chunk_id for chunk_id, _ in hits}
    db.dispose()
