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


def test_docx_reads_tables_in_document_order_and_merged_cells_once(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("Title of it", style="Title")
    d.add_paragraph("Before the table.")
    table = d.add_table(rows=3, cols=2)
    table.cell(0, 0).text = "Band"
    table.cell(0, 1).text = "Days"
    merged = table.cell(1, 0).merge(table.cell(2, 0))  # one cell spanning two rows
    merged.text = "L1"
    table.cell(1, 1).text = "25"
    table.cell(2, 1).text = "27"
    para = d.add_paragraph("After")
    para.add_run().add_tab()
    para.add_run("the table.")
    p = tmp_path / "order.docx"
    d.save(str(p))
    (doc,) = load(p)
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "Title of it"), ("paragraph", "Before the table."),
        ("paragraph", "Band | Days"), ("paragraph", "L1 | 25"), ("paragraph", "27"),
        ("paragraph", "After the table.")]
    assert doc.title == "Title of it"


def test_a_table_of_vertically_merged_rows_is_read_once_per_row(tmp_path: Path) -> None:
    from charter.bench import crafted
    from charter.knowledge.loaders import LimitError, LoadLimits

    path = crafted.docx_merged_table(tmp_path, rows=2_000, columns=10)
    (doc,) = load(path)
    assert [b.text for b in doc.blocks] == [" | ".join(f"cell {c}" for c in range(10))]
    # every row counts as a block, empty or not: 2,000 rows are over a limit of 1,999
    with pytest.raises(LimitError, match="kb_max_blocks"):
        load(path, limits=LoadLimits(blocks=1_999))
