"""`kb sync`: adds new files, re-ingests changed ones, removes deleted ones, skips the rest."""

from pathlib import Path

import pytest

from charter.core.errors import InvalidInputError
from charter.knowledge.ingest import IngestOptions, Ingestor
from charter.knowledge.store import open_store
from charter.store.db import Database
from tests.knowledge.helpers import HashEmbedder


@pytest.fixture
def db(tmp_path: Path):  # noqa: ANN201
    db = Database(f"sqlite:///{tmp_path / 'kb.db'}")
    db.upgrade()
    yield db
    db.dispose()


def test_incremental_sync(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    (folder / "sub").mkdir(parents=True)
    for i in range(5):
        (folder / f"note{i}.txt").write_text(f"Note {i}\n\nThe office plant number {i} needs water.")
    (folder / "sub" / "deep.md").write_text("# Deep\n\nNested folders are synced too.")
    (folder / ".hidden.txt").write_text("never ingested")
    first = Ingestor(db, HashEmbedder()).sync(folder)
    assert len(first.added) == 6 and not first.failed
    store = open_store(db)
    stamps = {d.uri: (d.version, d.updated_at) for d in store.list()}

    (folder / "note1.txt").write_text("Note 1\n\nThe plant was moved to the kitchen.")
    (folder / "note2.txt").unlink()
    (folder / "note9.txt").write_text("Note 9\n\nA new plant arrived.")
    embedder = HashEmbedder()
    second = Ingestor(db, embedder).sync(folder)
    name = lambda uris: sorted(Path(u).name for u in uris)  # noqa: E731
    assert name(second.added) == ["note9.txt"]
    assert name(second.updated) == ["note1.txt"]
    assert name(second.removed) == ["note2.txt"]
    assert name(second.unchanged) == ["deep.md", "note0.txt", "note3.txt", "note4.txt"]
    after = {d.uri: (d.version, d.updated_at) for d in store.list()}
    for uri in second.unchanged:
        assert after[uri] == stamps[uri]  # untouched
    assert after[str((folder / "note1.txt").resolve())][0] == 2

    third = Ingestor(db, (quiet := HashEmbedder())).sync(folder)
    assert not (third.added or third.updated or third.removed) and len(third.unchanged) == 6
    assert quiet.calls == 0


def test_sync_keeps_classification_unless_told(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "pay.md").write_text("# Pay\n\nSalary bands are reviewed in April.")
    Ingestor(db, HashEmbedder()).sync(folder, IngestOptions(classification="confidential",
                                                             groups=("hr",)))
    Ingestor(db, HashEmbedder()).sync(folder)
    (doc,) = open_store(db).list()
    assert (doc.classification, doc.groups) == ("confidential", ["hr"])


def test_bad_files_are_reported_and_the_rest_land(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "good.txt").write_text("Good\n\nThis file is fine.")
    (folder / "empty.txt").write_text("")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    report = Ingestor(db, HashEmbedder()).sync(folder)
    reasons = {Path(p).name: r for p, r in report.failed}
    assert set(reasons) == {"empty.txt", "image.png", "broken.pdf"}
    assert "empty" in reasons["empty.txt"]
    assert "unsupported file type '.png'" in reasons["image.png"]
    assert "PDF" in reasons["broken.pdf"]
    assert [Path(u).name for u in report.added] == ["good.txt"]


def test_sync_needs_a_folder(db: Database, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a folder"):
        Ingestor(db, HashEmbedder()).sync(tmp_path / "missing")


def test_changed_record_file_updates_rows_and_drops_vanished_ones(db: Database, tmp_path: Path) -> None:
    from charter.knowledge.loaders import RecordOptions

    rows = tmp_path / "faq.jsonl"
    rows.write_text('{"id": "a", "q": "Where is the canteen?"}\n{"id": "b", "q": "Who signs leave?"}\n')
    opts = IngestOptions(records=RecordOptions("q", "id"))
    first = Ingestor(db, HashEmbedder()).add([rows], opts)
    assert sorted(u.rsplit("=", 1)[1] for u in first.added) == ["a", "b"]
    rows.write_text('{"id": "a", "q": "Where is the new canteen?"}\n{"id": "c", "q": "New row"}\n')
    second = Ingestor(db, HashEmbedder()).add([rows], opts)
    assert [u.rsplit("=", 1)[1] for u in second.updated] == ["a"]
    assert [u.rsplit("=", 1)[1] for u in second.added] == ["c"]
    assert [u.rsplit("=", 1)[1] for u in second.removed] == ["b"]
