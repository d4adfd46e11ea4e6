"""/api/runs end to end: a user's run is queued, worked by the server's engine, approved
by a reviewer, read by its owner only, and audited."""

from __future__ import annotations

import time

from charter.agents import engine
from charter.core.aliases import AliasConfig
from tests.server.conftest import Served

SPEC = {"agents": {"solo": {"role": "Solo", "tools": ["calculator"], "model": "agent-model"}},
        "teams": {"sums": {"members": ["solo"], "budget": {"steps": 4}}}}


def poll(client, run_id: str, until: tuple[str, ...], timeout: float = 30.0) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/runs/{run_id}").json()
        if body["status"] in until:
            return body
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still {body['status']}")


def test_a_run_is_queued_worked_and_shown_to_its_owner_only(served: Served) -> None:
    served.runtime.aliases.add(AliasConfig("agent-model", "scripted", "", {
        "replies": ['CALL calculator {"expression": "2 ** 10"}', "It is 1024."]}))
    try:
        user, reviewer = served.client("user"), served.client("reviewer")
        r = user.post("/api/runs", json={"team": "sums", "task": "What is 2 to the 10th?",
                                         "spec": SPEC})
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        done = poll(user, run_id, ("completed", "failed", "refused", "budget_exhausted"))
        assert done["status"] == "completed", done
        assert done["answer"] == "It is 1024."
        tool = [s for s in done["steps"] if s["kind"] == "tool"]
        assert tool[0]["result"] == "1024" and tool[0]["tool"] == "calculator"
        assert [x["id"] for x in user.get("/api/runs").json()] == [run_id]
        # A reviewer is not the owner: the run and its steps are not theirs to read.
        assert reviewer.get(f"/api/runs/{run_id}").status_code == 404
        assert reviewer.get("/api/runs").json() == []
        assert user.get("/api/runs", params={"all": "true"}).status_code == 403
        admin = served.client("admin")
        assert run_id in [x["id"] for x in admin.get("/api/runs",
                                                      params={"all": "true"}).json()]
        events = {rec.event for rec in served.runtime.audit.records(request_id=run_id)}
        assert {"run.started", "agent.tool_called", "run.finished"} <= events
    finally:
        engine.shutdown()


def test_bad_run_requests_get_a_clear_error(served: Served) -> None:
    user = served.client("user")
    try:
        cases = [({"team": "nope", "task": "x"}, 400, "no team"),
                 ({"team": "research", "task": ""}, 422, "task"),
                 ({"team": "research", "task": "x", "budget": {"steps": 0}}, 422, "steps"),
                 ({"team": "research", "task": "x", "budget": {"steps": 400}}, 400,
                  "more than you may set"),
                 ({"team": "research", "task": "x", "extra": 1}, 422, "extra"),
                 ({"team": "x", "task": "x", "spec": {"teams": {"x": {"members": ["ghost"]}}}},
                  400, "not declared")]
        for body, status, words in cases:
            r = user.post("/api/runs", json=body)
            assert r.status_code == status, (body, r.text)
            assert words in r.json()["error"]["message"]
        assert user.get("/api/runs/run_missing").status_code == 404
        reviewer = served.client("reviewer")
        for path, body, status in [
                ("/api/runs/run_missing/approval", {}, 422),  # says neither yes nor no
                ("/api/runs/run_missing/approval", {"approve": "maybe"}, 422),
                ("/api/runs/run_missing/approval", {"approve": True}, 404),
                ("/api/runs/run_missing/resume", {"budget": {"tokens": 5}}, 422),
                ("/api/runs/run_missing/resume", {}, 404),
                ("/api/runs/run_missing/cancel", None, 404)]:
            r = reviewer.post(path, json=body)
            assert r.status_code == status, (path, body, r.text)
            assert r.json()["error"]["message"]
        assert user.post("/api/runs/run_missing/approval",
                         json={"approve": True}).status_code == 403  # users do not approve
        assert served.client(None).get("/api/runs").status_code == 401
    finally:
        engine.shutdown()
