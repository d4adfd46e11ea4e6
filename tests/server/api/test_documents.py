"""Uploads through /api/documents keep a document's access unless the upload sets it."""

from __future__ import annotations

from tests.server.conftest import Served


def _doc(served: Served, name: str):  # noqa: ANN202
    return next(d for d in served.runtime.documents.list() if d.uri.endswith(name))


def test_a_re_upload_never_lowers_access_unless_asked(served: Served) -> None:
    with served.client("admin") as c:
        r = c.post("/api/documents", params={"filename": "pay.md", "classification":
                                             "confidential", "groups": "hr,finance"},
                   content=b"# Pay\nSalary bands are reviewed every April.")
        assert r.status_code == 200 and r.json()["added"], r.text
        # The same file again, and a changed one, both without access parameters.
        assert c.post("/api/documents", params={"filename": "pay.md"},
                      content=b"# Pay\nSalary bands are reviewed every April.").json()["unchanged"]
        doc = _doc(served, "pay.md")
        assert (doc.classification, sorted(doc.groups)) == ("confidential", ["finance", "hr"])
        changed = c.post("/api/documents", params={"filename": "pay.md"},
                         content=b"# Pay\nSalary bands are reviewed every May.")
        assert changed.json()["updated"], changed.text
        doc = _doc(served, "pay.md")
        assert (doc.classification, sorted(doc.groups)) == ("confidential", ["finance", "hr"])
        # Asked explicitly: an empty groups parameter clears the groups.
        c.post("/api/documents", params={"filename": "pay.md", "groups": ""},
               content=b"# Pay\nSalary bands are reviewed every May.")
        doc = _doc(served, "pay.md")
        assert (doc.classification, doc.groups) == ("confidential", [])
        # A new document without parameters: internal, no groups.
        c.post("/api/documents", params={"filename": "open.md"}, content=b"# Leave\n25 days.")
        doc = _doc(served, "open.md")
        assert (doc.classification, doc.groups) == ("internal", [])
    # The user without clearance never saw the confidential one.
    with served.client("user") as c:
        assert all(not d["uri"].endswith("pay.md") for d in c.get("/api/documents").json())


def test_bad_access_parameters_are_refused_and_change_nothing(served: Served) -> None:
    with served.client("admin") as c:
        c.post("/api/documents", params={"filename": "pay.md", "classification": "confidential",
                                         "groups": "hr"}, content=b"# Pay\nBands in April.")
        for params, fragment in [({"classification": "top-secret"}, "classification"),
                                 ({"groups": "hr,Bad Group!"}, "group name")]:
            r = c.post("/api/documents", params={"filename": "pay.md", **params},
                       content=b"# Pay\nBands in May.")
            assert r.status_code == 400 and fragment in r.json()["error"]["message"], r.text
    doc = _doc(served, "pay.md")
    assert (doc.classification, doc.groups) == ("confidential", ["hr"])
