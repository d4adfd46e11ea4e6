"""Word documents, through python-docx: paragraphs and 'Heading N' styles.

A .docx is a zip archive, so before python-docx parses it the archive's members are
checked against ``kb_max_expanded_mb`` (their total size unpacked) and
``kb_max_expansion_ratio`` (how far any large member inflates): 27 KB that unpack to
18 MB of empty paragraphs are refused in milliseconds instead of costing a minute and
a gigabyte of parsed XML.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from charter.knowledge.loaders import (
    Block,
    LoadContext,
    LoadedDocument,
    LoaderError,
    LoadLimits,
    over_limit,
)

# Members smaller than this are not held to the ratio: a few kilobytes of repetitive XML
# inflate far, harmlessly.
RATIO_FLOOR_BYTES = 1 << 20


def check_archive(path: Path, limits: LoadLimits) -> None:
    """Refuse an archive whose members unpack past the limits, from its directory alone
    (the sizes it declares; zipfile refuses to unpack more than a member declares)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise LoaderError(f"the .docx is damaged or not a Word file ({exc})") from None
    total = sum(m.file_size for m in members)
    if total > limits.expanded_mb * (1 << 20):
        raise over_limit(f"unpacks to {total / (1 << 20):,.0f} MiB",
                         limits.expanded_mb, "kb_max_expanded_mb")
    for m in members:
        if m.file_size >= RATIO_FLOOR_BYTES:
            ratio = m.file_size / max(m.compress_size, 1)
            if ratio > limits.expansion_ratio:
                raise over_limit(f"has a member ({m.filename}) that unpacks to {ratio:,.0f} "
                                 "times its packed size", limits.expansion_ratio,
                                 "kb_max_expansion_ratio")


class DocxLoader:
    extensions = (".docx",)

    def load(self, path: Path, context: LoadContext) -> list[LoadedDocument]:
        import docx

        check_archive(path, context.limits)
        try:
            document = docx.Document(str(path))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise LoaderError(f"the .docx is damaged, encrypted or not a Word file ({exc})") from None
        except Exception as exc:  # python-docx raises its own PackageNotFoundError
            raise LoaderError(
                f"the .docx is damaged or not a Word file ({type(exc).__name__})"
            ) from None
        blocks: list[Block] = []
        for para in document.paragraphs:
            context.add_blocks()  # empty paragraphs are work too
            text = " ".join(para.text.split())
            if not text:
                continue
            style = (para.style.name or "") if para.style is not None else ""
            if style.lower().startswith("heading") and style[-1:].isdigit():
                blocks.append(Block(text, "heading", int(style[-1])))
            elif style.lower() == "title":
                blocks.append(Block(text, "heading", 1))
            else:
                blocks.append(Block(text))
        for table in document.tables:
            for row in table.rows:
                cells = [" ".join(c.text.split()) for c in row.cells]
                line = " | ".join(c for c in cells if c)
                if line:
                    context.add(blocks, Block(line))
        title = (document.core_properties.title or "").strip() or next(
            (b.text for b in blocks if b.kind == "heading"), path.stem)
        return [LoadedDocument(title, blocks)]
