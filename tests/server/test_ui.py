"""The web UI in a real browser: Debian's Chromium driven by Playwright (never downloaded).

Signs in, asks a question, opens a citation, sees a request held, and as a reviewer
approves it; screenshots go to test-artifacts/ui/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.server.conftest import Served

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


def _browser():  # type: ignore[no-untyped-def]
    required = os.environ.get("CHARTER_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            raise
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        if required:
            raise AssertionError(f"{CHROMIUM} is missing: apt-get install chromium")
        pytest.skip("no chromium: apt-get install chromium")
    return sync_playwright


def signed_in(browser, url: str, key: str, width: int = 1280, height: int = 900):  # noqa: ANN001, ANN201
    """A new page of ``browser`` at ``url``, signed in with ``key``."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    return page


def launch(pw):  # noqa: ANN001, ANN201
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu"])


@pytest.mark.integration
def test_sign_in_ask_open_citation_and_approve_a_held_request(served_handbook: Served) -> None:
    sync_playwright = _browser()
    SHOTS.mkdir(parents=True, exist_ok=True)
    served = served_handbook
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(served.url)
            page.get_by_label("API key").fill(served.keys["user"])
            page.get_by_role("button", name="Sign in").click()
            page.get_by_label("Your question").wait_for()
            assert "User" in page.locator("#who").inner_text()

            page.get_by_label("Your question").fill(
                "How many days of paid annual leave do full-time employees get?")
            page.keyboard.press("Enter")
            first_source = page.locator(".msg.assistant .sources button").first
            first_source.wait_for(timeout=60_000)
            badge = page.locator(".msg.assistant .badge").first.inner_text()
            assert badge.startswith("route: ")
            page.screenshot(path=str(SHOTS / "1-answer-with-citations.png"), full_page=True)
            first_source.click()
            dialog = page.locator("dialog#citation")
            dialog.wait_for(state="visible")
            assert "leave" in dialog.locator("blockquote").inner_text().lower()
            page.screenshot(path=str(SHOTS / "2-citation-open.png"))
            dialog.get_by_role("button", name="Close").click()

            page.get_by_label("Your question").fill("Decide which employees to lay off next month.")
            page.get_by_role("button", name="Send").click()
            notice = page.locator(".msg.assistant .notice").last
            notice.wait_for(timeout=60_000)
            assert "Pending review" in notice.inner_text()
            page.screenshot(path=str(SHOTS / "3-held-for-review.png"), full_page=True)

            reviewer = browser.new_page(viewport={"width": 1280, "height": 860})
            reviewer.goto(served.url)
            reviewer.get_by_label("API key").fill(served.keys["reviewer"])
            reviewer.get_by_role("button", name="Sign in").click()
            reviewer.get_by_role("button", name="Reviews").click()
            card = reviewer.locator("#review-list li[data-review]").first
            card.wait_for()
            assert "lay off" in card.inner_text()
            card.get_by_label("Decision note").fill("Planning question only; no decision is made.")
            reviewer.screenshot(path=str(SHOTS / "4-review-queue.png"), full_page=True)
            card.get_by_role("button", name="Approve").click()
            reviewer.get_by_role("status").wait_for(timeout=60_000)
            assert "Approved" in reviewer.get_by_role("status").inner_text()
            reviewer.get_by_role("button", name="Dashboard").click()
            reviewer.locator("#charts figure").first.wait_for()
            reviewer.screenshot(path=str(SHOTS / "5-dashboard.png"), full_page=True)

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(served.url)
            phone.get_by_label("API key").fill(served.keys["user"])
            phone.get_by_role("button", name="Sign in").click()
            phone.get_by_label("Your question").wait_for()
            phone.screenshot(path=str(SHOTS / "6-phone.png"), full_page=True)
        finally:
            browser.close()
    review = served.runtime.reviews.list("approved")
    assert len(review) == 1 and review[0].answer is not None


class Notify:
    """An irreversible tool for the approval test: counts what it sends."""

    name, description, side_effect = "notify", "sends a notice", "irreversible"
    arguments = {"to": "who"}

    def __init__(self) -> None:
        self.sent: list[str] = []

    def run(self, args, ctx):  # noqa: ANN001, ANN201
        self.sent.append(ctx.idempotency_key)
        return f"notice sent to {args.get('to')}"


@pytest.fixture
def served_agents(settings, tmp_path):  # noqa: ANN001, ANN201
    """The handbook server with a team whose agent sends a notice (needs approval)."""
    from tests.server.conftest import _start

    teams = tmp_path / "agents.yaml"
    teams.write_text(
        "agents:\n  notifier:\n    role: Notifier\n    tools: [notify]\n"
        "    model: notifier-model\n"
        "teams:\n  notice:\n    description: Sends a notice after approval.\n"
        "    members: [notifier]\n")
    yield from _start(settings.with_overrides(agents_file=str(teams)), scripted=False)


@pytest.mark.integration
def test_a_run_pauses_for_approval_a_reviewer_approves_it_in_the_ui_and_it_finishes(
        served_agents: Served) -> None:
    sync_playwright = _browser()
    SHOTS.mkdir(parents=True, exist_ok=True)
    from charter.agents import engine
    from charter.core.aliases import AliasConfig
    from charter.services import agents

    served = served_agents
    served.runtime.aliases.add(AliasConfig("notifier-model", "scripted", "", {
        "replies": ['CALL notify {"to": "the facilities team"}', "The notice is sent."]}))
    notify = Notify()
    agents.register_tools({"notify": notify})
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = signed_in(browser, served.url, served.keys["user"])
            page.get_by_role("button", name="Agents").click()
            page.get_by_label("Team").select_option("notice")
            page.get_by_label("Task").fill("Tell facilities the meeting room heater is broken.")
            page.get_by_role("button", name="Start run").click()
            page.locator("#run-status").get_by_text("awaiting_approval").wait_for(timeout=90_000)
            assert notify.sent == []
            page.screenshot(path=str(SHOTS / "8-run-awaiting-approval.png"), full_page=True)

            reviewer = signed_in(browser, served.url, served.keys["reviewer"])
            reviewer.get_by_role("button", name="Agents").click()
            card = reviewer.locator("#run-waiting li").first
            card.wait_for()
            assert "notify" in card.inner_text() and "facilities" in card.inner_text()
            reviewer.screenshot(path=str(SHOTS / "9-approve-tool-call.png"), full_page=True)
            card.get_by_role("button", name="Approve").click()
            reviewer.get_by_role("status").wait_for()

            page.locator("#run-status").get_by_text("completed").wait_for(timeout=90_000)
            assert "notice is sent" in page.locator("#run-answer").inner_text()
            page.screenshot(path=str(SHOTS / "10-run-finished.png"), full_page=True)
        finally:
            browser.close()
            engine.shutdown()
    assert len(notify.sent) == 1


@pytest.mark.integration
def test_start_a_team_run_and_watch_its_steps(served_handbook: Served) -> None:
    sync_playwright = _browser()
    SHOTS.mkdir(parents=True, exist_ok=True)
    served = served_handbook
    from charter.agents import engine

    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = signed_in(browser, served.url, served.keys["user"])
            page.get_by_role("button", name="Agents").click()
            page.get_by_label("Team").select_option("research")
            page.get_by_label("Task").fill("How many days of paid annual leave do employees get?")
            page.get_by_role("button", name="Start run").click()
            status = page.locator("#run-status")
            status.get_by_text("completed").wait_for(timeout=90_000)
            rows = page.locator("#steps-table tbody tr")
            assert rows.count() >= 2  # the researcher's and the writer's model steps
            assert "researcher" in rows.first.inner_text()
            assert "leave" in page.locator("#run-answer").inner_text().lower()
            page.screenshot(path=str(SHOTS / "7-agent-run.png"), full_page=True)
        finally:
            browser.close()
            engine.shutdown()


def test_an_admin_sees_rollouts_with_both_arms_on_the_dashboard(served: Served) -> None:
    from charter.core.principal import Principal
    from charter.policy.versions import default_charter_text
    from charter.services import policies
    from charter.services import rollouts as rollout_service

    rt = served.runtime
    draft = policies.propose(rt, Principal("author", frozenset({"admin"})),
                             default_charter_text().replace("name: Default charter",
                                                            "name: Renamed"), "renamed")
    started = rollout_service.start(rt, Principal("starter", frozenset({"admin"})), "charter",
                                    draft.number, share=0.3)
    sync_playwright = _browser()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            for role, visible in (("admin", True), ("reviewer", False)):
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(served.url)
                page.get_by_label("API key").fill(served.keys[role])
                page.get_by_role("button", name="Sign in").click()
                page.get_by_role("button", name="Dashboard").click()
                if not visible:
                    page.locator("#charts").wait_for(state="attached")
                    assert page.locator("#rollouts").is_hidden()
                    continue
                row = page.locator("#rollouts-table tbody tr").first
                row.wait_for(timeout=30_000)
                text = row.inner_text()
                assert started.id in text and "running" in text and "30.0%" in text
                assert f"charter v{draft.number} (champion v1)" in text
        finally:
            browser.close()
