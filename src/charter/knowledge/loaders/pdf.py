"""PDF, through pypdf: text per page, so citations can name the page."""

from __future__ import annotations

from pathlib import Path

from charter.knowledge.loaders import Block, LoadedDocument, LoaderError, RecordOptions, paragraphs


class PdfLoader:
    extensions = (".pdf",)

    def load(self, path: Path, records: RecordOptions) -> list[LoadedDocument]:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(str(path))
            if reader.is_encrypted:
                try:
                    ok = reader.decrypt("")
                except Exception:  # noqa: BLE001 - any failure means we cannot open it
                    ok = 0
                if not ok:
                    raise LoaderError("the PDF is encrypted; save an unencrypted copy")
            blocks: list[Block] = []
            for number, page in enumerate(reader.pages, start=1):
                text = page.extract_text() or ""
                blocks.extend(Block(p, page=number) for p in paragraphs(text))
            meta_title = (reader.metadata.title if reader.metadata else None) or ""
        except LoaderError:
            raise
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LoaderError(f"the PDF is damaged or not a PDF ({exc})") from None
        if not blocks:
            raise LoaderError("the PDF has no extractable text (scanned images need OCR first)")
        title = str(meta_title).strip() or path.stem.replace("_", " ").replace("-", " ")
        return [LoadedDocument(title, blocks)]
