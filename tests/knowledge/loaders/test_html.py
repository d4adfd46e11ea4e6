"""The HTML loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.knowledge.loaders import load
from charter.knowledge.loaders.html import HtmlLoader
from tests.knowledge.loaders.conformance import LoaderConformance


class TestHtmlLoader(LoaderConformance):
    loader = HtmlLoader
    reason = "not text"

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        p = tmp_path / "page.html"
        p.write_text("<html><head><title>Policy</title></head><body><h1>Policy</h1>"
                     "<p>Rule one.</p><ul><li>Item</li></ul><table><tr><td>Cell</td></tr></table>"
                     "</body></html>")
        return p

    @pytest.fixture
    def corrupt(self, tmp_path: Path) -> Path:
        p = tmp_path / "binary.html"
        p.write_bytes(b"\xff\xfe\x00\x81\x8d\x8f\x90\x9d")  # neither UTF-8 nor Windows-1252
        return p


def test_html_drops_scripts_and_keeps_structure(tmp_path: Path) -> None:
    p = tmp_path / "page.html"
    p.write_text("<html><head><title>Policy</title><script>evil()</script></head><body>"
                 "<nav>menu</nav><h1>Policy</h1><p>Rule one.</p><ul><li>Item</li></ul></body></html>")
    (doc,) = load(p)
    assert doc.title == "Policy"
    assert "evil" not in doc.text and "menu" not in doc.text
    assert [b.text for b in doc.blocks] == ["Policy", "Rule one.", "Item"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("shape", ['<a x="', "<!--x>", "<a", "</a x", "<![CDATA[x>"])
def test_hostile_markup_is_read_in_one_pass(tmp_path: Path, shape: str) -> None:
    """Shapes that make Python's own html.parser quadratic on this Python (a 240 KB page
    of the first took it two minutes; this one is 800 KB) load, or are refused, in one
    pass."""
    from charter.core.errors import CharterError

    page = tmp_path / "hostile.html"
    page.write_text("<html><body><h1>Title</h1><p>Text.</p>" + shape * (800_000 // len(shape)))
    try:
        load(page)
    except CharterError:
        pass  # refused with a reason is fine too; hanging is not
