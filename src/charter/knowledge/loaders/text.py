"""Plain text and Markdown."""

from __future__ import annotations

import re
from pathlib import Path

from charter.knowledge.loaders import Block, LoadedDocument, RecordOptions, paragraphs, read_text

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


def _title_from(path: Path, blocks: list[Block]) -> str:
    for b in blocks:
        if b.kind == "heading":
            return b.text
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize()


class TextLoader:
    extensions = (".txt", ".text")

    def load(self, path: Path, records: RecordOptions) -> list[LoadedDocument]:
        text = read_text(path).replace("\r\n", "\n")
        if "\n\n" not in text.strip():
            # No blank lines: one paragraph per line (common in exported articles).
            text = "\n\n".join(text.split("\n"))
        blocks = [Block(p) for p in paragraphs(text)]
        # A first short line with no full stop reads as the document's title.
        title = _title_from(path, [])
        if blocks:
            first = blocks[0].text.splitlines()[0]
            if len(first) < 120 and not first.rstrip().endswith((".", ":", "?", "!")):
                title = first.strip()
        return [LoadedDocument(title, blocks)]


class MarkdownLoader:
    extensions = (".md", ".markdown")

    def load(self, path: Path, records: RecordOptions) -> list[LoadedDocument]:
        blocks: list[Block] = []
        in_code = False
        buffer: list[str] = []

        def flush() -> None:
            if buffer:
                for para in paragraphs("\n".join(buffer)):
                    blocks.append(Block(_plain(para)))
                buffer.clear()

        for line in read_text(path).splitlines():
            if line.strip().startswith("```"):
                in_code = not in_code
                buffer.append(line)
                continue
            match = None if in_code else _HEADING.match(line)
            if match:
                flush()
                blocks.append(Block(_plain(match.group(2)), "heading", len(match.group(1))))
            else:
                buffer.append(line)
        flush()
        return [LoadedDocument(_title_from(path, blocks), blocks)]


def _plain(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    return _EMPHASIS.sub(r"\2", text)
