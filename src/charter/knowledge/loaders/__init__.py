"""Loaders turn a file into ``LoadedDocument``s: a title and a list of structural blocks.

Built-in loaders register through the ``charter.loaders`` entry point group, keyed by
file extension, exactly as a plugin would. A loader raises ``LoaderError`` with a
reason for a corrupt, encrypted, empty or unsupported file; ingestion reports it by
name and carries on with the rest of the batch.

Every load runs inside ``LoadLimits`` (pages, blocks, chunks, archive expansion, nesting
depth and seconds, each a setting): a loader counts what it makes through its
``LoadContext`` and stops with ``LimitError`` (413, naming the limit and its setting)
as soon as a file asks for more, so a small crafted file cannot cost minutes or
gigabytes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

from charter.core import plugins
from charter.core.errors import InvalidInputError
from charter.core.text import text_problem


class LoaderError(InvalidInputError):
    """A file could not be turned into text."""

    status = 422
    code = "unreadable_document"


class LimitError(LoaderError):
    """A file asks for more work than a loader limit allows."""

    status = 413
    code = "document_too_large"


@dataclass(frozen=True)
class Block:
    """A heading or a paragraph of a document, with the page it is on when known."""

    text: str
    kind: Literal["heading", "paragraph"] = "paragraph"
    level: int = 0
    page: int | None = None


@dataclass
class LoadedDocument:
    """One document's text as structure. ``key`` tells records of one file apart."""

    title: str
    blocks: list[Block]
    key: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)


@dataclass(frozen=True)
class RecordOptions:
    """How to read CSV and JSONL rows as documents."""

    text_column: str = "text"
    id_column: str | None = None
    title_column: str | None = None
    meta_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadLimits:
    """How much one file may ask of a loader; each field is the setting ``kb_max_<name>``
    (``kb_load_seconds`` for ``seconds``)."""

    pages: int = 2_000
    blocks: int = 100_000
    chunks: int = 20_000
    expanded_mb: float = 100.0
    expansion_ratio: float = 100.0
    depth: int = 64
    seconds: float = 120.0

    @classmethod
    def from_settings(cls, settings: Any) -> LoadLimits:
        return cls(pages=settings.kb_max_pages, blocks=settings.kb_max_blocks,
                   chunks=settings.kb_max_chunks, expanded_mb=settings.kb_max_expanded_mb,
                   expansion_ratio=settings.kb_max_expansion_ratio,
                   depth=settings.kb_max_depth, seconds=settings.kb_load_seconds)


def over_limit(found: str, limit: float, setting: str) -> LimitError:
    """The error for a file over one limit: what it has, the limit and its setting."""
    return LimitError(f"the file {found}, over the limit of {limit:,g} set by {setting}; "
                      "split the file, or raise the setting")


@dataclass
class LoadContext:
    """One file's load: the record options, the limits, and the work done so far."""

    records: RecordOptions = field(default_factory=RecordOptions)
    limits: LoadLimits = field(default_factory=LoadLimits)
    started: float = field(default_factory=time.monotonic)
    blocks: int = 0

    def tick(self) -> None:
        """Stop when the file has taken longer than ``kb_load_seconds``."""
        if time.monotonic() - self.started > self.limits.seconds:
            raise LimitError(f"reading the file took more than {self.limits.seconds:g} s "
                             "(setting kb_load_seconds: raise it, or split the file)")

    def add_blocks(self, count: int = 1) -> None:
        """Count blocks (paragraphs, headings, rows) made; stop past ``kb_max_blocks``."""
        self.blocks += count
        if self.blocks > self.limits.blocks:
            raise over_limit(f"has more than {self.limits.blocks:,} paragraphs, "
                             "headings, table rows or records", self.limits.blocks,
                             "kb_max_blocks")
        if self.blocks % 1024 == 0:
            self.tick()

    def add(self, blocks: list[Block], block: Block) -> None:
        self.add_blocks()
        blocks.append(block)


class Loader(Protocol):
    extensions: tuple[str, ...]

    def load(self, path: Path, context: LoadContext) -> list[LoadedDocument]: ...


@cache
def _registry() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for cls in plugins.load_all(plugins.LOADERS, what="loader").values():
        for ext in cls.extensions:
            found[ext] = cls
    return found


def supported_extensions() -> list[str]:
    return sorted(_registry())


def loader_for(path: Path) -> Loader:
    ext = path.suffix.lower()
    cls = _registry().get(ext)
    if cls is None:
        raise LoaderError(
            f"unsupported file type '{ext or path.name}'; supported: "
            + ", ".join(supported_extensions())
        )
    return cls()


def load(path: Path, records: RecordOptions | None = None,
         limits: LoadLimits | None = None) -> list[LoadedDocument]:
    """Load one file within ``limits``; raises ``LoaderError`` with the reason when it
    cannot (``LimitError`` when the file is over a limit)."""
    loader = loader_for(path)
    context = LoadContext(records or RecordOptions(), limits or LoadLimits())
    try:
        if path.stat().st_size == 0:
            raise LoaderError("the file is empty")
        docs = loader.load(path, context)
    except LoaderError:
        raise
    except RecursionError:
        raise over_limit("is nested too deeply to read", context.limits.depth,
                         "kb_max_depth") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError) as exc:
        raise LoaderError(f"cannot read the file: {exc}") from None
    docs = [_well_formed(d) for d in docs if any(b.text.strip() for b in d.blocks)]
    if not docs:
        raise LoaderError("no text found in the file")
    return docs


def clean_text(text: str) -> str:
    """``text`` fit to store on any database: NUL removed, a lone UTF-16 surrogate (a
    JSON escape can make one) replaced by '?'."""
    if text_problem(text) is None:
        return text
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    return value


def _well_formed(doc: LoadedDocument) -> LoadedDocument:
    """A document whose every string can be stored (see ``clean_text``)."""
    blocks = [b if text_problem(b.text) is None else
              Block(clean_text(b.text), b.kind, b.level, b.page) for b in doc.blocks]
    return LoadedDocument(clean_text(doc.title), blocks, clean_text(doc.key),
                          _clean_value(doc.metadata))


def paragraphs(text: str) -> Iterable[str]:
    """Blank-line separated paragraphs, whitespace tidied."""
    for para in text.replace("\r\n", "\n").split("\n\n"):
        cleaned = "\n".join(line.rstrip() for line in para.strip().splitlines())
        if cleaned:
            yield cleaned


def read_text(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LoaderError("the file is not text in UTF-8 or Windows-1252")
