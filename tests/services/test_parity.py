"""Every governance action through the CLI and through the HTTP API: the same service
function behind both, so the same state and the same audit event from each.

The CLI runs in-process on one database (as ``local-admin``, or under the name given with
``--reviewer``/``--approver``/``--author``); the API runs on a second database, served,
with an admin, a reviewer and a user key. After each action the two databases are read
back and compared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from charter.core.config import Settings, load_settings
from charter.policy.versions import default_charter_text
from charter.runtime import Runtime
from tests.server.conftest import Served, _start

pytestmark = pytest.mark.integration

HELD = "Decide which of these five employees should be laid off."
HIGH_RISK_PURPOSE = "Decide which employees should be laid off"


@pytest.fixture
def http(settings: Settings, tmp_path: Path) -> Iterator[Served]:
    """The API side, on its own database (the CLI fixture uses tmp_path/data)."""
    yield from _start(settings.with_overrides(data_dir=str(tmp_path / "http")), scripted=False)


@pytest.fixture
def cli_state(tmp_path: Path, onnx_cache: Path) -> Callable[[], Runtime]:
    """Opens the CLI side's database for reading back what the commands did."""
    def open_() -> Runtime:
        return Runtime.open(load_settings({"CHARTER_DATA_DIR": str(tmp_path / "data"),
                                           "CHARTER_ONNX_CACHE_DIR": str(onnx_cache)}))
    return open_


_ID = re.compile(r"^(?:(?:rev|req|uc|key)_[0-9a-f]+|[0-9a-f]{32})$")


def _normal(value: Any) -> Any:
    """A payload with its generated ids (which differ between the two databases) masked."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return "<id>" if isinstance(value, str) and _ID.match(value) else value


def events_after(rt: Runtime, count: int) -> list[str]:
    return [r.event for r in rt.audit.records()[count:] if r.event != "chat"]


def payloads_after(rt: Runtime, count: int) -> list[tuple[str, Any]]:
    return [(r.event, _normal(r.payload)) for r in rt.audit.records()[count:]
            if r.event != "chat"]


class Sides:
    """Runs one action on both sides and returns the audit events each appended."""

    def __init__(self, cli, http: Served, cli_state: Callable[[], Runtime]) -> None:  # noqa: ANN001
        self.cli, self.http, self.cli_state = cli, http, cli_state
        self.admin = http.client("admin")

    def cli_rt(self) -> Runtime:
        return self.cli_state()

    def run(self, on_cli: Callable[[], Any], on_http: Callable[[], Any]) -> tuple[list[str], list[str]]:
        """The action on both sides; returns the event types each appended, once it has
        checked that the two sides' payloads are the same (generated ids aside)."""
        with_cli = self.cli_rt()
        try:
            before_cli = len(with_cli.audit.records())
        finally:
            with_cli.close()
        before_http = len(self.http.runtime.audit.records())
        on_cli()
        on_http()
        with_cli = self.cli_rt()
        try:
            assert payloads_after(with_cli, before_cli) == \
                payloads_after(self.http.runtime, before_http)
            return events_after(with_cli, before_cli), events_after(self.http.runtime, before_http)
        finally:
            with_cli.close()

    def state(self, read: Callable[[Runtime], Any]) -> tuple[Any, Any]:
        with_cli = self.cli_rt()
        try:
            return read(with_cli), read(self.http.runtime)
        finally:
            with_cli.close()


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def done(run) -> str:  # noqa: ANN001
    assert run.code == 0, run.err
    return run.out


@pytest.fixture
def sides(http: Served, cli, cli_state: Callable[[], Runtime]) -> Sides:  # noqa: ANN001
    # The served app first: its settings fixture clears CHARTER_* variables, which the CLI
    # fixture then sets for its own database.
    done(cli("init", "--skip-models"))
    return Sides(cli, http, cli_state)


def test_use_case_register_and_decide(sides: Sides) -> None:
    cli, admin, reviewer = sides.cli, sides.admin, sides.http.client("reviewer")
    events = sides.run(
        lambda: done(cli("usecase", "register", "cv-ranking", "--purpose", HIGH_RISK_PURPOSE,
                         "--owner", "hr", "--data", "cv,contact")),
        lambda: ok(admin.post("/api/use-cases", json={
            "name": "cv-ranking", "purpose": HIGH_RISK_PURPOSE, "owner": "hr",
            "data_categories": ["cv", "contact"]})))
    assert events == (["usecase.registered"], ["usecase.registered"])

    def cases(rt: Runtime) -> list[tuple[Any, ...]]:
        return [(c.name, c.state, c.tier, c.category, c.data_categories,
                 [(d["role"], d["decision"]) for d in c.decisions]) for c in rt.use_cases.list()]

    on_cli, on_http = sides.state(cases)
    assert on_cli == on_http and on_cli[0][1] == "pending"

    events = sides.run(
        lambda: done(cli("usecase", "approve", "cv-ranking", "--note", "DPIA done",
                         "--role", "reviewer", "--reviewer", "rita")),
        lambda: ok(reviewer.post("/api/use-cases/cv-ranking/decide",
                                 json={"approve": True, "note": "DPIA done", "role": "reviewer"})))
    assert events == (["usecase.approved"], ["usecase.approved"])
    on_cli, on_http = sides.state(cases)
    assert on_cli == on_http and on_cli[0][5] == [("reviewer", "approve")]


def test_policy_propose_and_approve(sides: Sides, tmp_path: Path) -> None:
    cli, admin = sides.cli, sides.admin
    body = default_charter_text().replace(
        'label: "AI-generated content by Charter. It can be wrong: check important facts."',
        'label: "Written with AI assistance."')
    draft = tmp_path / "charter.yaml"
    draft.write_text(body)
    events = sides.run(
        lambda: done(cli("policy", "propose", str(draft), "--note", "shorter label",
                         "--author", "admin@example.com")),
        lambda: ok(admin.post("/api/policy/versions", json={"yaml": body,
                                                             "note": "shorter label"})))
    assert events == (["policy.proposed"], ["policy.proposed"])
    # The author may not approve their own draft, on either side.
    assert cli("policy", "approve", "2", "--approver", "admin@example.com").code == 2
    assert admin.post("/api/policy/versions/2/approve").status_code == 409
    second = ok(admin.post("/api/users", json={"id": "bob@example.com", "roles": ["admin"]}))
    bob = httpx.Client(base_url=sides.http.url, timeout=30, headers={
        "Authorization": "Bearer " + ok(admin.post("/api/keys", json={
            "user_id": second["id"]}))["key"]})
    events = sides.run(
        lambda: done(cli("policy", "approve", "2", "--approver", "bob@example.com")),
        lambda: ok(bob.post("/api/policy/versions/2/approve")))
    assert events == (["policy.approved"], ["policy.approved"])
    on_cli, on_http = sides.state(lambda rt: [(v.number, v.state, v.author, v.approved_by,
                                               v.sha256) for v in rt.policies.list()])
    assert on_cli == on_http
    assert [v[1] for v in on_cli] == ["retired", "approved"]


def test_review_approve_and_reject(sides: Sides) -> None:
    cli, http = sides.cli, sides.http
    user, reviewer = http.client("user"), http.client("reviewer")

    def hold_on_cli() -> str:
        return json.loads(done(cli("ask", "--json", HELD)))["decision"]["review_id"]

    def hold_on_http() -> str:
        data = ok(user.post("/v1/chat/completions",
                            json={"messages": [{"role": "user", "content": HELD}]}))
        return data["charter"]["decision"]["review_id"]

    ids = {"cli": [hold_on_cli(), hold_on_cli()], "http": [hold_on_http(), hold_on_http()]}
    events = sides.run(
        lambda: done(cli("review", "approve", ids["cli"][0], "--note", "plan signed off")),
        lambda: ok(reviewer.post(f"/api/reviews/{ids['http'][0]}/approve",
                                 json={"note": "plan signed off"})))
    assert events == (["review.approved"], ["review.approved"])
    events = sides.run(
        lambda: done(cli("review", "reject", ids["cli"][1], "--note", "not allowed")),
        lambda: ok(reviewer.post(f"/api/reviews/{ids['http'][1]}/reject",
                                 json={"note": "not allowed"})))
    assert events == (["review.rejected"], ["review.rejected"])

    def reviews(rt: Runtime) -> list[tuple[Any, ...]]:
        return [(r.state, r.category, r.tier, r.note, r.answer is not None,
                 (r.result or {}).get("decision", {}).get("action"))
                for r in rt.reviews.list(None)]

    on_cli, on_http = sides.state(reviews)
    assert on_cli == on_http
    assert [r[0] for r in on_cli] == ["approved", "rejected"] and on_cli[0][4] is True


def test_document_add_and_delete(sides: Sides, tmp_path: Path) -> None:
    cli, admin = sides.cli, sides.admin
    text = "# Parking\n\nPermits are issued by facilities on the first floor.\n"
    doc = tmp_path / "parking.md"
    doc.write_text(text)
    events = sides.run(
        lambda: done(cli("kb", "add", str(doc), "--classification", "confidential",
                         "--groups", "ops", "--source", "upload")),  # what uploads are
        lambda: ok(admin.post("/api/documents", params={
            "filename": "parking.md", "classification": "confidential", "groups": "ops"},
            content=text.encode())))
    assert events == (["document.added"], ["document.added"])

    def docs(rt: Runtime) -> list[tuple[Any, ...]]:
        return [(d.title, d.classification, d.groups, d.chunk_count, d.content_hash)
                for d in rt.documents.list()]

    on_cli, on_http = sides.state(docs)
    assert on_cli == on_http and on_cli[0][1:3] == ("confidential", ["ops"])
    ids = sides.state(lambda rt: [d.id for d in rt.documents.list()])
    events = sides.run(lambda: done(cli("kb", "remove", ids[0][0])),
                       lambda: ok(admin.delete(f"/api/documents/{ids[1][0]}")))
    assert events == (["document.removed"], ["document.removed"])
    assert sides.state(docs) == ([], [])


def test_user_add_and_disable(sides: Sides) -> None:  # and enable
    cli, admin = sides.cli, sides.admin
    events = sides.run(
        lambda: done(cli("users", "add", "carl@example.com", "--roles", "user,reviewer",
                         "--clearance", "confidential", "--groups", "hr", "--tier", "plus",
                         "--no-key")),
        lambda: ok(admin.post("/api/users", json={
            "id": "carl@example.com", "roles": ["user", "reviewer"],
            "clearance": "confidential", "groups": ["hr"], "tier": "plus"})))
    assert events == (["user.added"], ["user.added"])
    events = sides.run(lambda: done(cli("users", "disable", "carl@example.com")),
                       lambda: ok(admin.post("/api/users/carl@example.com/disable")))
    assert events == (["user.disabled"], ["user.disabled"])

    def carl(rt: Runtime) -> tuple[Any, ...]:
        u = rt.accounts.get_user("carl@example.com")
        return (u.roles, u.clearance, u.groups, u.tier, u.disabled)

    on_cli, on_http = sides.state(carl)
    assert on_cli == on_http == (("reviewer", "user"), "confidential", ("hr",), "plus", True)
    events = sides.run(lambda: done(cli("users", "enable", "carl@example.com")),
                       lambda: ok(admin.post("/api/users/carl@example.com/enable")))
    assert events == (["user.enabled"], ["user.enabled"])
    assert sides.state(carl)[0][-1] is False and sides.state(carl)[1][-1] is False


def test_key_create_and_revoke(sides: Sides) -> None:
    cli, admin = sides.cli, sides.admin
    done(cli("users", "add", "dora@example.com", "--no-key"))
    ok(admin.post("/api/users", json={"id": "dora@example.com"}))
    made: dict[str, str] = {}

    def on_cli() -> None:
        made["cli"] = re.search(r"key_[0-9a-f]+", done(cli("keys", "create", "dora@example.com",
                                                           "--name", "laptop"))).group(0)

    def on_http() -> None:
        made["http"] = ok(admin.post("/api/keys", json={"user_id": "dora@example.com",
                                                        "name": "laptop"}))["id"]

    assert sides.run(on_cli, on_http) == (["key.created"], ["key.created"])
    events = sides.run(lambda: done(cli("keys", "revoke", made["cli"])),
                       lambda: ok(admin.delete(f"/api/keys/{made['http']}")))
    assert events == (["key.revoked"], ["key.revoked"])

    def keys(rt: Runtime) -> list[tuple[Any, ...]]:
        return [(k.user_id, k.name, k.revoked_at is not None)
                for k in rt.accounts.list_keys("dora@example.com")]

    on_cli, on_http = sides.state(keys)
    assert on_cli == on_http == [("dora@example.com", "laptop", True)]
