"""Word documents, through python-docx: paragraphs and 'Heading N' styles."""

from __future__ import annotations

import zipfile
from pathlib import Path

from charter.knowledge.loaders import Block, LoadedDocument, LoaderError, RecordOptions


class DocxLoader:
    extensions = (".docx",)

    def load(self, path: Path, records: RecordOptions) -> list[LoadedDocument]:
        import docx

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
                    blocks.append(Block(line))
        title = (document.core_properties.title or "").strip() or next(
            (b.text for b in blocks if b.kind == "heading"), path.stem)
        return [LoadedDocument(title, blocks)]
