"""Structure-following chunking.

Chunks never cross a heading; inside a section, paragraphs are packed up to ``size``
characters, a paragraph longer than that is split at sentence ends, and a chunk that
had to stop for size starts the next one with its last sentences (up to ``overlap``
characters). Each chunk's text is an exact slice of the document's text, so its
character offsets, heading path and page point at what a citation quotes.
"""

from __future__ import annotations

from dataclasses import dataclass

from charter.core.errors import InvalidInputError
from charter.knowledge.loaders import LoadedDocument
from charter.core.text import split_sentences

SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str
    heading: str
    page: int | None
    start: int
    end: int

    def location(self) -> str:
        parts = []
        if self.heading:
            parts.append(self.heading)
        if self.page is not None:
            parts.append(f"page {self.page}")
        parts.append(f"chars {self.start}-{self.end}")
        return ", ".join(parts)


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    page: int | None
    sentence: bool


def chunk_document(doc: LoadedDocument, *, size: int = 1000, overlap: int = 150) -> list[Chunk]:
    if size < 100:
        raise InvalidInputError("chunk size must be at least 100 characters")
    if not 0 <= overlap < size // 2:
        raise InvalidInputError("chunk overlap must be between 0 and half the chunk size")
    text = doc.text
    sections: list[tuple[str, list[_Unit]]] = []
    headings: dict[int, str] = {}
    current: list[_Unit] = []
    path = ""
    offset = 0
    for block in doc.blocks:
        start, end = offset, offset + len(block.text)
        offset = end + len(SEPARATOR)
        if block.kind == "heading":
            if current:
                sections.append((path, current))
            current = []
            headings = {lvl: h for lvl, h in headings.items() if lvl < block.level}
            headings[block.level] = block.text
            path = " > ".join(headings[k] for k in sorted(headings))
            continue
        if end - start <= size:
            current.append(_Unit(start, end, block.page, False))
            continue
        cursor = start
        for sentence in split_sentences(block.text):
            found = text.find(sentence[:40], cursor, end)
            s_start = found if found >= 0 else cursor
            s_end = min(end, s_start + len(sentence))
            # A sentence longer than a chunk is cut into pieces of chunk size.
            while s_end - s_start > size:
                current.append(_Unit(s_start, s_start + size, block.page, True))
                s_start += size
            current.append(_Unit(s_start, s_end, block.page, True))
            cursor = s_end
    if current:
        sections.append((path, current))

    chunks: list[Chunk] = []
    for heading, units in sections:
        batch: list[_Unit] = []
        for unit in units:
            if batch and unit.end - batch[0].start > size:
                chunks.append(_make(text, len(chunks), heading, batch))
                batch = _overlap(batch, overlap, unit, size)
            batch.append(unit)
        if batch:
            chunks.append(_make(text, len(chunks), heading, batch))
    return chunks


def _overlap(previous: list[_Unit], overlap: int, incoming: _Unit, size: int) -> list[_Unit]:
    kept: list[_Unit] = []
    for unit in reversed(previous):
        if not unit.sentence or (previous[-1].end - unit.start) > overlap:
            break
        if incoming.end - unit.start > size:
            break
        kept.insert(0, unit)
    return kept


def _make(text: str, ordinal: int, heading: str, units: list[_Unit]) -> Chunk:
    start, end = units[0].start, units[-1].end
    return Chunk(ordinal, text[start:end], heading, units[0].page, start, end)
