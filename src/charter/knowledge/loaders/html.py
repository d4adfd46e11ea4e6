"""HTML, through BeautifulSoup: headings and text blocks; scripts, styles and navigation dropped."""

from __future__ import annotations

from pathlib import Path

from charter.knowledge.loaders import Block, LoadedDocument, RecordOptions, read_text

_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th",
           "dd", "dt", "figcaption")


class HtmlLoader:
    extensions = (".html", ".htm")

    def load(self, path: Path, records: RecordOptions) -> list[LoadedDocument]:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(read_text(path), "html.parser")
        for tag in soup(["script", "style", "noscript", "nav", "template", "svg"]):
            tag.decompose()
        blocks: list[Block] = []
        for el in soup.find_all(_BLOCKS):
            if el.find(_BLOCKS):  # a container of other blocks: its children speak
                continue
            text = " ".join(el.get_text(" ").split())
            if not text:
                continue
            if el.name[0] == "h" and el.name[1:].isdigit():
                blocks.append(Block(text, "heading", int(el.name[1:])))
            else:
                blocks.append(Block(text))
        if not blocks:  # text outside any block element
            body = " ".join(soup.get_text(" ").split())
            if body:
                blocks.append(Block(body))
        title_tag = soup.find("title")
        title = " ".join(title_tag.get_text().split()) if title_tag else ""
        if not title:
            title = next((b.text for b in blocks if b.kind == "heading"), path.stem)
        return [LoadedDocument(title, blocks)]
