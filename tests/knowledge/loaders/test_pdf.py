"""The PDF loader: text per page, and a reason for encrypted or damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.knowledge.loaders import LoaderError, load
from charter.knowledge.loaders.pdf import PdfLoader
from tests.knowledge.loaders.conformance import LoaderConformance


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


class TestPdfLoader(LoaderConformance):
    loader = PdfLoader
    reason = "damaged"

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        return make_pdf(tmp_path / "report.pdf", ["First page text.", "Second page text."])

    @pytest.fixture
    def corrupt(self, tmp_path: Path) -> Path:
        p = tmp_path / "corrupt.pdf"
        p.write_bytes(b"%PDF-1.7\n garbage")
        return p


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
