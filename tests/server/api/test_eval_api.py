"""/api/eval: a suite run as a background job by an admin, with a gate; the stored run
read and compared by reviewers; wrong suites, targets and gates refused before any job."""

from __future__ import annotations

from tests.server.api.test_documents import _wait_job as _finished
from tests.server.conftest import Served


def test_a_policy_run_from_the_api_is_stored_gated_and_compared(served: Served) -> None:
    with served.client("admin") as admin, served.client("reviewer") as reviewer:
        names = {s["name"] for s in reviewer.get("/api/eval/suites").json()}
        assert {"policy", "answers", "rollout"} - names == {"rollout"}
        started = admin.post("/api/eval/runs", json={
            "suite": "policy", "gate": {"red_line.recall": {"min": 0.95},
                                        "over_refusal": {"max": 0.0001}}})
        assert started.status_code == 202, started.text
        job = _finished(admin, started.json()["url"])
        assert job["state"] == "done", job["error"]
        result = job["result"]
        assert result["gate_passed"] is False  # no over-refusal at all is too strict a bar
        assert result["gate_failed"] and "over_refusal" in result["gate_failed"][0]
        assert result["metrics"]["red_line.recall"] >= 0.95
        again = admin.post("/api/eval/runs", json={"suite": "policy", "target": "1"})
        second = _finished(admin, again.json()["url"])["result"]["run"]
        runs = reviewer.get("/api/eval/runs", params={"suite": "policy"}).json()
        assert [r["id"] for r in runs] == [second, result["run"]]
        assert runs[0]["author"] == "admin@example.com"
        rows = reviewer.get("/api/eval/compare", params={"first": result["run"],
                                                          "second": second}).json()
        assert {r["metric"]: r["change"] for r in rows}["red_line.recall"] == 0
        shown = reviewer.get(f"/api/eval/runs/{second}").json()
        assert shown["versions"]["charter"]["version"] == 1
        audit = {e["event"] for e in admin.get("/api/audit", params={"limit": 50}).json()}
        assert {"job.started", "eval.recorded"} <= audit
        for body, status, words in (
                ({"suite": "examples/sycophancy.yaml"}, 400, "no built-in suite"),
                ({"suite": "policy", "target": "99"}, 404, "no charter version 99"),
                ({"suite": "policy", "target": "latest"}, 400, "charter version number"),
                ({"suite": "policy", "gate": {"x": {"low": 1}}}, 400, "min and/or max")):
            r = admin.post("/api/eval/runs", json=body)
            assert r.status_code == status and words in r.json()["error"]["message"], r.text
        assert admin.get("/api/eval/runs/eval_missing").status_code == 404
    with served.client("user") as user:
        assert user.post("/api/eval/runs", json={"suite": "policy"}).status_code == 403
