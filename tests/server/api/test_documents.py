"""Uploads through /api/documents: each upload its own document unless it names the one
it is a new version of; access kept unless the upload sets it; failures change nothing
and never show server paths."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from charter.bench import crafted
from charter.core.config import Settings
from tests.server.conftest import Served

PAY = b"# Pay\nSalary bands are reviewed every April."


def _doc(served: Served, doc_id: str):  # noqa: ANN202
    return served.runtime.documents.get(doc_id)


def _upload(c, name: str, body: bytes, **params: str):  # noqa: ANN001, ANN202
    return c.post("/api/documents", params={"filename": name, **params}, content=body)


def test_a_new_version_never_lowers_access_unless_asked(served: Served) -> None:
    with served.client("admin") as c:
        r = _upload(c, "pay.md", PAY, classification="confidential", groups="hr,finance")
        assert r.status_code == 200 and r.json()["outcome"] == "added", r.text
        pay = r.json()["id"]
        # The same file again, and a changed one, both as versions without access parameters.
        assert _upload(c, "pay.md", PAY, document=pay).json()["outcome"] == "unchanged"
        doc = _doc(served, pay)
        assert (doc.classification, sorted(doc.groups)) == ("confidential", ["finance", "hr"])
        changed = _upload(c, "pay.md", PAY.replace(b"April", b"May"), document=pay)
        assert changed.json() | {"chunks": 0} == {"id": pay, "name": "pay.md", "version": 2,
                                                  "outcome": "updated", "chunks": 0}
        doc = _doc(served, pay)
        assert (doc.classification, sorted(doc.groups)) == ("confidential", ["finance", "hr"])
        # Asked explicitly: an empty groups parameter clears the groups.
        _upload(c, "pay.md", PAY.replace(b"April", b"May"), document=pay, groups="")
        assert (_doc(served, pay).classification, _doc(served, pay).groups) == ("confidential", [])
        # A new document without parameters: internal, no groups.
        leave = _upload(c, "open.md", b"# Leave\n25 days.").json()["id"]
        assert (_doc(served, leave).classification, _doc(served, leave).groups) == ("internal", [])
        listed = c.get("/api/documents").json()
        assert {d["name"] for d in listed} >= {"pay.md", "open.md"}
    # The user without clearance never saw the confidential one, nor any server path.
    with served.client("user") as c:
        listed = c.get("/api/documents").json()
    assert [d["name"] for d in listed] == ["open.md"] and "uri" not in listed[0]


def test_two_uploads_with_one_name_are_two_documents(served: Served) -> None:
    with served.client("admin") as c:
        hr = _upload(c, "policy.md", b"# Policy\nHR keeps personnel files for six years.",
                     classification="confidential", groups="hr").json()
        it = _upload(c, "policy.md", b"# Policy\nIT rotates laptop keys every year.",
                     classification="internal", groups="it").json()
    assert hr["id"] != it["id"] and hr["outcome"] == it["outcome"] == "added"
    first, second = _doc(served, hr["id"]), _doc(served, it["id"])
    assert (first.classification, first.groups) == ("confidential", ["hr"])
    assert (second.classification, second.groups) == ("internal", ["it"])
    assert Path(first.uri).read_text().endswith("six years.")
    assert Path(second.uri).read_text().endswith("every year.")


def test_bad_access_parameters_are_refused_and_change_nothing(served: Served) -> None:
    with served.client("admin") as c:
        pay = _upload(c, "pay.md", b"# Pay\nBands in April.", classification="confidential",
                      groups="hr").json()["id"]
        for params, fragment in [({"classification": "top-secret"}, "classification"),
                                 ({"groups": "hr,Bad Group!"}, "group name")]:
            r = _upload(c, "pay.md", b"# Pay\nBands in May.", document=pay, **params)
            assert r.status_code == 400 and fragment in r.json()["error"]["message"], r.text
    doc = _doc(served, pay)
    assert (doc.classification, doc.groups) == ("confidential", ["hr"])
    assert Path(doc.uri).read_bytes() == b"# Pay\nBands in April."


def test_a_corrupt_upload_is_refused_and_leaves_nothing_behind(served: Served) -> None:
    uploads = served.runtime.settings.data_path / "uploads"
    corrupt = b"%PDF-1.7\n this is not a PDF at all"
    with served.client("admin") as c:
        r = _upload(c, "broken.pdf", corrupt)
        assert r.status_code == 422 and r.json()["error"]["code"] == "unreadable_document"
        assert str(uploads) not in r.text and "/tmp" not in r.text
        before = {p for p in uploads.rglob("*")} if uploads.exists() else set()
        good = _upload(c, "report.pdf", _pdf("Quarterly revenue grew by four percent.")).json()
        doc = _doc(served, good["id"])
        stored = Path(doc.uri).read_bytes()
        # A corrupt new version: refused; the stored file and the served text stay.
        again = _upload(c, "report.pdf", corrupt, document=good["id"])
        assert again.status_code == 422, again.text
    assert Path(doc.uri).read_bytes() == stored
    assert _doc(served, good["id"]).version == doc.version
    left = {p for p in uploads.rglob("*") if p.name.startswith(".")}
    assert left == set() and all(p in before or "report.pdf" in str(p) or p.is_dir()
                                 for p in uploads.rglob("*"))


@pytest.mark.parametrize("name, fragment", [
    ("a\x00b.md", "NUL"),
    ("é" * 150 + ".md", "bytes"),
    ("😀" * 84 + ".md", "bytes"),
    ("../escape.md", "folders"),
    (".hidden.md", "dot"),
    ("tab\there.md", "control"),
])
def test_odd_file_names_are_a_clear_400(served: Served, name: str, fragment: str) -> None:
    with served.client("admin") as c:
        r = _upload(c, name, b"# Note\nText.")
        assert r.status_code == 400, r.text
        assert fragment in r.json()["error"]["message"]
        assert c.get("/api/documents").status_code == 200


def test_a_version_must_name_an_uploaded_document_of_the_same_type(served: Served,
                                                                   tmp_path: Path) -> None:
    from charter.knowledge.ingest import Ingestor

    (tmp_path / "local.md").write_text("# Local\nAdded from the command line.")
    Ingestor(served.runtime.db, served.runtime.embedder()).add([tmp_path / "local.md"])
    local = served.runtime.documents.list()[0].id
    with served.client("admin") as c:
        md = _upload(c, "notes.md", b"# Notes\nText.").json()["id"]
        assert "same" not in _upload(c, "x.md", b"# X", document="nope").text
        assert _upload(c, "x.md", b"# X", document="nope").status_code == 404
        r = _upload(c, "local.md", b"# Local\nChanged.", document=local)
        assert r.status_code == 400 and "was not uploaded" in r.text
        r = _upload(c, "notes.txt", b"Notes", document=md)
        assert r.status_code == 400 and "new version must be" in r.text


def _pdf(sentence: str) -> bytes:
    import tempfile

    from tests.knowledge.loaders.test_pdf import make_pdf

    with tempfile.TemporaryDirectory() as folder:
        return make_pdf(Path(folder) / "r.pdf", [sentence]).read_bytes()


def _wait_job(c, url: str) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = c.get(url).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"the job did not end: {job}")


@pytest.fixture
def served_background(settings: Settings) -> Iterator[Served]:
    """Uploads over 8 KB ingest as background jobs; files may yield 1,000 blocks."""
    from tests.server.conftest import _start

    yield from _start(settings.with_overrides(kb_background_mb=8 / 1024, kb_max_blocks=1000),
                      scripted=True)


def test_a_large_upload_is_a_background_job_with_progress_and_its_result(
        served_background: Served) -> None:
    served = served_background
    body = ("# Leave\n\n" + "Annual leave is twenty-five days a year. " * 400).encode()
    with served.client("admin") as c:
        r = _upload(c, "leave.md", body, classification="confidential")
        assert r.status_code == 202, r.text
        started = r.json()
        assert started["job"]["state"] in ("queued", "running", "done")
        job = _wait_job(c, started["url"])
        assert job["state"] == "done", job
        doc = _doc(served, job["result"]["id"])
        assert doc.classification == "confidential" and doc.chunk_count == job["result"]["chunks"]
        assert job["progress"]["done"] == job["progress"]["total"] == doc.chunk_count > 1
        small = _upload(c, "small.md", b"# Small\nInside the request.")
        assert small.status_code == 200 and small.json()["outcome"] == "added"
    with served.client("user") as c:
        assert c.get(started["url"]).status_code == 403
    with served.client("admin") as c:
        assert c.get("/api/jobs/job_nope").status_code == 404
    events = [e.event for e in served.runtime.audit.records()]
    assert "job.started" in events and "document.added" in events


def test_a_background_upload_over_a_limit_fails_its_job_and_leaves_nothing(
        served_background: Served, tmp_path: Path) -> None:
    served = served_background
    uploads = served.runtime.settings.data_path / "uploads"
    big = crafted.csv_many_rows(tmp_path, rows=3_000)
    with served.client("admin") as c:
        r = _upload(c, "rows.csv", big.read_bytes())
        assert r.status_code == 202, r.text
        job = _wait_job(c, r.json()["url"])
    assert job["state"] == "failed" and job["result"] is None
    assert job["error"]["error"]["code"] == "document_too_large"
    assert "kb_max_blocks" in job["error"]["error"]["message"]
    assert str(uploads) not in json.dumps(job)
    assert not [p for p in uploads.rglob("*") if p.is_file()]
    assert served.runtime.documents.list() == []


@pytest.mark.parametrize("maker, name, setting", [
    (crafted.pdf_page_tree, "tree.pdf", "kb_max_pages"),
    (crafted.docx_empty_paragraphs, "empty.docx", "kb_max_expansion_ratio"),
    (lambda folder: crafted.jsonl_deep(folder, depth=20_000), "deep.jsonl", "kb_max_depth"),
])
def test_crafted_files_are_a_413_naming_the_limit_and_its_setting(
        served: Served, tmp_path: Path, maker, name: str, setting: str) -> None:  # noqa: ANN001
    with served.client("admin") as c:
        r = _upload(c, name, maker(tmp_path).read_bytes())
        assert r.status_code == 413, r.text
        error = r.json()["error"]
        assert error["code"] == "document_too_large" and setting in error["message"]
        data = str(served.runtime.settings.data_path)
        assert name in error["message"] and data not in r.text and "/tmp" not in r.text
        assert c.get("/api/documents").json() == []
