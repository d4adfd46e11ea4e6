"""Crafted files (those of `charter bench loaders`): each is refused by the limit it
breaks, naming the limit's setting, before the expensive part of loading runs; or, where
it breaks none, loads in work linear in its size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from charter.bench import crafted
from charter.knowledge.ingest import IngestOptions, Ingestor
from charter.knowledge.loaders import LimitError, LoadLimits, RecordOptions, load
from charter.store.db import Database
from tests.knowledge.helpers import HashEmbedder


def test_a_page_tree_naming_one_node_ten_thousand_times_is_refused_before_any_page_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pypdf import PageObject

    read: list[int] = []
    monkeypatch.setattr(PageObject, "extract_text", lambda self, *a, **k: read.append(1) or "")
    with pytest.raises(LimitError, match="kb_max_pages") as info:
        load(crafted.pdf_page_tree(tmp_path))
    assert info.value.status == 413 and read == []
    # The same file loads when the limit allows it: the count is the tree's real one.
    small = crafted.pdf_page_tree(tmp_path, fanout=3, levels=2)
    monkeypatch.undo()
    docs = load(small, limits=LoadLimits(pages=9))
    assert {b.page for b in docs[0].blocks} == set(range(1, 10))
    with pytest.raises(LimitError, match="kb_max_pages"):
        load(small, limits=LoadLimits(pages=8))


def test_a_docx_of_three_million_empty_paragraphs_is_refused_before_it_is_parsed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import docx

    parsed: list[int] = []
    monkeypatch.setattr(docx, "Document", lambda *a, **k: parsed.append(1))
    with pytest.raises(LimitError, match="kb_max_expansion_ratio"):
        load(crafted.docx_empty_paragraphs(tmp_path))
    with pytest.raises(LimitError, match="kb_max_expanded_mb"):
        load(crafted.docx_one_run(tmp_path, mib=120))
    assert parsed == []


def test_empty_paragraphs_count_toward_the_block_limit(tmp_path: Path) -> None:
    path = crafted.docx_empty_paragraphs(tmp_path, paragraphs=5_000)  # under the ratio floor
    with pytest.raises(LimitError, match="kb_max_blocks"):
        load(path, limits=LoadLimits(blocks=1_000))


def test_a_csv_of_a_million_rows_stops_at_the_block_limit(tmp_path: Path) -> None:
    with pytest.raises(LimitError, match="kb_max_blocks"):
        load(crafted.csv_many_rows(tmp_path), RecordOptions("text", "id"))


@pytest.mark.parametrize("depth, why", [(100_000, "too deeply to read"),
                                        (100, "more than 64 levels deep")])
def test_deeply_nested_jsonl_is_refused_with_the_depth_setting(tmp_path: Path, depth: int,
                                                              why: str) -> None:
    with pytest.raises(LimitError, match=f"{why}.*kb_max_depth"):
        load(crafted.jsonl_deep(tmp_path, depth=depth))


def test_record_text_with_nul_or_lone_surrogates_is_stored_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"text": "leave\u0000 days \ud800 here", "id": "a\u0000"}) + "\n")
    [doc] = load(path, RecordOptions("text", "id"))
    assert doc.blocks[0].text == "leave days ? here" and doc.key == "a"
    assert all("\x00" not in s for s in (doc.title, doc.text))


def test_html_nested_a_hundred_thousand_deep_keeps_its_innermost_block(tmp_path: Path) -> None:
    [doc] = load(crafted.html_deep(tmp_path))
    assert [b.text for b in doc.blocks] == ["Leave policy."]
    nested_lists = tmp_path / "lists.html"  # every level a block: quadratic if walked naively
    nested_lists.write_text("<ul>" + "<li>x<ul>" * 20_000 + "<li>deepest</li>"
                            + "</ul></li>" * 20_000 + "</ul>")
    [doc] = load(nested_lists)
    assert [b.text for b in doc.blocks] == ["deepest"]


def test_a_file_over_the_chunk_limit_is_reported_by_the_setting(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kb.db'}")
    db.upgrade()
    try:
        path = crafted.one_line_prose(tmp_path, mib=0.05)
        report = Ingestor(db, HashEmbedder()).add(
            [path], IngestOptions(limits=LoadLimits(chunks=10)))
        assert report.chunks == 0 and len(report.failed) == 1
        assert "kb_max_chunks" in report.failed[0][1]
        with pytest.raises(LimitError, match="kb_max_chunks"):
            Ingestor(db, HashEmbedder()).add([path], IngestOptions(limits=LoadLimits(chunks=10)),
                                             strict=True)
        assert Ingestor(db, HashEmbedder()).add([path]).chunks > 10
    finally:
        db.dispose()


def test_a_page_that_also_has_empty_kids_still_counts_as_a_page(tmp_path: Path) -> None:
    from pypdf import PdfReader

    path = crafted.pdf_page_tree(tmp_path, fanout=3, levels=2)
    data = path.read_bytes().replace(b"/Type /Page /Parent", b"/Type /Page /Kids [] /Parent")
    path.write_bytes(data)
    assert len(PdfReader(str(path)).pages) == 9  # pypdf reads it as nine pages
    with pytest.raises(LimitError, match="kb_max_pages"):
        load(path, limits=LoadLimits(pages=8))
