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


def _raw_docx(tmp_path: Path, body: str) -> Path:
    from charter.bench.crafted import _docx

    ns = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
          'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"')
    path = tmp_path / "raw.docx"
    path.write_bytes(_docx(f'<?xml version="1.0" encoding="UTF-8"?><w:document {ns}>'
                           f"<w:body>{body}</w:body></w:document>".encode()))
    return path


def _p(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def test_docx_keeps_words_apart_and_reads_a_text_box_once(tmp_path: Path) -> None:
    cell = f"<w:tc>{_p('Line one')}{_p('Line two')}</w:tc>"
    nested = f"<w:tc><w:tbl><w:tr><w:tc>{_p('inner')}</w:tc></w:tr></w:tbl>{_p('cell')}</w:tc>"
    box = ("<w:p><w:r><w:t>Body.</w:t></w:r><w:r><mc:AlternateContent><mc:Choice Requires="
           '"wps"><w:txbxContent>' + _p("Boxed note") + "</w:txbxContent></mc:Choice>"
           "<mc:Fallback><w:txbxContent>" + _p("Boxed note") + "</w:txbxContent>"
           "</mc:Fallback></mc:AlternateContent></w:r></w:p>")
    path = _raw_docx(tmp_path, f"<w:tbl><w:tr>{cell}{nested}</w:tr></w:tbl>{box}")
    (doc,) = load(path)
    assert [b.text for b in doc.blocks] == ["Line one Line two | inner cell",
                                            "Body. Boxed note"]


def test_docx_reads_through_content_controls_at_every_level(tmp_path: Path) -> None:
    def sdt(inner: str) -> str:
        return f"<w:sdt><w:sdtPr/><w:sdtContent>{inner}</w:sdtContent></w:sdt>"

    row = "<w:tr><w:tc>" + _p("Row in a repeating section") + "</w:tc></w:tr>"
    cell = "<w:tc>" + _p("Cell control") + "</w:tc>"
    body = (sdt(sdt(_p("Nested control")))
            + "<w:customXml>" + _p("Custom wrapper") + "</w:customXml>"
            + "<w:tbl>" + sdt(row) + "<w:tr>" + sdt(cell) + "</w:tr></w:tbl>")
    (doc,) = load(_raw_docx(tmp_path, body))
    assert [b.text for b in doc.blocks] == ["Nested control", "Custom wrapper",
                                            "Row in a repeating section", "Cell control"]
