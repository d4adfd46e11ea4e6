"""Uploads through /api/documents: each upload its own document unless it names the one
it is a new version of; access kept unless the upload sets it; failures change nothing
and never show server paths."""

from __future__ import annotations

from pathlib import Path

import pytest

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
