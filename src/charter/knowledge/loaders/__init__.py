"""Loaders turn a file into ``LoadedDocument``s: a title and a list of structural blocks.

Built-in loaders register through the ``charter.loaders`` entry point group, keyed by
file extension, exactly as a plugin would. A loader raises ``LoaderError`` with a
reason for a corrupt, encrypted, empty or unsupported file; ingestion reports it by
name and carries on with the rest of the batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

from charter.core import plugins
from charter.core.errors import InvalidInputError


class LoaderError(InvalidInputError):
    """A file could not be turned into text."""

    status = 422
    code = "unreadable_document"


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


class Loader(Protocol):
    extensions: tuple[str, ...]

    def load(self, path: Path, records: RecordOptions) -> list[LoadedDocument]: ...


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


def load(path: Path, records: RecordOptions | None = None) -> list[LoadedDocument]:
    """Load one file; raises ``LoaderError`` with the reason when it cannot."""
    loader = loader_for(path)
    try:
        if path.stat().st_size == 0:
            raise LoaderError("the file is empty")
        docs = loader.load(path, records or RecordOptions())
    except LoaderError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, KeyError) as exc:
        raise LoaderError(f"cannot read the file: {exc}") from None
    docs = [d for d in docs if any(b.text.strip() for b in d.blocks)]
    if not docs:
        raise LoaderError("no text found in the file")
    return docs


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
