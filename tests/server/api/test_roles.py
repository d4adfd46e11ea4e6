"""Every endpoint with every role: no key is 401, too low a role is 403, otherwise the
endpoint answers (never 401/403, never 500)."""

from __future__ import annotations

import pytest

from tests.server.conftest import Served

RANK = {"user": 0, "reviewer": 1, "admin": 2}

# (method, path, json body, lowest role that may call it)
ENDPOINTS = [
    ("get", "/api/me", None, "user"),
    ("put", "/api/me/profile", {"personality": "robot"}, "user"),
    ("get", "/api/documents", None, "user"),
    ("post", "/api/documents?filename=note.txt", None, "admin"),
    ("delete", "/api/documents/nope", None, "admin"),
    ("get", "/api/documents/status", None, "reviewer"),
    ("post", "/api/feedback", {"request_id": "req_x", "kind": "vote", "value": "up"}, "user"),
    ("post", "/api/feedback", {"request_id": "req_x", "kind": "eval", "value": "correct"}, "reviewer"),
    ("get", "/api/reviews", None, "reviewer"),
    ("get", "/api/reviews/mine", None, "user"),
    ("post", "/api/reviews/rev_x/approve", {"note": "ok"}, "reviewer"),
    ("post", "/api/reviews/rev_x/reject", {"note": "no"}, "reviewer"),
    ("get", "/api/use-cases", None, "user"),
    ("post", "/api/use-cases/none/decide", {"approve": True, "note": "ok"}, "reviewer"),
    ("get", "/api/policy/versions", None, "user"),
    ("get", "/api/policy/versions/1", None, "user"),
    ("post", "/api/policy/versions", {"yaml": "name: x", "note": "a draft"}, "admin"),
    ("post", "/api/policy/versions/99/approve", None, "admin"),
    ("get", "/api/audit", None, "reviewer"),
    ("get", "/api/audit/export", None, "admin"),
    ("get", "/api/usage", None, "user"),
    ("get", "/api/usage?user=someone-else", None, "admin"),
    ("get", "/api/usage/limits", None, "user"),
    ("put", "/api/usage/limits/plus/fast", {"max_requests": 5}, "admin"),
    ("get", "/api/users", None, "admin"),
    ("post", "/api/users", {"id": "new@example.com"}, "admin"),
    ("post", "/api/users/user@example.com/disable", None, "admin"),
    ("post", "/api/users/user@example.com/enable", None, "admin"),
    ("get", "/api/keys", None, "user"),
    ("post", "/api/keys", {"name": "mine"}, "user"),
    ("post", "/api/keys", {"user_id": "someone@example.com"}, "admin"),
    ("delete", "/api/keys/key_someone_else", None, "admin"),
    ("get", "/api/stats", None, "reviewer"),
    ("get", "/api/drift", None, "admin"),
    ("get", "/api/drift/checks", None, "admin"),
    ("post", "/api/drift/check", None, "admin"),
    ("post", "/api/drift/baseline", {"trailing": True}, "admin"),
    ("get", "/api/rollouts", None, "admin"),
    ("post", "/api/rollouts", {"kind": "router", "version": 1}, "admin"),
    ("get", "/api/rollouts/ro_x", None, "admin"),
    ("post", "/api/rollouts/ro_x/stop", None, "admin"),
    ("post", "/api/rollouts/ro_x/promote", None, "admin"),
    ("get", "/api/eval/suites", None, "reviewer"),
    ("post", "/api/eval/runs", {"suite": "no-such-suite"}, "admin"),
    ("get", "/api/eval/runs", None, "reviewer"),
    ("get", "/api/eval/runs/eval_x", None, "reviewer"),
    ("get", "/api/eval/compare?first=eval_x&second=eval_y", None, "reviewer"),
    ("get", "/v1/models", None, "user"),
    ("post", "/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}]}, "user"),
    ("post", "/v1/embeddings", {"input": "hello"}, "user"),
]


@pytest.mark.parametrize("method, path, body, lowest", ENDPOINTS,
                         ids=[f"{m} {p} {lo}" for m, p, _, lo in ENDPOINTS])
def test_each_endpoint_with_each_role(served: Served, method: str, path: str, body, lowest: str) -> None:
    for role in (None, "user", "reviewer", "admin"):
        with served.client(role) as c:
            kwargs = {"json": body} if body is not None else {}
            if path.startswith("/api/documents?"):
                kwargs = {"content": b"A short note about leave."}
            r = c.request(method, path, **kwargs)
        if role is None:
            assert r.status_code == 401, (role, r.text)
        elif RANK[role] < RANK[lowest]:
            assert r.status_code == 403, (role, r.text)
            assert r.json()["error"]["code"] == "forbidden"
        else:
            assert r.status_code not in (401, 403) and r.status_code < 500, (role, r.text)


def test_documents_are_listed_only_within_clearance(served: Served, tmp_path) -> None:
    from charter.knowledge.ingest import IngestOptions, Ingestor

    rt = served.runtime
    (tmp_path / "open.md").write_text("# Leave\nEveryone gets 25 days of leave.")
    (tmp_path / "pay.md").write_text("# Pay\nSalary bands are confidential.")
    ing = Ingestor(rt.db, rt.embedder())
    ing.add([tmp_path / "open.md"], IngestOptions(classification="internal"))
    ing.add([tmp_path / "pay.md"], IngestOptions(classification="confidential", groups=["hr"]))
    with served.client("user") as c:
        titles = {d["name"] for d in c.get("/api/documents").json()}
    assert titles == {"open.md"}
    # Roles do not widen what a person may read: the admin has no hr group.
    with served.client("admin") as c:
        titles = {d["name"] for d in c.get("/api/documents").json()}
    assert titles == {"open.md"}
    rt.accounts.add_user("hr@example.com", clearance="confidential", groups=["hr"])
    served.keys["hr"] = rt.accounts.create_key("hr@example.com")[1]
    with served.client("hr") as c:
        titles = {d["name"] for d in c.get("/api/documents").json()}
    assert titles == {"open.md", "pay.md"}


def test_bad_input_to_the_native_api_gets_clear_errors(served: Served) -> None:
    with served.client("admin") as c:
        cases = [
            (c.post("/api/users", json={"id": "x@example.com", "roles": ["boss"]}), 400,
             "roles must be among"),
            (c.post("/api/users", json={"id": "bad id"}), 400, "user id"),
            (c.post("/api/users", json={"id": "user@example.com"}), 409, "already exists"),
            (c.post("/api/feedback", json={"request_id": "req_x", "kind": "vote",
                                           "value": "up"}), 404, "no answered request"),
            (c.post("/api/feedback", json={"request_id": "req_x", "kind": "rating",
                                           "value": "5"}), 422, "kind"),
            (c.post("/api/documents?filename=note.txt", content=b""), 400, "body is empty"),
            (c.post("/api/documents?filename=.hidden", content=b"x"), 400, "start with a dot"),
            (c.put("/api/me/profile", json={"personality": "pirate"}), 400, "unknown personality"),
            (c.put("/api/usage/limits/free/fast", json={"max_requests": -1}), 422, "max_requests"),
            (c.get("/api/policy/versions/99"), 404, "no charter version 99"),
            (c.get("/api/audit?limit=0"), 422, "limit"),
            (c.post("/api/users/admin@example.com/disable"), 400, "cannot disable yourself"),
            (c.post("/v1/embeddings", json={"input": []}), 400, "non-empty"),
            (c.post("/v1/chat/completions", json={"messages": [
                {"role": "user", "content": [{"type": "image_url"}]}]}), 400, "only text"),
            (c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}],
                                                  "charter": {"tone": "x"}}), 422, "charter"),
        ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        assert words in response.json()["error"]["message"], response.text
