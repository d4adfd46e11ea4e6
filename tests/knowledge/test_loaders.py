"""Loaders: each supported format, and a clear reason for each file that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.knowledge.loaders import LoaderError, RecordOptions, load, supported_extensions


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A minimal, valid PDF with one line of Helvetica text per page."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, line in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET".encode()
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents "
                       f"{4 + 2 * i} 0 R /Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def test_all_formats_are_registered() -> None:
    assert {".txt", ".md", ".html", ".pdf", ".docx", ".csv", ".jsonl"} <= set(supported_extensions())


def test_markdown_headings_and_inline_formatting(tmp_path: Path) -> None:
    p = tmp_path / "guide.md"
    p.write_text("# Guide\n\nIntro with a [link](http://x) and **bold**.\n\n## Part\n\nText.\n")
    (doc,) = load(p)
    assert doc.title == "Guide"
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "Guide"), ("paragraph", "Intro with a link and bold."),
        ("heading", "Part"), ("paragraph", "Text.")]


def test_text_with_single_newlines_splits_into_paragraphs(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text("Title line\nFirst paragraph.\nSecond paragraph.\n")
    (doc,) = load(p)
    assert doc.title == "Title line" and len(doc.blocks) == 3


def test_html_drops_scripts_and_keeps_structure(tmp_path: Path) -> None:
    p = tmp_path / "page.html"
    p.write_text("<html><head><title>Policy</title><script>evil()</script></head><body>"
                 "<nav>menu</nav><h1>Policy</h1><p>Rule one.</p><ul><li>Item</li></ul></body></html>")
    (doc,) = load(p)
    assert doc.title == "Policy"
    assert "evil" not in doc.text and "menu" not in doc.text
    assert [b.text for b in doc.blocks] == ["Policy", "Rule one.", "Item"]


def test_pdf_pages(tmp_path: Path) -> None:
    (doc,) = load(make_pdf(tmp_path / "r.pdf", ["First page text.", "Second page text."]))
    assert [(b.text, b.page) for b in doc.blocks] == [("First page text.", 1),
                                                      ("Second page text.", 2)]


def test_encrypted_pdf(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(tmp_path / "plain.pdf", ["Secret text."])
    writer = PdfWriter()
    writer.append(PdfReader(str(plain)))
    writer.encrypt("s3cret", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(LoaderError, match="encrypted"):
        load(locked)


def test_docx_headings_and_tables(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Handbook", level=1)
    d.add_paragraph("Welcome aboard.")
    d.add_heading("Leave", level=2)
    d.add_paragraph("25 days a year.")
    table = d.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Band"
    table.rows[0].cells[1].text = "L1"
    p = tmp_path / "h.docx"
    d.save(str(p))
    (doc,) = load(p)
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "Handbook"), ("paragraph", "Welcome aboard."), ("heading", "Leave"),
        ("paragraph", "25 days a year."), ("paragraph", "Band | L1")]


def test_csv_and_jsonl_rows_become_documents(tmp_path: Path) -> None:
    csv_path = tmp_path / "faq.csv"
    csv_path.write_text("id,question,answer,team\n7,Where?,In the hall.,ops\n8,When?,At noon.,ops\n")
    docs = load(csv_path, RecordOptions("answer", "id", "question", ("team",)))
    assert [(d.key, d.title, d.text, d.metadata) for d in docs] == [
        ("7", "Where?", "In the hall.", {"team": "ops"}),
        ("8", "When?", "At noon.", {"team": "ops"})]
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text('{"text": "Row one."}\n\n{"text": "Row two."}\n')
    assert [d.key for d in load(jsonl)] == ["1", "2"]


@pytest.mark.parametrize("name, content, reason", [
    ("empty.md", b"", "empty"),
    ("blank.txt", b"\n\n   \n", "no text"),
    ("corrupt.pdf", b"%PDF-1.7\n garbage", "damaged"),
    ("corrupt.docx", b"not a zip", "damaged"),
    ("image.png", b"\x89PNG", "unsupported file type '.png'"),
    ("bad.jsonl", b'{"text": "ok"}\n{broken\n', "line 2 is not JSON"),
    ("nocol.csv", b"a,b\n1,2\n", "no column 'text'"),
    ("binary.txt", b"\xff\xfe\x00\x81\x8d\x8f\x90\x9d", "not text"),
])
def test_unreadable_files_say_why(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(LoaderError, match=reason):
        load(p)
