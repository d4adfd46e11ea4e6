"""HTML, through BeautifulSoup: headings and text blocks; scripts, styles and navigation dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charter.knowledge.loaders import Block, LoadContext, LoadedDocument, read_text

_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th",
           "dd", "dt", "figcaption")


def _leaf_blocks(soup: Any, context: LoadContext) -> list[Any]:
    """Block elements holding no other block element, in document order (a container of
    blocks lets its children speak). One pre-order walk with an explicit stack: linear
    in the number of elements however deep they nest."""
    from bs4 import Tag

    order: list[Any] = []
    containers: set[int] = set()
    stack: list[tuple[Any, Any]] = [(soup, None)]  # (element, nearest block above it)
    walked = 0
    while stack:
        node, nearest = stack.pop()
        walked += 1
        if walked % 4096 == 0:
            context.tick()
        if node.name in _BLOCKS and node is not soup:
            if nearest is not None:
                containers.add(id(nearest))
            order.append(node)
            nearest = node
        stack.extend((c, nearest) for c in reversed(list(node.children)) if isinstance(c, Tag))
    return [el for el in order if id(el) not in containers]


class HtmlLoader:
    extensions = (".html", ".htm")

    def load(self, path: Path, context: LoadContext) -> list[LoadedDocument]:
        from bs4 import BeautifulSoup

        # lxml's parser, not Python's html.parser: on this Python (3.11 before 3.11.13)
        # html.parser takes quadratic time on unclosed tags, attributes and comments (a
        # 240 KB page of `<a x="` took two minutes), lxml reads any page in one pass.
        soup = BeautifulSoup(read_text(path), "lxml")
        for tag in soup(["script", "style", "noscript", "nav", "template", "svg"]):
            tag.decompose()
        blocks: list[Block] = []
        for el in _leaf_blocks(soup, context):
            text = " ".join(el.get_text(" ").split())
            if not text:
                continue
            if el.name[0] == "h" and el.name[1:].isdigit():
                context.add(blocks, Block(text, "heading", int(el.name[1:])))
            else:
                context.add(blocks, Block(text))
        if not blocks:  # text outside any block element
            body = " ".join(soup.get_text(" ").split())
            if body:
                blocks.append(Block(body))
        title_tag = soup.find("title")
        title = " ".join(title_tag.get_text().split()) if title_tag else ""
        if not title:
            title = next((b.text for b in blocks if b.kind == "heading"), path.stem)
        return [LoadedDocument(title, blocks)]
