"""Plain text and Markdown."""

from __future__ import annotations

import re
from pathlib import Path

from charter.knowledge.loaders import Block, LoadContext, LoadedDocument, paragraphs, read_text

# Linear-time patterns only (tests/core/test_patterns_linear.py): a heading's closing
# hashes are stripped in Python, and link and emphasis spans are bounded, so no input
# makes the engine try each start position against the rest of the line.
_HEADING = re.compile(r"(#{1,6})[ \t]+(.*)")
_LINK = re.compile(r"\[([^\[\]\n]{1,1000})\]\([^()\n]{1,2000}\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)([^\n]{1,500}?)(?<=\S)\1")


def heading(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX heading line (``## Title ##``), None for any other line."""
    match = _HEADING.match(line)
    if match is None:
        return None
    title = match.group(2).rstrip()
    bare = title.rstrip("#")
    if bare != title and (not bare or bare[-1] in " \t"):  # a closing run of hashes
        title = bare.rstrip()
    return (len(match.group(1)), title) if title else None


def _title_from(path: Path, blocks: list[Block]) -> str:
    for b in blocks:
        if b.kind == "heading":
            return b.text
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize()


class TextLoader:
    extensions = (".txt", ".text")

    def load(self, path: Path, context: LoadContext) -> list[LoadedDocument]:
        text = read_text(path).replace("\r\n", "\n")
        if "\n\n" not in text.strip():
            # No blank lines: one paragraph per line (common in exported articles).
            text = "\n\n".join(text.split("\n"))
        blocks: list[Block] = []
        for para in paragraphs(text):
            context.add(blocks, Block(para))
        # A first short line with no full stop reads as the document's title.
        title = _title_from(path, [])
        if blocks:
            first = blocks[0].text.splitlines()[0]
            if len(first) < 120 and not first.rstrip().endswith((".", ":", "?", "!")):
                title = first.strip()
        return [LoadedDocument(title, blocks)]


class MarkdownLoader:
    extensions = (".md", ".markdown")

    def load(self, path: Path, context: LoadContext) -> list[LoadedDocument]:
        blocks: list[Block] = []
        in_code = False
        buffer: list[str] = []

        def flush() -> None:
            if buffer:
                for para in paragraphs("\n".join(buffer)):
                    context.add(blocks, Block(_plain(para)))
                buffer.clear()

        for line in read_text(path).splitlines():
            if line.strip().startswith("```"):
                in_code = not in_code
                buffer.append(line)
                continue
            found = None if in_code else heading(line)
            if found:
                flush()
                context.add(blocks, Block(_plain(found[1]), "heading", found[0]))
            else:
                buffer.append(line)
        flush()
        return [LoadedDocument(_title_from(path, blocks), blocks)]


def _plain(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    return _EMPHASIS.sub(r"\2", text)
