"""/api/rollouts end to end: a charter draft that refuses everything, served to 20% of the
users, is rolled back by the server after its min_requests challenger requests; an equal
draft is promoted (approved) once shown to hold; both moves are in the audit trail, and
only admins see or steer rollouts."""

from __future__ import annotations

import httpx

from collections.abc import Iterator

import pytest

from charter.core.config import Settings
from charter.rollout import CHALLENGER, arm_of
from tests.server.conftest import Served, _start
from tests.services.test_rollouts import DEGRADED, EQUAL, QUESTION


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    """Judged after every challenger request, so the verdict comes at a known request."""
    yield from _start(settings.with_overrides(rollout_judge_interval=0), scripted=True)


def _people(served: Served, n: int) -> list[tuple[str, httpx.Client]]:
    rt = served.runtime
    out = []
    for i in range(n):
        uid = f"canary-{i}@example.com"
        rt.accounts.add_user(uid, roles=["user"], tier="pro")
        out.append((uid, httpx.Client(base_url=served.url, timeout=30, headers={
            "Authorization": f"Bearer {rt.accounts.create_key(uid)[1]}"})))
    return out


def _second_admin(served: Served) -> httpx.Client:
    rt = served.runtime
    rt.accounts.add_user("admin2@example.com", roles=["admin"], tier="pro")
    return httpx.Client(base_url=served.url, timeout=30, headers={
        "Authorization": f"Bearer {rt.accounts.create_key('admin2@example.com')[1]}"})


def _until_ended(admin: httpx.Client, people: list[tuple[str, httpx.Client]], rid: str,
                 limit: int) -> tuple[dict, dict[str, list[str]]]:
    """Every person asks in turn until the rollout ends; the decisions each arm got."""
    seen: dict[str, list[str]] = {"champion": [], "challenger": []}
    for n in range(limit):
        uid, client = people[n % len(people)]
        r = client.post("/v1/chat/completions", json={
            "messages": [{"role": "user", "content": QUESTION}]})
        assert r.status_code == 200, r.text
        arm = "challenger" if arm_of(rid, uid, 0.2) == CHALLENGER else "champion"
        seen[arm].append(r.json()["charter"]["decision"]["action"])
        state = admin.get(f"/api/rollouts/{rid}").json()
        if state["status"] != "running":
            return state, seen
    raise AssertionError(f"rollout {rid} still running after {limit} requests")


def test_a_degraded_draft_is_rolled_back_and_an_equal_one_promoted(served: Served) -> None:
    people = _people(served, 50)
    with served.client("admin") as author, _second_admin(served) as admin:
        draft = author.post("/api/policy/versions", json={"yaml": DEGRADED,
                                                          "note": "refuse more"}).json()
        own = author.post("/api/rollouts", json={"kind": "charter",
                                                 "version": draft["number"]})
        assert own.status_code == 409 and "different admin" in own.json()["error"]["message"]
        started = admin.post("/api/rollouts", json={
            "kind": "charter", "version": draft["number"], "share": 0.2, "min_requests": 10,
            "min_users": 3})
        assert started.status_code == 200, started.text
        rid = started.json()["id"]
        state, seen = _until_ended(admin, people, rid, limit=300)
        assert state["status"] == "rolled_back" and state["ended_by"] == "system:rollout"
        # Rolled back at the first judgement allowed: its 10th challenger request.
        assert seen["challenger"] == ["refuse"] * 10
        assert state["arms"]["challenger"]["requests"] == 10
        assert set(seen["champion"]) == {"allow"}
        assert "refused rate 100.0%" in state["reason"]
        audit = admin.get("/api/audit", params={"event": "rollout.rolled_back"}).json()
        assert [e["request_id"] for e in audit] == [rid]

        good = author.post("/api/policy/versions", json={"yaml": EQUAL,
                                                         "note": "renamed"}).json()
        started = admin.post("/api/rollouts", json={
            "kind": "charter", "version": good["number"], "share": 0.2, "min_requests": 10,
            "promote_after": 20, "min_users": 3, "margin": 0.25, "strict_margin": 0.25})
        rid = started.json()["id"]
        state, seen = _until_ended(admin, people, rid, limit=400)
        assert state["status"] == "promoted", state
        assert len(seen["challenger"]) >= 20 and set(seen["challenger"]) == {"allow"}
        version = admin.get(f"/api/policy/versions/{good['number']}").json()
        assert version["state"] == "approved" and version["approved_by"] == "admin2@example.com"
        events = [e["event"] for e in admin.get("/api/audit", params={"limit": 200}).json()]
        for name in ("rollout.started", "rollout.promoted", "policy.approved"):
            assert name in events
        listed = admin.get("/api/rollouts").json()
        assert [r["status"] for r in listed] == ["promoted", "rolled_back"]
        bad = admin.post("/api/rollouts", json={"kind": "charter", "version": 1, "share": 2})
        assert bad.status_code == 422
        for body, words in (({"kind": "alias", "to": "fast"}, "names alias and to"),
                            ({"kind": "router"}, "names its challenger version"),
                            ({"kind": "alias", "alias": "fast"}, "--to ALIAS")):
            r = admin.post("/api/rollouts", json=body)
            assert r.status_code == 400 and words in r.json()["error"]["message"], r.text
        gone = admin.post(f"/api/rollouts/{rid}/stop", json={"reason": "late"})
        assert gone.status_code == 409 and "already ended" in gone.json()["error"]["message"]
        assert admin.get("/api/rollouts/ro_nope").status_code == 404
    for _, client in people:
        client.close()
    with served.client("reviewer") as reviewer:
        events = {e["event"] for e in reviewer.get("/api/audit", params={"limit": 500}).json()}
        assert "rollout.promoted" in events  # governance moves are the reviewers' to read
        assert reviewer.get("/api/rollouts").status_code == 403
        assert reviewer.post(f"/api/rollouts/{rid}/promote").status_code == 403
