"""/api/drift through a served app: a topic shift alerts from the server's own background
check; only admins read drift state or steer it, and reviewers never see the alert."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from charter.core.config import Settings
from tests.server.conftest import Served, _start
from tests.services.test_drift import CHEMISTRY, LEAVE, _questions


@pytest.fixture
def served_drift(settings: Settings) -> Iterator[Served]:
    yield from _start(settings.with_overrides(drift_window=10, drift_reference=10,
                                              drift_check_every=5), scripted=True)


def test_a_shift_alerts_in_the_server_and_only_admins_see_it(served_drift: Served) -> None:
    with served_drift.client("user") as c:
        for q in _questions(LEAVE, 20) + _questions(CHEMISTRY, 10):
            r = c.post("/v1/chat/completions", json={"messages": [{"role": "user",
                                                                   "content": q}]})
            assert r.status_code == 200, r.text
    with served_drift.client("admin") as admin:
        deadline, fired = time.monotonic() + 60, []
        while not fired and time.monotonic() < deadline:
            checks = admin.get("/api/drift/checks").json()
            fired = [c for c in checks if c["fired"]]
            time.sleep(0.2)
        assert fired, checks
        assert fired[0]["actor"] == "system:drift" and fired[0]["upto"] in (25, 30)
        status = admin.get("/api/drift").json()
        assert status["samples"] == 30 and status["last_alert"]["upto"] == fired[0]["upto"]
        alerts = admin.get("/api/audit", params={"event": "drift.alerted"}).json()
        assert alerts and alerts[0]["payload"]["grown"]
        bad = admin.post("/api/drift/baseline", json={"first_id": 0})
        assert bad.status_code == 422 and "first_id" in bad.json()["error"]["message"]
        wrong = admin.post("/api/drift/baseline", json={"first_id": 25, "last_id": 21})
        assert wrong.status_code == 400 and "is after" in wrong.json()["error"]["message"]
        ok = admin.post("/api/drift/baseline", json={"first_id": 21, "last_id": 30})
        assert ok.status_code == 200 and ok.json()["first_id"] == 21
        now = admin.post("/api/drift/check")  # sample 30 was checked: that check
        assert now.status_code == 200 and now.json()["upto"] == 30
        assert now.json()["report"]["pinned"] is False
    for role in ("user", "reviewer"):
        with served_drift.client(role) as c:
            assert c.get("/api/drift").status_code == 403
            assert c.get("/api/drift/checks").status_code == 403
            assert c.post("/api/drift/check").status_code == 403
            assert c.post("/api/drift/baseline", json={"trailing": True}).status_code == 403
    with served_drift.client("reviewer") as c:
        events = {e["event"] for e in c.get("/api/audit", params={"limit": 1000}).json()}
        assert "chat" in events and "drift.alerted" not in events
