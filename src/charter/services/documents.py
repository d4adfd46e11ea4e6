"""The knowledge base: documents (add, upload, sync, remove, reindex), listings and search.

Listings and search show only what the caller may read (clearance and groups); writes
need the admin role and are audited as ``document.added``, ``document.synced``,
``document.removed`` and ``index.rebuilt``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from charter.core.errors import InvalidInputError, NotFoundError
from charter.core.principal import Principal, require
from charter.knowledge.ingest import IngestOptions, IngestReport, Ingestor, Progress
from charter.knowledge.reindex import reindex as run_reindex
from charter.knowledge.search import Hit, Mode, SearchFilters, Searcher
from charter.knowledge.store import DocumentRecord
from charter.runtime import Runtime
from charter.services import events


def _audited(report: IngestReport, options: IngestOptions) -> dict[str, Any]:
    """What the audit keeps of an ingest: counts and the access applied, not file names
    (reviewers read the trail; a document's path can be as telling as its text)."""
    return {"added": len(report.added), "updated": len(report.updated),
            "unchanged": len(report.unchanged), "removed": len(report.removed),
            "failed": len(report.failed), "chunks": report.chunks,
            "classification": options.classification,
            "groups": list(options.groups) if options.groups is not None else None,
            "source": options.source}


def _ingestor(rt: Runtime, progress: Progress | None = None) -> Ingestor:
    return Ingestor(rt.db, rt.embedder(), batch_chunks=rt.settings.kb_batch_chunks,
                    progress=progress)


def _options(rt: Runtime, options: IngestOptions) -> IngestOptions:
    s = rt.settings
    return IngestOptions(classification=options.classification, groups=options.groups,
                         tags=options.tags, source=options.source, records=options.records,
                         chunk_size=s.kb_chunk_size, chunk_overlap=s.kb_chunk_overlap)


def list_documents(rt: Runtime, actor: Principal, *, source: str | None = None
                   ) -> list[DocumentRecord]:
    """Documents the caller may read."""
    return [d for d in rt.documents.list(source=source)
            if actor.may_read(d.classification, d.groups)]


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
    events.record(rt, actor, "document.added", "kb", _audited(report, options))
    return report


def sync(rt: Runtime, actor: Principal, folder: Path, options: IngestOptions,
         progress: Progress | None = None) -> IngestReport:
    """Mirror a folder: add new files, re-ingest changed ones, remove deleted ones."""
    require(actor, "admin")
    report = _ingestor(rt, progress).sync(folder, _options(rt, options))
    events.record(rt, actor, "document.synced", "kb", _audited(report, options))
    return report


def upload(rt: Runtime, actor: Principal, filename: str, body: bytes, *,
           classification: str | None = None,
           groups: Sequence[str] | None = None) -> IngestReport:
    """Store one uploaded file under the data folder and ingest it. Access not given is
    kept from the stored document (a new one: ``internal``, no groups): a re-upload never
    lowers a document's access unless asked to."""
    require(actor, "admin")
    name = Path(filename).name
    if not name or name.startswith("."):
        raise InvalidInputError("filename must be a plain file name such as policy.pdf")
    if not body:
        raise InvalidInputError("the request body is empty: send the file's bytes")
    folder = rt.settings.data_path / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
        tmp.write(body)
    Path(tmp.name).replace(target)
    options = IngestOptions(classification=classification,
                            groups=tuple(g for g in groups if g) if groups is not None else None,
                            source="upload")
    report = _ingestor(rt).add([target], _options(rt, options))
    events.record(rt, actor, "document.added", "kb", _audited(report, options))
    return report


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


def search(rt: Runtime, actor: Principal, query: str, *, k: int = 5, mode: Mode = "hybrid",
           filters: SearchFilters | None = None) -> list[Hit]:
    """Hybrid search inside the caller's access, without composing an answer."""
    s = rt.settings
    searcher = Searcher(rt.db, rt.embedder(), fusion=s.kb_fusion, alpha=s.kb_alpha)
    return searcher.search(actor, query, k=k, mode=mode, filters=filters)


def status(rt: Runtime, actor: Principal) -> dict[str, Any]:
    """Counts, the index's embedding model and its generation."""
    require(actor, "reviewer")
    info = rt.documents.index_info()
    return {"counts": rt.documents.counts(), "embedding_model": info[0] if info else None,
            "dimension": info[1] if info else None, "generation": rt.documents.generation()}
