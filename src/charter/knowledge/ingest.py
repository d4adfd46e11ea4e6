"""Ingestion: files and folders into the knowledge base, incrementally by content hash.

Unchanged files cost a hash and nothing else. New and changed files are loaded,
chunked and embedded in batches across files (the embedding model is the slow part,
and it is fastest on full batches), then each batch is written in one transaction.
A file that cannot be read is reported with the reason and the rest carry on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charter.backends.base import Embedder
from charter.core.errors import InvalidInputError
from charter.knowledge.chunking import Chunk, chunk_document
from charter.core.chat import PassageCheck
from charter.knowledge.isolated import load_isolated
from charter.knowledge.loaders import (
    LoadedDocument,
    LoaderError,
    LoadLimits,
    RecordOptions,
    load,
    loader_for,
    over_limit,
)
from charter.knowledge.store import (
    DocumentStore,
    DocumentWrite,
    clearance_level,
    encode_names,
    index_body,
    open_store,
)
from charter.knowledge.screening import PassageChecker, check_chunks
from charter.store.db import Database

RECORD_MARK = "#row="
Progress = Callable[[int, int, str], None]  # (done, total, what): files, or chunks embedded


@dataclass(frozen=True)
class IngestOptions:
    """Access and chunking options. ``None`` access fields keep what a document has
    (or ``internal`` and no groups for a new one)."""

    classification: str | None = None
    groups: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    source: str | None = None
    records: RecordOptions = field(default_factory=RecordOptions)
    chunk_size: int = 1000
    chunk_overlap: int = 150
    limits: LoadLimits = field(default_factory=LoadLimits)
    # Load and chunk each file in a child process capped at this many MiB and killed
    # after limits.seconds (knowledge/isolated.py); 0: in this process.
    isolate_mb: int = 0

    def check(self) -> None:
        if self.classification is not None:
            clearance_level(self.classification)
        encode_names(self.groups or (), "group")
        encode_names(self.tags or (), "tag")


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    rescreened: int = 0  # stored chunks screened again (the detector changed since)

    def summary(self) -> str:
        return (f"added {len(self.added)}, updated {len(self.updated)}, unchanged "
                f"{len(self.unchanged)}, removed {len(self.removed)}, failed {len(self.failed)}")


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def walk(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to ingest (folders recursively, hidden entries skipped) and missing paths."""
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    for raw in paths:
        path = raw.expanduser().resolve()
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            missing.append((str(raw), "no such file or folder"))
    return files, missing


# A large ingest refreshes the planner statistics (and PostgreSQL's visibility map, which
# index-only scans of the keyword postings need) instead of waiting for autovacuum.
STATISTICS_AFTER_CHUNKS = 1000


class Ingestor:
    """Adds, updates and removes documents; one instance per command or job."""

    def __init__(self, db: Database, embedder: Embedder, *, batch_chunks: int = 256,
                 progress: Progress | None = None,
                 chunk_progress: Progress | None = None,
                 checker: PassageChecker | None = None) -> None:
        self.store: DocumentStore = open_store(db)
        self.embedder = embedder
        # Screens each new chunk for injected instructions; the verdict is stored with it.
        self.checker = checker
        self.batch_chunks = batch_chunks
        self.progress = progress  # per file
        self.chunk_progress = chunk_progress  # per batch of chunks embedded
        self.embed_seconds = 0.0
        self.screen_seconds = 0.0

    def add(self, paths: Sequence[Path], options: IngestOptions | None = None, *,
            strict: bool = False) -> IngestReport:
        """Ingest files and folders; changed files are re-ingested, unchanged ones skipped.
        A file that cannot be loaded is reported and the rest carry on, unless ``strict``
        (one upload): then its ``LoaderError`` is raised and nothing is written."""
        options = options or IngestOptions()
        options.check()
        files, missing = walk(paths)
        report = IngestReport(failed=list(missing))
        self._ingest(files, options, report, strict=strict)
        return report

    def sync(self, folder: Path, options: IngestOptions | None = None) -> IngestReport:
        """Make the knowledge base match a folder: add new, update changed, remove deleted."""
        folder = folder.expanduser().resolve()
        if not folder.is_dir():
            raise InvalidInputError(f"{folder} is not a folder; `charter kb sync` takes a folder "
                                    "(use `charter kb add` for single files)")
        options = options or IngestOptions()
        options = dataclasses.replace(options, source=options.source or folder.name)
        options.check()
        files, _ = walk([folder])
        report = IngestReport()
        self._ingest(files, options, report)
        present = {str(f) for f in files}
        prefix = str(folder) + os.sep
        gone = [d for d in self.store.list(prefix=prefix)
                if d.uri.split(RECORD_MARK)[0] not in present]
        self.store.remove([d.id for d in gone])
        report.removed.extend(d.uri for d in gone)
        return report

    # -- internals -------------------------------------------------------------------

    def _ingest(self, files: list[Path], options: IngestOptions, report: IngestReport, *,
                strict: bool = False) -> None:
        import time

        started = time.perf_counter()
        self.embed_seconds = 0.0
        info = self.store.index_info()
        if info is not None and info[0] != self.embedder.model_id:
            # Fail before any work: vectors from two models must never share an index.
            self.store.ensure_index(self.embedder.model_id, self.embedder.dimension)
        pending: list[DocumentWrite] = []
        stale: list[str] = []
        pending_chunks = 0
        for done, path in enumerate(files, start=1):
            try:
                writes, gone = self._prepare(path, options, report)
            except LoaderError as exc:
                if strict:
                    raise
                report.failed.append((str(path), exc.message))
                writes, gone = [], []
            except OSError as exc:
                report.failed.append((str(path), f"cannot read the file: {exc.strerror}"))
                writes, gone = [], []
            # A file's documents (every row of a record file) and the rows it no longer
            # has are written in one transaction: a crash leaves it wholly old or new.
            pending.extend(writes)
            stale.extend(gone)
            pending_chunks += sum(len(w.chunks) for w in writes)
            if pending_chunks >= self.batch_chunks:
                self._flush(pending, report, stale)
                pending, stale, pending_chunks = [], [], 0
            if self.progress:
                self.progress(done, len(files), str(path))
        if pending or stale:
            self._flush(pending, report, stale)
        if report.chunks >= STATISTICS_AFTER_CHUNKS:
            self.store.refresh_statistics()
        report.seconds = time.perf_counter() - started

    def _prepare(self, path: Path, options: IngestOptions,
                 report: IngestReport) -> tuple[list[DocumentWrite], list[str]]:
        """The documents to write for one file, and the ids of its rows that are gone."""
        loader_for(path)  # unsupported types fail before hashing
        digest = file_hash(path)
        uri = str(path)
        is_records = path.suffix.lower() in (".csv", ".jsonl", ".ndjson")
        if is_records:
            existing_rows = self.store.list(prefix=uri + RECORD_MARK)
            unchanged = bool(existing_rows) and all(r.content_hash == digest
                                                    for r in existing_rows)
        else:
            existing = self.store.find(uri)
            unchanged = existing is not None and existing.content_hash == digest
        if unchanged:
            self._maybe_update_access(path, options, report,
                                      existing.id if not is_records else None, uri)
            return [], []
        writes = []
        chunked = 0
        for doc, chunks in self._load(path, options):
            doc_uri = f"{uri}{RECORD_MARK}{doc.key}" if is_records else uri
            prior = self.store.find(doc_uri)
            chunked += len(chunks)
            if chunked > options.limits.chunks:
                raise over_limit(f"makes more than {options.limits.chunks:,} chunks "
                                 f"of up to {options.chunk_size:,} characters",
                                 options.limits.chunks, "kb_max_chunks")
            writes.append(DocumentWrite(
                uri=doc_uri, source=options.source or path.parent.name, title=doc.title,
                content_hash=digest,
                classification=options.classification or (prior.classification if prior else "internal"),
                groups=options.groups if options.groups is not None else (prior.groups if prior else ()),
                tags=options.tags if options.tags is not None else (prior.tags if prior else ()),
                loader=path.suffix.lower().lstrip("."), chars=len(doc.text), chunks=chunks,
                vectors=np.zeros((0, 0)), metadata=doc.metadata,
            ))
            (report.updated if prior else report.added).append(doc_uri)
        gone: list[str] = []
        if is_records:  # rows that disappeared from a changed file
            keep = {w.uri for w in writes}
            stale = [d for d in existing_rows if d.uri not in keep]
            gone = [d.id for d in stale]
            report.removed.extend(d.uri for d in stale)
        return writes, gone

    @staticmethod
    def _load(path: Path, options: IngestOptions
              ) -> Iterable[tuple[LoadedDocument, list[Chunk]]]:
        """Each document of the file with its chunks (in a child process when asked)."""
        if options.isolate_mb:
            return load_isolated(path, options.records, options.limits,
                                 size=options.chunk_size, overlap=options.chunk_overlap,
                                 memory_mb=options.isolate_mb)
        docs = load(path, options.records, options.limits)
        return ((d, chunk_document(d, size=options.chunk_size, overlap=options.chunk_overlap))
                for d in docs)

    def _maybe_update_access(self, path: Path, options: IngestOptions, report: IngestReport,
                             doc_id: str | None, uri: str) -> None:
        targets = [self.store.get(doc_id)] if doc_id else self.store.list(prefix=uri + RECORD_MARK)
        changed = False
        for doc in targets:
            want = (options.classification or doc.classification,
                    sorted(options.groups) if options.groups is not None else doc.groups,
                    sorted(options.tags) if options.tags is not None else doc.tags)
            if want != (doc.classification, doc.groups, doc.tags):
                self.store.update_access(doc.id, *want)
                changed = True
        (report.updated if changed else report.unchanged).append(uri)

    def _flush(self, pending: list[DocumentWrite], report: IngestReport,
               stale: Sequence[str] = ()) -> None:
        import time

        bodies = [index_body(w.title, c) for w in pending for c in w.chunks]
        t0 = time.perf_counter()
        parts = []
        for at in range(0, len(bodies), self.batch_chunks):
            parts.append(np.asarray(self.embedder.embed(bodies[at:at + self.batch_chunks]),
                                    dtype=np.float32))
            if self.chunk_progress:
                self.chunk_progress(min(at + self.batch_chunks, len(bodies)), len(bodies),
                                    "embedding chunks")
        vectors = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        self.embed_seconds += time.perf_counter() - t0
        checks: list[PassageCheck] | None = None
        if self.checker is not None and bodies:
            report_to = self.chunk_progress
            t0 = time.perf_counter()
            checks = check_chunks(
                self.checker, [c.text for w in pending for c in w.chunks], self.batch_chunks,
                (lambda done, total: report_to(done, total, "screening chunks"))
                if report_to else None)
            self.screen_seconds += time.perf_counter() - t0
        if bodies:
            self.store.ensure_index(self.embedder.model_id, vectors.shape[1])
        offset = 0
        for w in pending:
            w.vectors = vectors[offset:offset + len(w.chunks)]
            if checks is not None:
                w.checks = checks[offset:offset + len(w.chunks)]
            offset += len(w.chunks)
        self.store.write_documents(pending, remove=stale)
        report.chunks += len(bodies)
