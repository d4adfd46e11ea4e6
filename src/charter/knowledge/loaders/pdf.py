"""PDF, through pypdf: text per page, so citations can name the page.

The page tree is counted before any page is read, without trusting its ``/Count``: a
tree that names one node many times (ten thousand pages in a kilobyte) is over
``kb_max_pages`` at once instead of after minutes of text extraction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charter.knowledge.loaders import (
    Block,
    LoadContext,
    LoadedDocument,
    LoaderError,
    LimitError,
    over_limit,
    paragraphs,
)


def count_pages(root: Any, limit: int) -> int:
    """Pages of the page tree under ``root``, walked without recursion, stopping past
    ``limit``; a node reached twice counts each time, as a reader would show it. A node
    is a page by pypdf's rule: ``/Type /Pages`` (or no type, with ``/Kids``) is a branch,
    anything else a page, whatever ``/Kids`` it also carries."""
    pages = 0
    stack = [root]
    visits = 0
    while stack:
        node = stack.pop().get_object()
        visits += 1
        if visits > 4 * limit + 64:  # interior nodes too: a tree of empty /Kids
            break
        kind = node.get("/Type") if hasattr(node, "get") else None
        kids = node.get("/Kids") if hasattr(node, "get") else None
        if kind != "/Pages" and not (kind is None and kids is not None):
            pages += 1
            if pages > limit:
                break
        else:
            stack.extend(kids)
    return pages if visits <= 4 * limit + 64 else limit + 1


class PdfLoader:
    extensions = (".pdf",)

    def load(self, path: Path, context: LoadContext) -> list[LoadedDocument]:
        from pypdf import PdfReader
        from pypdf.errors import LimitReachedError, PyPdfError

        try:
            reader = PdfReader(str(path))
            if reader.is_encrypted:
                try:
                    ok = reader.decrypt("")
                except Exception:  # noqa: BLE001 - any failure means we cannot open it
                    ok = 0
                if not ok:
                    raise LoaderError("the PDF is encrypted; save an unencrypted copy")
            limit = context.limits.pages
            if count_pages(reader.trailer["/Root"]["/Pages"], limit) > limit:
                raise over_limit(f"has more than {limit:,} pages", limit,
                                 "kb_max_pages")
            blocks: list[Block] = []
            for number, page in enumerate(reader.pages, start=1):
                context.tick()
                text = page.extract_text() or ""
                for para in paragraphs(text):
                    context.add(blocks, Block(para, page=number))
            meta_title = (reader.metadata.title if reader.metadata else None) or ""
        except LoaderError:
            raise
        except LimitReachedError as exc:  # pypdf's own bound on a decompressed stream
            raise LimitError(f"a stream in the PDF expands past pypdf's limit ({exc}); "
                             "the file may be a decompression bomb") from None
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LoaderError(f"the PDF is damaged or not a PDF ({exc})") from None
        if not blocks:
            raise LoaderError("the PDF has no extractable text (scanned images need OCR first)")
        title = str(meta_title).strip() or path.stem.replace("_", " ").replace("-", " ")
        return [LoadedDocument(title, blocks)]
