"""``load`` and the loader registry: every format registered, a clear reason for each
file that cannot be read, and a conformance class for every registered loader."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from charter.knowledge.loaders import LoaderError, load, loader_for, supported_extensions
from tests.knowledge.loaders.conformance import LoaderConformance

FAMILIES = ("text", "html", "pdf", "docx", "records")


def test_all_formats_are_registered() -> None:
    assert {".txt", ".md", ".html", ".pdf", ".docx", ".csv", ".jsonl"} <= set(supported_extensions())


def test_every_registered_loader_has_a_conformance_class() -> None:
    for family in FAMILIES:
        importlib.import_module(f"tests.knowledge.loaders.test_{family}")
    covered = {cls.loader for cls in LoaderConformance.__subclasses__()}
    registered = {type(loader_for(Path(f"x{ext}"))) for ext in supported_extensions()}
    assert registered <= covered, sorted(c.__name__ for c in registered - covered)


@pytest.mark.parametrize("name, content, reason", [
    ("empty.md", b"", "empty"),
    ("blank.txt", b"\n\n   \n", "no text"),
    ("corrupt.pdf", b"%PDF-1.7\n garbage", "damaged"),
    ("corrupt.docx", b"not a zip", "damaged"),
    ("image.png", b"\x89PNG", "unsupported file type '.png'"),
    ("bad.jsonl", b'{"text": "ok"}\n{broken\n', "line 2 is not JSON"),
    ("nocol.csv", b"a,b\n1,2\n", "no column 'text'"),
    ("binary.txt", b"\xff\xfe\x00\x81\x8d\x8f\x90\x9d", "not text"),
])
def test_unreadable_files_say_why(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(LoaderError, match=reason):
        load(p)
