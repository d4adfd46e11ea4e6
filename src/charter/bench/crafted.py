"""Crafted hostile files, one family per loader, for `charter bench loaders` and the
loader fuzz tests: small files that expand into a great deal of work.

Each maker writes one file into a folder and returns its path. The sizes are those of
the probe that found the problems (a 2.5 KB heading line, a 1 KB PDF of 10,000 pages, a
27 KB .docx of three million empty paragraphs, a 9.9 MiB single line of prose), so
before-and-after figures compare like with like.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

_PROSE = ("Employees may carry over up to five days of annual leave into the next year. "
          "Requests for travel must be approved by a line manager before booking. ")


def heading_spaces(folder: Path, spaces: int = 2_500) -> Path:
    """A Markdown heading line ``# a`` + spaces + ``b``: cubic for a backtracking
    heading pattern."""
    path = folder / "heading.md"
    path.write_text("# a" + " " * spaces + "b\n\nSome text.\n", encoding="utf-8")
    return path


def one_line_prose(folder: Path, mib: float = 9.9, suffix: str = ".md") -> Path:
    """Prose on one line, no paragraph breaks: ``mib`` MiB of it."""
    path = folder / f"one-line{suffix}"
    reps = int(mib * (1 << 20)) // len(_PROSE)
    path.write_text(_PROSE * reps, encoding="utf-8")
    return path


def _pdf(objects: list[bytes]) -> bytes:
    """A well-formed PDF (header, numbered objects, cross-reference table, trailer)."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def pdf_page_tree(folder: Path, fanout: int = 10, levels: int = 4) -> Path:
    """A PDF whose page tree names one node ``fanout`` times at each of ``levels``
    levels: about 1 KB on disk, ``fanout ** levels`` pages (10,000) to a reader."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    count = fanout ** levels
    for level in range(levels):  # objects 2 .. levels+1 are the /Pages nodes
        child = 2 + level + 1
        kids = b" ".join(b"%d 0 R" % child for _ in range(fanout))
        parent = b"" if level == 0 else b" /Parent %d 0 R" % (2 + level - 1)
        objects.append(b"<< /Type /Pages /Kids [%s] /Count %d%s >>"
                       % (kids, count // fanout ** level, parent))
    page, content, font = 2 + levels, 3 + levels, 4 + levels
    objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                   b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (page - 1, content, font))
    stream = b"BT /F1 12 Tf 72 720 Td (Leave is approved by a manager.) Tj ET"
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    path = folder / "page-tree.pdf"
    path.write_bytes(_pdf(objects))
    return path


def _docx(document_xml: bytes) -> bytes:
    """A minimal Word package around ``document_xml``."""
    content_types = (
        b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
        b'.org/package/2006/content-types"><Default Extension="rels" ContentType="application'
        b'/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        b'ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType='
        b'"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        b'</Types>')
    rels = (
        b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        b'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        b'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        b'Target="word/document.xml"/></Relationships>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("_rels/.rels", rels)
        z.writestr("word/document.xml", document_xml)
    return out.getvalue()


_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_empty_paragraphs(folder: Path, paragraphs: int = 3_000_000) -> Path:
    """A .docx of ``paragraphs`` empty paragraphs: about 27 KB, 18 MB of XML."""
    body = b"<w:p/>" * paragraphs
    path = folder / "empty-paragraphs.docx"
    path.write_bytes(_docx(b'<?xml version="1.0" encoding="UTF-8"?><w:document ' + _W
                           + b"><w:body>" + body + b"</w:body></w:document>"))
    return path


def docx_one_run(folder: Path, mib: int = 200) -> Path:
    """A .docx whose one paragraph holds ``mib`` MiB of one letter: a zip bomb."""
    text = b"a" * (mib << 20)
    path = folder / "one-run.docx"
    path.write_bytes(_docx(b'<?xml version="1.0" encoding="UTF-8"?><w:document ' + _W
                           + b"><w:body><w:p><w:r><w:t>" + text
                           + b"</w:t></w:r></w:p></w:body></w:document>"))
    return path


def docx_merged_table(folder: Path, rows: int = 2_000, columns: int = 10) -> Path:
    """A .docx table of ``rows`` rows whose cells all merge vertically into the first
    row's: under 1 MiB of XML, about 10 KB packed (python-docx's cell walk is quadratic in such a table)."""
    grid = b"<w:tblGrid>" + b'<w:gridCol w:w="900"/>' * columns + b"</w:tblGrid>"
    first = b"<w:tr>" + b"".join(
        b'<w:tc><w:tcPr><w:vMerge w:val="restart"/></w:tcPr><w:p><w:r><w:t>cell %d</w:t>'
        b"</w:r></w:p></w:tc>" % c for c in range(columns)) + b"</w:tr>"
    rest = (b"<w:tr>" + b"<w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc>" * columns
            + b"</w:tr>") * (rows - 1)
    path = folder / "merged-table.docx"
    path.write_bytes(_docx(b'<?xml version="1.0" encoding="UTF-8"?><w:document ' + _W
                           + b"><w:body><w:tbl>" + grid + first + rest
                           + b"</w:tbl></w:body></w:document>"))
    return path


def html_deep(folder: Path, depth: int = 100_000) -> Path:
    """HTML nested ``depth`` elements deep."""
    path = folder / "deep.html"
    path.write_text("<html><body>" + "<div>" * depth + "<p>Leave policy.</p>"
                    + "</div>" * depth + "</body></html>", encoding="utf-8")
    return path


def csv_many_rows(folder: Path, rows: int = 1_000_000) -> Path:
    """A CSV of ``rows`` one-word rows, each a document of its own."""
    path = folder / "many-rows.csv"
    path.write_text("id,text\n" + "".join(f"{i},leave\n" for i in range(rows)),
                    encoding="utf-8")
    return path


def jsonl_deep(folder: Path, depth: int = 100_000) -> Path:
    """A JSONL line holding an array nested ``depth`` levels deep."""
    path = folder / "deep.jsonl"
    path.write_text('{"text": "ok", "x": ' + "[" * depth + "]" * depth + "}\n",
                    encoding="utf-8")
    return path
