"""Drift detection through the gateway: requests sampled, checks run as they come in,
alerts in the audit trail and a webhook, and only admins reading or steering it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage
from charter.core.config import Settings
from charter.core.errors import ForbiddenError, InvalidInputError
from charter.core.principal import Principal, local_admin
from charter.runtime import Runtime
from charter.services import audit as audit_service
from charter.services import drift as service
from charter.spine.request import AskRequest
from charter.store.drift import DriftRepository

ADMIN = local_admin()
USER = Principal("u-drift", frozenset({"user"}))
REVIEWER = Principal("r-drift", frozenset({"reviewer"}))

LEAVE = ["How many days of annual leave do I get in year {i}?",
         "Can I carry over holiday days into year {i}?",
         "Who approves my vacation request number {i}?",
         "Is a doctor's note needed for sick day {i}?",
         "How do I book parental leave for child {i}?"]
CHEMISTRY = ["What is the molar mass of {c}?",
             "Balance the combustion equation of {c} in oxygen.",
             "Which orbital hybridisation does the carbon in {c} show?",
             "How does a catalyst lower the activation energy of making {c}?",
             "Is {c} an acid or a base in water, and how strong?"]
COMPOUNDS = ["ethanol", "benzene", "methane", "acetone", "glycerol", "toluene", "phenol",
             "ammonia", "urea", "propane", "butane", "ethylene", "styrene", "nitrobenzene",
             "formaldehyde", "methanol", "acetylene", "hexane", "pentane", "octane"]
CHEMICAL = ("molar", "combustion", "hybridisation", "catalyst", "acid")


def _questions(templates: list[str], n: int, start: int = 0) -> list[str]:
    return [templates[i % len(templates)].format(i=start + i,
                                                 c=COMPOUNDS[(start + i) % len(COMPOUNDS)])
            for i in range(n)]


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the handler API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/drift", received
    server.shutdown()


def _open(settings: Settings, **overrides: object) -> Runtime:
    rt = Runtime.open(settings.with_overrides(drift_window=10, drift_reference=10,
                                              drift_check_every=5, **overrides))
    rt.aliases.add(AliasConfig("script", "scripted", "", {"replies": ["Noted."]}))
    return rt


def _ask(rt: Runtime, text: str, origin: str | None = None) -> None:
    rt.gateway.ask(AskRequest([ChatMessage("user", text)], ADMIN, model="script",
                              origin=origin))
    rt.drift.close()  # wait for a check this request started (deterministic order)


def test_requests_are_sampled_redacted_and_agent_steps_are_not(settings: Settings) -> None:
    rt = _open(settings)
    try:
        _ask(rt, "Please mail jane.doe@example.com the leave policy")
        _ask(rt, "An agent's own step", origin="run_x:writer")
        repo = DriftRepository(rt.db)
        samples = repo.last(10, repo.latest_id())
        assert len(samples) == 1
        s = samples[0]
        assert "jane.doe@example.com" not in s.question and "leave policy" in s.question
        assert s.decision == "allow" and s.route == "script"
        assert s.vector is not None and len(s.vector) == 384 and s.vector_model
    finally:
        rt.close()


def test_sampling_off_keeps_nothing_and_a_check_says_so(settings: Settings) -> None:
    rt = _open(settings, drift=False)
    try:
        _ask(rt, "How many days of annual leave do I get?")
        assert DriftRepository(rt.db).count() == 0
        with pytest.raises(InvalidInputError, match="no requests have been sampled"):
            service.check_now(rt, ADMIN)
    finally:
        rt.close()


def test_a_topic_shift_raises_an_alert_with_its_evidence(
        settings: Settings, webhook: tuple[str, list[dict]]) -> None:
    url, received = webhook
    rt = _open(settings, drift_webhook=url)
    service.monitor(rt)
    try:
        for q in _questions(LEAVE, 20):
            _ask(rt, q)
        checks = service.list_checks(rt, ADMIN)
        assert [c.upto for c in checks] == [20, 15, 10, 5]
        assert "not enough requests" in checks[-1].report["skipped"]  # 5 of 10 so far
        assert not any(c.fired for c in checks)  # leave questions against leave questions
        assert not received
        for q in _questions(CHEMISTRY, 10):
            _ask(rt, q)
        newest = service.list_checks(rt, ADMIN, 1)[0]
        assert newest.upto == 30 and newest.fired
        assert newest.report["current_ids"] == [21, 30]
        assert newest.report["reference_ids"] == [11, 20]
        embed = newest.report["tests"][0]
        assert embed["name"] == "embeddings" and embed["fired"] and embed["auc"] >= 0.55
        examples = [e for c in newest.report["grown"] for e in c["examples"]]
        assert examples and all(any(w in e for w in CHEMICAL) for e in examples)
        alerts = audit_service.records(rt, ADMIN, event="drift.alerted")
        assert alerts and alerts[0].actor == service.SYSTEM.id
        assert alerts[0].payload["upto"] in (25, 30)
        assert received and received[-1]["event"] == "drift.alerted"
        assert received[-1]["upto"] == 30 and "embeddings" in received[-1]["summary"]
        # Another process that reaches the same sample does not check it again.
        assert service.run_check(rt, 30) is None
    finally:
        rt.close()


def test_a_failed_webhook_is_logged_and_the_alert_still_recorded(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    rt = _open(settings, drift_webhook="http://127.0.0.1:9/unreachable")
    try:
        for q in _questions(LEAVE, 20) + _questions(CHEMISTRY, 10):
            _ask(rt, q)
        with caplog.at_level("WARNING", logger="charter.drift"):
            check = service.check_now(rt, ADMIN)
        assert check.fired and check.actor == ADMIN.id
        assert "webhook failed" in caplog.text and "drift detected" in caplog.text
        assert audit_service.records(rt, ADMIN, event="drift.alerted")
    finally:
        rt.close()


def test_a_pinned_reference_is_compared_and_bad_windows_are_refused(settings: Settings) -> None:
    rt = _open(settings)
    try:
        for q in _questions(LEAVE, 15) + _questions(CHEMISTRY, 15):
            _ask(rt, q)
        with pytest.raises(InvalidInputError, match="is after"):
            service.pin(rt, ADMIN, first_id=12, last_id=5)
        with pytest.raises(InvalidInputError, match="at least 10"):
            service.pin(rt, ADMIN, first_id=1, last_id=4)
        with pytest.raises(InvalidInputError, match="numbered 1 to 30"):
            service.pin(rt, ADMIN, last_id=99)
        with pytest.raises(InvalidInputError, match="--trailing takes no"):
            service.pin(rt, ADMIN, first_id=1, trailing=True)
        # The chemistry questions, accepted as the new normal: they no longer drift.
        service.pin(rt, ADMIN, first_id=16, last_id=30)
        for q in _questions(CHEMISTRY, 10, start=7):
            _ask(rt, q)
        check = service.check_now(rt, ADMIN)
        assert check.report["pinned"] and check.report["reference_ids"][0] == 16
        # 15 pinned samples, drift_reference 10: the check compares 10, evenly spaced.
        assert check.report["reference"] == 10 and check.report["reference_ids"][1] >= 28
        assert not check.fired
        service.pin(rt, ADMIN, trailing=True)
        assert service.status(rt, ADMIN)["baseline"] is None
        events = [r.event for r in audit_service.records(rt, ADMIN)]
        assert "drift.pinned" in events and "drift.unpinned" in events
    finally:
        rt.close()


def test_only_admins_read_or_steer_drift(settings: Settings) -> None:
    rt = _open(settings)
    try:
        for q in _questions(LEAVE, 20) + _questions(CHEMISTRY, 10):
            _ask(rt, q)
        service.check_now(rt, ADMIN)
        for who in (USER, REVIEWER):
            for call in (lambda p: service.status(rt, p), lambda p: service.check_now(rt, p),
                         lambda p: service.list_checks(rt, p),
                         lambda p: service.pin(rt, p, trailing=True)):
                with pytest.raises(ForbiddenError):
                    call(who)
        # The alert quotes users' questions: reviewers reading the trail do not see it.
        seen = {r.event for r in audit_service.records(rt, REVIEWER, limit=1000)}
        assert "drift.alerted" not in seen
        assert audit_service.records(rt, ADMIN, event="drift.alerted")
    finally:
        rt.close()
