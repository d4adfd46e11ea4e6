"""Uploaded documents' files: versions of one document taken one at a time (a lock on
its folder), and what a crash between the file swap and the ingest's commit
leaves settled by the next version."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from charter.core.errors import ConflictError
from charter.core.principal import local_admin
from charter.knowledge.ingest import RECORD_MARK, file_hash
from charter.runtime import Runtime
from charter.services import documents

ADMIN = local_admin()


def _stored(rt: Runtime, doc_id: str) -> tuple[Path, str]:
    doc = rt.documents.get(doc_id)
    return Path(doc.uri.partition(RECORD_MARK)[0]), doc.content_hash


def test_a_crash_after_the_swap_is_settled_back_to_what_is_served(runtime: Runtime) -> None:
    first = documents.upload(runtime, ADMIN, "leave.md", b"# Leave\n\nTwenty days.\n")
    path, served = _stored(runtime, first.document_id)
    # A crash after the new file took the old one's place, before the ingest committed:
    path.replace(path.with_name(".previous-dead0001"))
    path.write_bytes(b"# Leave\n\nA version the knowledge base never took in.\n")
    path.with_name(".incoming-dead0002").write_bytes(b"half written")
    documents._settle(runtime, path)
    assert file_hash(path) == served
    assert sorted(p.name for p in path.parent.iterdir()) == ["leave.md"]


def test_a_crash_after_the_commit_keeps_the_new_file(runtime: Runtime) -> None:
    first = documents.upload(runtime, ADMIN, "leave.md", b"# Leave\n\nTwenty days.\n")
    path, served = _stored(runtime, first.document_id)
    # Crashed after the commit, before the previous file was removed: two of them.
    path.with_name(".previous-dead0001").write_bytes(b"# Leave\n\nAn older version.\n")
    path.with_name(".previous-dead0002").write_bytes(b"# Leave\n\nOlder still.\n")
    documents._settle(runtime, path)
    assert file_hash(path) == served
    assert sorted(p.name for p in path.parent.iterdir()) == ["leave.md"]


def test_of_several_previous_files_the_served_one_comes_back(runtime: Runtime) -> None:
    first = documents.upload(runtime, ADMIN, "rows.csv", b"id,text\n1,Twenty days.\n")
    path, served = _stored(runtime, first.document_id)
    served_bytes = path.read_bytes()
    older = path.with_name(".previous-dead0001")
    older.write_bytes(b"id,text\n1,An older version.\n")
    path.replace(path.with_name(".previous-dead0002"))  # the served file, set aside
    newest = path.with_name(".previous-dead0003")
    newest.write_bytes(b"id,text\n1,Never served.\n")
    os.utime(newest, (time.time() + 10, time.time() + 10))  # the newest, but not served
    assert not path.exists()  # the window between the two renames
    documents._settle(runtime, path)
    assert path.read_bytes() == served_bytes and file_hash(path) == served
    assert sorted(p.name for p in path.parent.iterdir()) == ["rows.csv"]


def test_a_version_waits_for_the_one_in_progress_then_is_a_409(runtime: Runtime) -> None:
    first = documents.upload(runtime, ADMIN, "leave.md", b"# Leave\n\nTwenty days.\n")
    path, served = _stored(runtime, first.document_id)
    with documents._locked(path.parent):  # another process is uploading a version
        with pytest.raises(ConflictError, match="being uploaded") as info:
            with documents._locked(path.parent, wait_s=0.1):
                pass
        assert info.value.status == 409
    with documents._locked(path.parent, wait_s=0.1):  # released: free again
        pass


def test_a_failure_after_the_commit_keeps_the_file_that_is_served(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from charter.knowledge import ingest

    first = documents.upload(runtime, ADMIN, "leave.md", b"# Leave\n\nTwenty days.\n")

    def fail_after_commit(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("statistics refresh failed")

    store_class = type(ingest.open_store(runtime.db))
    monkeypatch.setattr(store_class, "refresh_statistics", fail_after_commit)
    monkeypatch.setattr(ingest, "STATISTICS_AFTER_CHUNKS", 0)  # runs after every commit
    with pytest.raises(RuntimeError):
        documents.upload(runtime, ADMIN, "leave.md", b"# Leave\n\nThirty days.\n",
                         document=first.document_id)
    path, served = _stored(runtime, first.document_id)
    assert b"Thirty" in path.read_bytes() and file_hash(path) == served
    assert sorted(p.name for p in path.parent.iterdir()) == ["leave.md"]


def test_concurrent_versions_of_one_document_are_taken_one_at_a_time(
        runtime: Runtime) -> None:
    first = documents.upload(runtime, ADMIN, "leave.md", b"# Leave\n\nVersion zero.\n")
    errors: list[BaseException] = []

    def version(n: int) -> None:
        try:
            documents.upload(runtime, ADMIN, "leave.md",
                             f"# Leave\n\nVersion {n} of the leave policy.\n".encode(),
                             document=first.document_id)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=version, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    path, served = _stored(runtime, first.document_id)
    assert file_hash(path) == served  # the file on disk is the version served
    assert runtime.documents.get(first.document_id).version == 5
    assert sorted(p.name for p in path.parent.iterdir()) == ["leave.md"]
