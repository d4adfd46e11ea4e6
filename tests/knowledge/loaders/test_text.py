"""Plain text and Markdown loaders."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.knowledge.loaders import load
from charter.knowledge.loaders.text import MarkdownLoader, TextLoader
from tests.knowledge.loaders.conformance import LoaderConformance

NOT_TEXT = b"\xff\xfe\x00\x81\x8d\x8f\x90\x9d"  # neither UTF-8 nor Windows-1252


class TestTextLoader(LoaderConformance):
    loader = TextLoader
    reason = "not text"

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        p = tmp_path / "notes.txt"
        p.write_text("Office notes\n\nThe kitchen is cleaned on Fridays.\n\n"
                     "Plants are watered on Mondays.\n")
        return p

    @pytest.fixture
    def corrupt(self, tmp_path: Path) -> Path:
        p = tmp_path / "binary.txt"
        p.write_bytes(NOT_TEXT)
        return p


class TestMarkdownLoader(LoaderConformance):
    loader = MarkdownLoader
    reason = "not text"

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        p = tmp_path / "guide.md"
        p.write_text("# Guide\n\nIntro with a [link](http://x) and **bold**.\n\n## Part\n\n"
                     "Text.\n\n```\ncode # not a heading\n```\n")
        return p

    @pytest.fixture
    def corrupt(self, tmp_path: Path) -> Path:
        p = tmp_path / "binary.md"
        p.write_bytes(NOT_TEXT)
        return p


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


@pytest.mark.parametrize("line, found", [
    ("# Title", ("heading", "Title")),
    ("### Closing hashes ###", ("heading", "Closing hashes")),
    ("## Learn C#", ("heading", "Learn C#")),
    ("#hashtag", ("paragraph", "#hashtag")),
    ("####### seven", ("paragraph", "####### seven")),
])
def test_markdown_heading_lines(tmp_path: Path, line: str, found: tuple[str, str]) -> None:
    p = tmp_path / "h.md"
    p.write_text(line + "\n")
    (doc,) = load(p)
    assert [(b.kind, b.text) for b in doc.blocks] == [found]


def test_a_heading_padded_with_thousands_of_spaces_loads(tmp_path: Path) -> None:
    # The 2.5 KB file that once took the heading pattern half a minute of backtracking.
    p = tmp_path / "padded.md"
    p.write_text("# a" + " " * 4000 + "b\n\nBody.\n")
    (doc,) = load(p)
    assert doc.blocks[0].kind == "heading" and doc.blocks[0].text.split() == ["a", "b"]
