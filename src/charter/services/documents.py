"""The knowledge base: documents (add, upload, sync, remove, reindex), listings and search.

Listings and search show only what the caller may read (clearance and groups); writes
need the admin role and are audited as ``document.added``, ``document.synced``,
``document.removed`` and ``index.rebuilt``.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charter.core.errors import ConflictError, InvalidInputError, NotFoundError
from charter.core.principal import Principal, require
from charter.core.text import text_problem
from charter.jobs import Job
from charter.knowledge.ingest import (
    RECORD_MARK,
    IngestOptions,
    Ingestor,
    IngestReport,
    Progress,
    file_hash,
)
from charter.knowledge.loaders import LoaderError, LoadLimits, loader_for
from charter.knowledge.reindex import reindex as run_reindex
from charter.knowledge.screening import RescreenReport
from charter.knowledge.screening import rescreen as run_rescreen
from charter.knowledge.search import Hit, Mode, Searcher, SearchFilters
from charter.knowledge.store import DocumentRecord
from charter.runtime import Runtime
from charter.services import events

log = logging.getLogger("charter.documents")


def _audited(report: IngestReport, options: IngestOptions) -> dict[str, Any]:
    """What the audit keeps of an ingest: counts and the access applied, not file names
    (reviewers read the trail; a document's path can be as telling as its text)."""
    return {"added": len(report.added), "updated": len(report.updated),
            "unchanged": len(report.unchanged), "removed": len(report.removed),
            "failed": len(report.failed), "chunks": report.chunks,
            "rescreened": report.rescreened,
            "classification": options.classification,
            "groups": list(options.groups) if options.groups is not None else None,
            "source": options.source}


def _ingestor(rt: Runtime, progress: Progress | None = None,
              chunk_progress: Progress | None = None) -> Ingestor:
    return Ingestor(rt.db, rt.embedder(), batch_chunks=rt.settings.kb_batch_chunks,
                    progress=progress, chunk_progress=chunk_progress,
                    checker=rt.screen.passage_checker())


def _options(rt: Runtime, options: IngestOptions) -> IngestOptions:
    s = rt.settings
    return IngestOptions(classification=options.classification, groups=options.groups,
                         tags=options.tags, source=options.source, records=options.records,
                         chunk_size=s.kb_chunk_size, chunk_overlap=s.kb_chunk_overlap,
                         limits=LoadLimits.from_settings(s))


def list_documents(rt: Runtime, actor: Principal, *, source: str | None = None
                   ) -> list[DocumentRecord]:
    """Documents the caller may read."""
    return [d for d in rt.documents.list(source=source)
            if actor.may_read(d.classification, d.groups)]


def display_name(doc: DocumentRecord) -> str:
    """A document's file name (with ``#row=KEY`` for a record), never its server path."""
    path, mark, row = doc.uri.partition(RECORD_MARK)
    return Path(path).name + (mark + row if mark else "")


def _not_found(key: str) -> NotFoundError:
    return NotFoundError(f"no document with id or path {key!r}; see `charter kb list`")


def resolve(rt: Runtime, actor: Principal, key: str) -> DocumentRecord:
    """A document by id, unique id prefix or path (the CLI's ways of naming one), among
    those the caller may read; the others answer as if they did not exist."""
    readable = list_documents(rt, actor)
    if len(key) < 32 and not key.startswith(("/", ".")):
        matches = [d for d in readable if d.id.startswith(key)]
        if len(matches) == 1:
            return matches[0]
    path = Path(key).expanduser()
    wanted = {key, str(path.resolve())} if path.exists() else {key}
    for doc in readable:
        if doc.id in wanted or doc.uri in wanted:
            return doc
    raise _not_found(key)


def chunks(rt: Runtime, actor: Principal, doc: DocumentRecord) -> list[dict[str, Any]]:
    if not actor.may_read(doc.classification, doc.groups):
        raise NotFoundError(f"no document {doc.id!r}")
    return rt.documents.chunks_of(doc.id)


def add(rt: Runtime, actor: Principal, paths: Sequence[Path], options: IngestOptions,
        progress: Progress | None = None) -> IngestReport:
    """Ingest files and folders; changed files are re-ingested, unchanged ones skipped."""
    require(actor, "admin")
    report = _ingestor(rt, progress).add(list(paths), _options(rt, options))
    _rescreen_stale(rt, report)
    events.record(rt, actor, "document.added", "kb", _audited(report, options))
    return report


def sync(rt: Runtime, actor: Principal, folder: Path, options: IngestOptions,
         progress: Progress | None = None) -> IngestReport:
    """Mirror a folder: add new files, re-ingest changed ones, remove deleted ones."""
    require(actor, "admin")
    report = _ingestor(rt, progress).sync(folder, _options(rt, options))
    _rescreen_stale(rt, report)
    events.record(rt, actor, "document.synced", "kb", _audited(report, options))
    return report


def _rescreen_stale(rt: Runtime, report: IngestReport) -> None:
    """New chunks came with verdicts; older ones without a current verdict (the detector
    changed since they were stored) get one now, so routine syncs keep the store current."""
    try:
        checker = rt.screen.passage_checker()
        if rt.documents.check_counts(checker.version)["stale"]:
            report.rescreened = run_rescreen(rt.documents, checker,
                                             batch=rt.settings.kb_batch_chunks).screened
    except Exception as exc:  # noqa: BLE001 - the ingest is committed; its audit event must follow
        # Retrieval screens chunks without a current verdict itself, so nothing is unsafe.
        log.warning("stored chunks were not screened again (%s); run `charter kb rescreen`",
                    exc)


MAX_NAME_BYTES = 255  # what every common file system allows in one name


@dataclass(frozen=True)
class Upload:
    """What an upload did: the document it wrote (id, file name, version) and the
    ingest's counts. Names only, never server paths."""

    document_id: str
    name: str
    version: int
    outcome: str  # added, updated or unchanged
    chunks: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.document_id, "name": self.name, "version": self.version,
                "outcome": self.outcome, "chunks": self.chunks}


def upload_name(filename: str) -> str:
    """``filename`` checked as one plain file name (no folders, no control characters,
    well-formed Unicode, at most 255 bytes in UTF-8), or ``InvalidInputError``."""
    why = text_problem(filename)
    if why:
        raise InvalidInputError(f"filename {why}")
    if "/" in filename or "\\" in filename or filename in (".", ".."):
        raise InvalidInputError("filename must be a plain file name such as policy.pdf, "
                                "without folders")
    if filename.startswith(".") or any(ord(ch) < 32 or ord(ch) == 127 for ch in filename):
        raise InvalidInputError("filename must not start with a dot or hold control "
                                "characters; use a name such as policy.pdf")
    if len(filename.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidInputError(f"filename is {len(filename.encode('utf-8'))} bytes in UTF-8; "
                                f"file systems allow {MAX_NAME_BYTES}: shorten it")
    return filename


def upload(rt: Runtime, actor: Principal, filename: str, body: bytes, *,
           document: str | None = None, classification: str | None = None,
           groups: Sequence[str] | None = None, progress: Progress | None = None,
           isolated: bool = False) -> Upload:
    """Store one uploaded file and ingest it.

    Without ``document`` the upload is a new document, whatever its name: two teams'
    ``policy.md`` never collide, because each is stored under a folder of its own
    (``uploads/<upload id>/<name>``). With ``document`` (an id) it is a new version of
    that uploaded document. Access not given is kept from the stored document (a new
    one: ``internal``, no groups). A file that cannot be loaded is refused (422) and
    changes nothing: a new one leaves no file behind, a new version puts the previous
    file back, so the stored file always matches what the knowledge base serves. Versions
    of one document are taken one at a time (a file lock, across processes), and what a
    crash between the file swap and the ingest's commit left is settled by the next
    version's upload."""
    name, options, folder = _checked_upload(rt, actor, filename, body, document,
                                            classification, groups)
    if isolated:  # a background job: the file is read in a child process under hard limits
        options = dataclasses.replace(options, isolate_mb=rt.settings.kb_job_memory_mb)
    if document is None:
        target = folder / uuid.uuid4().hex[:16] / name
    else:
        target = _uploaded_path(rt, folder, document, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent):  # one version of a document at a time, in any process
        _settle(rt, target)
        report = _swap_and_ingest(rt, target, name, body, options, progress,
                                  new=document is None)
    events.record(rt, actor, "document.added", "kb", _audited(report, options))
    written = rt.documents.list(prefix=str(target))
    doc = next((d for d in written if d.uri == str(target)), written[0] if written else None)
    outcome = "added" if report.added else "updated" if report.updated else "unchanged"
    return Upload(doc.id if doc else "", name, doc.version if doc else 0, outcome,
                  report.chunks)


def _swap_and_ingest(rt: Runtime, target: Path, name: str, body: bytes,
                     options: IngestOptions, progress: Progress | None, *, new: bool
                     ) -> IngestReport:
    """Put ``body`` at ``target`` and ingest it; on any failure put back what was there.
    The previous file waits beside the new one as ``.previous-*`` until the ingest has
    committed, so a crash in between is settled by the next upload (``_settle``)."""
    previous = target.with_name(f".previous-{uuid.uuid4().hex[:8]}") if target.exists() else None
    incoming = target.with_name(f".incoming-{uuid.uuid4().hex[:8]}")
    try:
        incoming.write_bytes(body)
        if previous is not None:
            target.replace(previous)
        incoming.replace(target)
        try:
            report = _ingestor(rt, chunk_progress=progress).add([target], options,
                                                                  strict=True)
        except LoaderError as exc:  # the same class (and status): 413 for a limit
            raise type(exc)(f"{name}: {_without_paths(exc.message, target)}; nothing was "
                            "changed") from None
        if report.failed:
            raise LoaderError(f"{name}: {_without_paths(report.failed[0][1], target)}; "
                              "nothing was changed")
    except BaseException:
        incoming.unlink(missing_ok=True)
        try:  # keep whichever file the knowledge base serves (a failure can follow a commit)
            if new and not _served(rt, target):
                shutil.rmtree(target.parent, ignore_errors=True)
            else:
                _settle(rt, target)
        except Exception:  # noqa: BLE001 - the database is down: the next version settles it
            log.warning("could not settle %s after a failed upload", target, exc_info=True)
        raise
    if previous is not None:
        previous.unlink(missing_ok=True)
    return report


def _served(rt: Runtime, target: Path) -> set[str]:
    """The content hashes the knowledge base holds for the uploaded file ``target``."""
    return {d.content_hash for d in rt.documents.list(prefix=str(target))
            if d.uri.partition(RECORD_MARK)[0] == str(target)}


LOCK_WAIT_S = 30.0  # how long a version waits for the one being uploaded


@contextmanager
def _locked(folder: Path, wait_s: float | None = None) -> Iterator[None]:
    """An exclusive lock on an uploaded document's folder (the folder itself, so no lock
    file is left), across processes; ``ConflictError`` (409) when another upload of the
    document holds it longer than ``wait_s`` (``LOCK_WAIT_S``)."""
    wait_s = LOCK_WAIT_S if wait_s is None else wait_s
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConflictError("another version of this document is being "
                                        "uploaded; try again when it has finished") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(handle)  # releases the lock


def _settle(rt: Runtime, target: Path) -> None:
    """Finish what a crashed upload of ``target``'s document left: an ``.incoming-*``
    file is dropped; of ``.previous-*`` and the file in place, the one whose content the
    knowledge base serves is kept as the document's file, the rest removed."""
    for leftover in target.parent.glob(".incoming-*"):
        leftover.unlink(missing_ok=True)
    previous = sorted(target.parent.glob(".previous-*"), key=lambda f: f.stat().st_mtime)
    if not previous:
        return
    served = _served(rt, target)
    if not (target.exists() and file_hash(target) in served):
        keep = next((f for f in reversed(previous) if file_hash(f) in served), previous[-1])
        keep.replace(target)
        previous.remove(keep)
    for leftover in previous:
        leftover.unlink(missing_ok=True)


def _checked_upload(rt: Runtime, actor: Principal, filename: str, body: bytes,
                    document: str | None, classification: str | None,
                    groups: Sequence[str] | None) -> tuple[str, IngestOptions, Path]:
    """What an upload checks before anything is written: role, name, body, access, and
    that a named document is an uploaded one of the same type."""
    require(actor, "admin")
    name = upload_name(filename)
    if not body:
        raise InvalidInputError("the request body is empty: send the file's bytes")
    folder = rt.settings.data_path / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    options = _options(rt, IngestOptions(
        classification=classification,
        groups=tuple(g for g in groups if g) if groups is not None else None, source="upload"))
    options.check()  # bad access parameters: refused before anything is written
    if document is not None:
        _uploaded_path(rt, folder, document, name)
    loader_for(Path(name))  # an unsupported type: refused now, not in a job
    return name, options, folder


def start_upload(rt: Runtime, actor: Principal, filename: str, body: bytes, *,
                 document: str | None = None, classification: str | None = None,
                 groups: Sequence[str] | None = None) -> Job:
    """``upload`` as a background job (for large files): checked now, ingested on the
    process's job thread, the file read and chunked in a child process under hard limits
    (knowledge/isolated.py); the job reports chunks embedded, then the upload's result
    or its error. Audited as ``job.started``; the upload itself as ``document.added``."""
    name, _, _ = _checked_upload(rt, actor, filename, body, document, classification, groups)
    job = rt.job_runner.start(
        lambda: rt.jobs.create("upload", actor.id, note=f"reading {name}"),
        lambda progress: upload(rt, actor, filename, body, document=document,
                                classification=classification, groups=groups,
                                progress=progress, isolated=True).to_dict())
    events.record(rt, actor, "job.started", job.id, {"kind": "upload", "bytes": len(body)})
    return job


def _uploaded_path(rt: Runtime, folder: Path, document: str, name: str) -> Path:
    """The stored file of uploaded document ``document``, which a new version replaces."""
    try:
        doc = rt.documents.get(document)
    except NotFoundError:
        raise _not_found(document) from None
    path = Path(doc.uri.split(RECORD_MARK)[0])
    if folder not in path.parents:
        raise InvalidInputError(f"document {document} was not uploaded (it comes from "
                                "`charter kb add` or `kb sync`); change its file instead")
    if path.suffix.lower() != Path(name).suffix.lower():
        raise InvalidInputError(f"document {document} is a {path.suffix or 'plain'} file; a "
                                f"new version must be one too, not {Path(name).suffix or 'plain'}")
    return path


def _without_paths(reason: str, target: Path) -> str:
    return reason.replace(str(target), target.name).replace(str(target.parent), "uploads")


def remove(rt: Runtime, actor: Principal, keys: Sequence[str], *,
           exact: bool = False) -> list[DocumentRecord]:
    """Remove documents with their chunks and vectors. Managing documents is the admin
    role's whatever the admin's own clearance; ``exact`` takes ids only (the API), else
    ids, unique id prefixes and paths as ``resolve`` does (the CLI)."""
    require(actor, "admin")
    manager = Principal(actor.id, actor.roles, "restricted", frozenset({"*"}), actor.tier)
    docs = [rt.documents.get(k) if exact else resolve(rt, manager, k) for k in keys]
    if exact and any(d.id != k for d, k in zip(docs, keys, strict=True)):
        raise _not_found(next(k for d, k in zip(docs, keys, strict=True) if d.id != k))
    rt.documents.remove([d.id for d in docs])
    events.record(rt, actor, "document.removed", "kb", {"documents": [d.id for d in docs]})
    return docs


def reindex(rt: Runtime, actor: Principal) -> tuple[int, float]:
    """Re-embed every chunk with the current embedding alias."""
    require(actor, "admin")
    embedder = rt.embedder()
    count, seconds = run_reindex(rt.db, embedder)
    events.record(rt, actor, "index.rebuilt", "kb",
                  {"chunks": count, "embedding_model": embedder.model_id})
    return count, seconds


def rescreen(rt: Runtime, actor: Principal,
             progress: Callable[[int], None] | None = None) -> RescreenReport:
    """Screen every stored chunk without a verdict from the current injection detector
    (after the detector, its weights or the embedding model changed, or for chunks
    ingested before verdicts were stored). Retrieval screens such chunks itself until
    then, so this only saves that work per request."""
    require(actor, "admin")
    report = run_rescreen(rt.documents, rt.screen.passage_checker(),
                          batch=rt.settings.kb_batch_chunks, progress=progress)
    events.record(rt, actor, "index.rescreened", "kb",
                  {"chunks": report.screened, "flagged": report.flagged,
                   "detector": report.detector})
    return report


def search(rt: Runtime, actor: Principal, query: str, *, k: int = 5, mode: Mode = "hybrid",
           filters: SearchFilters | None = None) -> list[Hit]:
    """Hybrid search inside the caller's access, without composing an answer."""
    s = rt.settings
    searcher = Searcher(rt.db, rt.embedder(), fusion=s.kb_fusion, alpha=s.kb_alpha)
    return searcher.search(actor, query, k=k, mode=mode, filters=filters)


def status(rt: Runtime, actor: Principal) -> dict[str, Any]:
    """Counts, the index's embedding model and its generation. Admins (who manage every
    document) get the whole store's counts; reviewers the documents and chunks they may
    read, so a count never tells of a document beyond their access."""
    require(actor, "reviewer")
    info = rt.documents.index_info()
    if actor.has_role("admin"):
        counts = rt.documents.counts()
        checks = rt.documents.check_counts(rt.screen.passage_checker().version)
        counts.update({"screened": checks["current"], "flagged": checks["flagged"],
                       "unscreened": checks["stale"]})
    else:
        readable = list_documents(rt, actor)
        counts = {"documents": len(readable), "chunks": sum(d.chunk_count for d in readable)}
    return {"counts": counts, "embedding_model": info[0] if info else None,
            "dimension": info[1] if info else None, "generation": rt.documents.generation()}
