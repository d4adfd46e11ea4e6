"""The Word (.docx) loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.knowledge.loaders import load
from charter.knowledge.loaders.docx import DocxLoader
from tests.knowledge.loaders.conformance import LoaderConformance


class TestDocxLoader(LoaderConformance):
    loader = DocxLoader
    reason = "damaged"

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        import docx

        d = docx.Document()
        d.add_heading("Handbook", level=1)
        d.add_paragraph("Welcome aboard.")
        table = d.add_table(rows=1, cols=2)
        table.rows[0].cells[0].text = "Band"
        table.rows[0].cells[1].text = "L1"
        p = tmp_path / "handbook.docx"
        d.save(str(p))
        return p

    @pytest.fixture
    def corrupt(self, tmp_path: Path) -> Path:
        p = tmp_path / "corrupt.docx"
        p.write_bytes(b"not a zip")
        return p


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
