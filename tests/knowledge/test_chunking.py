"""Chunking follows structure and every chunk is an exact, locatable slice of the text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.core.errors import InvalidInputError
from charter.knowledge.chunking import chunk_document
from charter.knowledge.loaders import Block, LoadedDocument


def doc(*blocks: Block) -> LoadedDocument:
    return LoadedDocument("Doc", list(blocks))


def test_chunks_never_cross_headings_and_carry_the_heading_path() -> None:
    d = doc(Block("Policy", "heading", 1), Block("Intro."), Block("Leave", "heading", 2),
            Block("Leave text."), Block("Sick", "heading", 3), Block("Sick text."),
            Block("Travel", "heading", 2), Block("Travel text."))
    chunks = chunk_document(d)
    assert [(c.heading, c.text) for c in chunks] == [
        ("Policy", "Intro."), ("Policy > Leave", "Leave text."),
        ("Policy > Leave > Sick", "Sick text."), ("Policy > Travel", "Travel text.")]


def test_long_paragraphs_split_at_sentences_with_overlap() -> None:
    sentences = [f"Sentence number {i} talks about topic {i}." for i in range(40)]
    d = doc(Block(" ".join(sentences)))
    chunks = chunk_document(d, size=300, overlap=80)
    assert len(chunks) > 3
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end, "consecutive chunks of a section overlap"
        assert a.end - b.start <= 80
    for c in chunks:
        assert len(c.text) <= 300
        assert c.text.endswith(".")


def test_pages_are_kept() -> None:
    chunks = chunk_document(doc(Block("Page one text.", page=1), Block("x" * 50, page=2)),
                            size=100, overlap=20)
    assert chunks[0].page == 1


def test_bad_settings() -> None:
    with pytest.raises(InvalidInputError):
        chunk_document(doc(Block("x")), size=10)
    with pytest.raises(InvalidInputError):
        chunk_document(doc(Block("x")), size=200, overlap=150)


words = st.text(alphabet="abcdefghij ", min_size=1, max_size=60).map(str.strip).filter(bool)
sentence = st.builds(lambda w: w.capitalize() + ".", words)
paragraph = st.lists(sentence, min_size=1, max_size=12).map(" ".join)
block = st.one_of(paragraph.map(Block), words.map(lambda w: Block(w, "heading", 2)))


@settings(max_examples=150, deadline=None)
@given(st.lists(block, min_size=1, max_size=15), st.integers(100, 600))
def test_chunks_are_exact_slices_within_size_covering_all_paragraph_text(blocks, size) -> None:
    d = doc(*blocks)
    text = d.text
    chunks = chunk_document(d, size=size, overlap=size // 4)
    covered = [False] * len(text)
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert len(c.text) <= size
        for i in range(c.start, c.end):
            covered[i] = True
    offset = 0
    for b in d.blocks:
        if b.kind == "paragraph":
            for i, ch in enumerate(b.text):
                if not ch.isspace():
                    assert covered[offset + i], "paragraph text missing from every chunk"
        offset += len(b.text) + 2
