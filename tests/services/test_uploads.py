"""Uploaded documents' files: versions of one document taken one at a time across
threads and processes, and what a crash between the file swap and the ingest's commit
leaves settled by the next version."""

from __future__ import annotations

import threading
from pathlib import Path

from charter.core.principal import local_admin
from charter.knowledge.ingest import file_hash
from charter.runtime import Runtime
from charter.services import documents

ADMIN = local_admin()


def _stored(rt: Runtime, doc_id: str) -> tuple[Path, str]:
    doc = rt.documents.get(doc_id)
    return Path(doc.uri), doc.content_hash


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
    path, _ = _stored(runtime, first.document_id)
    path.with_name(".previous-dead0001").write_bytes(b"# Leave\n\nAn older version.\n")
    second = documents.upload(runtime, ADMIN, "leave.md", b"# Leave\n\nThirty days.\n",
                              document=first.document_id)
    path, served = _stored(runtime, second.document_id)
    assert second.outcome == "updated" and file_hash(path) == served
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
