"""Word documents: paragraphs, 'Heading N' styles and table rows, opened by python-docx
and read from the body's XML.

A .docx is a zip archive, so before python-docx parses it the archive's members are
checked against ``kb_max_expanded_mb`` (their total size unpacked) and
``kb_max_expansion_ratio`` (how far any large member inflates): 27 KB that unpack to
18 MB of empty paragraphs are refused in milliseconds instead of costing a minute and
a gigabyte of parsed XML.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _TBL, _TR, _TC, _SDT, _CUSTOM = (_NS + t for t in ("p", "tbl", "tr", "tc", "sdt",
                                                      "customXml"))
# Text; tabs, breaks and paragraph starts (inside a cell or a text box) read as spaces.
_TEXT = (_NS + "t", _NS + "tab", _NS + "br", _NS + "cr", _P)
# Word writes a text box twice, as the drawing (mc:Choice) and as its fallback shape.
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _text(element: Any) -> str:
    """The words under ``element`` (a paragraph or a cell), whitespace tidied."""
    return " ".join("".join((e.text or "") if e.tag == _TEXT[0] else " "
                            for e in element.iter(*_TEXT)).split())


def _unwrapped(parent: Any, wanted: tuple[str, ...]) -> Iterator[Any]:
    """``parent``'s children of the ``wanted`` tags in order, looking through content
    controls (``w:sdt``) and custom XML wrappers, however nested."""
    for child in parent.iterchildren(*wanted, _SDT, _CUSTOM):
        if child.tag == _SDT:
            content = child.find(_NS + "sdtContent")
            if content is not None:
                yield from _unwrapped(content, wanted)
        elif child.tag == _CUSTOM:
            yield from _unwrapped(child, wanted)
        else:
            yield child


def _style_names(document: Any) -> dict[str, str]:
    """Paragraph style id → name, read once (python-docx looks a style up per paragraph)."""
    names: dict[str, str] = {}
    for style in document.styles.element.iterchildren(_NS + "style"):
        name = style.find(_NS + "name")
        if style.get(_NS + "type") == "paragraph" and name is not None:
            names[style.get(_NS + "styleId") or ""] = name.get(_NS + "val") or ""
    return names


def _heading_level(style: str) -> int:
    """1–9 for 'Heading N' (and 1 for 'Title'), 0 for any other style."""
    lowered = style.lower()
    if lowered.startswith("heading") and style[-1:].isdigit():
        return int(style[-1])
    return 1 if lowered == "title" else 0


class DocxLoader:
    """Paragraphs (with 'Heading N' and 'Title' styles) and table rows, in the order the
    document holds them, read from the body's XML in one pass: each paragraph and row
    is counted (``kb_max_blocks``) and the clock checked, and a vertically merged cell
    is read once, not once per row it spans."""

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
        try:
            styles = _style_names(document)
        except Exception:  # noqa: BLE001 - a missing or odd styles part: plain paragraphs
            styles = {}
        body = document.element.body
        for fallback in list(body.iter(_FALLBACK)):
            fallback.getparent().remove(fallback)
        blocks: list[Block] = []
        for element in _unwrapped(body, (_P, _TBL)):
            if element.tag == _P:
                context.add_blocks()  # empty paragraphs are work too
                text = _text(element)
                if text:
                    style_id = element.find(f"{_NS}pPr/{_NS}pStyle")
                    style = styles.get(style_id.get(_NS + "val") or "", "") \
                        if style_id is not None else ""
                    level = _heading_level(style)
                    blocks.append(Block(text, "heading", level) if level else Block(text))
            else:
                for row in _unwrapped(element, (_TR,)):
                    context.add_blocks()
                    line = " | ".join(c for c in (_text(tc) for tc in _unwrapped(row, (_TC,)))
                                      if c)
                    if line:
                        blocks.append(Block(line))
        title = (document.core_properties.title or "").strip() or next(
            (b.text for b in blocks if b.kind == "heading"), path.stem)
        return [LoadedDocument(title, blocks)]
