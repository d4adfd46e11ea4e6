"""Loading in a child process under hard limits (background uploads): the same documents
as in-process, the loaders' own limits passed through, and memory and time capped by the
child's address-space limit and a kill, each naming its setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.bench import crafted
from charter.knowledge.chunking import chunk_document
from charter.knowledge.isolated import load_isolated
from charter.knowledge.loaders import LimitError, LoaderError, LoadLimits, RecordOptions, load


def _isolated(path: Path, limits: LoadLimits | None = None, memory_mb: int = 1024):  # noqa: ANN202
    return load_isolated(path, RecordOptions(), limits or LoadLimits(), size=1000,
                         overlap=150, memory_mb=memory_mb)


def test_a_file_loads_as_it_does_in_process(tmp_path: Path) -> None:
    path = tmp_path / "leave.md"
    path.write_text("# Leave\n\nTwenty-five days a year.\n\n## Carry over\n\nFive days.\n")
    [(doc, chunks)] = _isolated(path)
    [local] = load(path)
    assert (doc.title, doc.blocks) == (local.title, local.blocks)
    assert chunks == chunk_document(local, size=1000, overlap=150)


def test_the_loaders_own_errors_come_back_as_they_are(tmp_path: Path) -> None:
    with pytest.raises(LimitError, match="kb_max_pages"):
        _isolated(crafted.pdf_page_tree(tmp_path))
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(LoaderError, match="damaged") as info:
        _isolated(broken)
    assert not isinstance(info.value, LimitError)


def test_a_file_needing_more_memory_than_allowed_is_refused_naming_the_setting(
        tmp_path: Path) -> None:
    path = crafted.docx_empty_paragraphs(tmp_path)  # about 1 GB parsed, if let through
    lax = LoadLimits(expanded_mb=1_000, expansion_ratio=1e6, blocks=10**8)
    with pytest.raises(LimitError, match="kb_job_memory_mb"):
        _isolated(path, lax, memory_mb=300)


def test_a_file_taking_longer_than_allowed_is_stopped_naming_the_setting(
        tmp_path: Path) -> None:
    import multiprocessing

    # lxml parses this in one call of about two seconds: only the parent's timer, not the
    # loader's own clock (checked between blocks), can stop it at 0.2 s
    with pytest.raises(LimitError, match="over the limit set by kb_load_seconds"):
        _isolated(crafted.html_deep(tmp_path, depth=200_000), LoadLimits(seconds=0.2))
    assert multiprocessing.active_children() == []  # the child was killed and reaped


class _Pipe:
    def __init__(self, ready: bool, died: bool = False,
                 first: tuple[str, str | None] = ("started", None)) -> None:
        self.ready, self.died, self.first = ready, died, first

    def poll(self, timeout: float) -> bool:
        return self.ready

    def recv(self) -> tuple[str, str | None]:
        if self.died:
            raise EOFError
        return self.first


class _Child:
    exitcode = 1

    def join(self, timeout: float) -> None:
        return None


def test_a_child_that_cannot_start_is_a_503_that_does_not_blame_the_file() -> None:
    from charter.knowledge.isolated import LoaderProcessError, _await_start

    _await_start(_Pipe(ready=True), _Child())  # started: nothing to say
    with pytest.raises(LoaderProcessError, match="did not start within") as slow:
        _await_start(_Pipe(ready=False), _Child())
    with pytest.raises(LoaderProcessError, match="exit code 1") as died:
        _await_start(_Pipe(ready=True, died=True), _Child())
    with pytest.raises(LoaderProcessError, match="could not cap") as capped:
        _await_start(_Pipe(ready=True, first=("unstarted", "could not cap it")), _Child())
    assert slow.value.status == died.value.status == capped.value.status == 503
    assert not isinstance(slow.value, LoaderError)


def test_a_cap_above_the_hard_limit_is_held_to_the_hard_limit(tmp_path: Path) -> None:
    """A server whose own hard address-space limit is below kb_job_memory_mb still reads
    uploads (the child takes the hard limit) instead of answering 503 for every one."""
    import subprocess
    import sys

    path = tmp_path / "leave.md"
    path.write_text("# Leave\n\nTwenty-five days a year.\n")
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from charter.knowledge.isolated import load_isolated\n"
        "from charter.knowledge.loaders import LoadLimits, RecordOptions\n"
        "hard = 6 << 30\n"
        "resource.setrlimit(resource.RLIMIT_AS, (hard, hard))\n"
        "[(doc, chunks)] = load_isolated(Path(sys.argv[1]), RecordOptions(), LoadLimits(),"
        " size=1000, overlap=150, memory_mb=16384)\n"
        "print(doc.title, len(chunks))\n")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.split() == ["Leave", "1"]
