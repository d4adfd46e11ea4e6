"""A scratch Charter for a benchmark or an evaluation suite: its own data folder and
SQLite database, the given folders ingested, everything removed afterwards."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from charter.core.config import Settings
from charter.core.errors import InvalidInputError
from charter.knowledge.ingest import IngestOptions, Ingestor
from charter.runtime import Runtime


@contextlib.contextmanager
def scratch_runtime(settings: Settings, folders: Iterable[Path] = (), *, prefix: str,
                    log: Callable[[str], None] = lambda _: None) -> Iterator[Runtime]:
    folders = list(folders)
    missing = [str(f) for f in folders if not f.exists()]
    if missing:
        raise InvalidInputError(f"knowledge folder(s) not found: {', '.join(missing)}")
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        rt = Runtime.open(settings.with_overrides(data_dir=str(work / "data"), database_url=""))
        try:
            if folders:
                ingestor = Ingestor(rt.db, rt.embedder())
                for folder in folders:
                    report = ingestor.add([folder], IngestOptions(
                        chunk_size=settings.kb_chunk_size,
                        chunk_overlap=settings.kb_chunk_overlap))
                    log(f"ingested {folder}: {report.summary()}")
            yield rt
        finally:
            rt.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
