"""Canary rollouts through the gateway: challenger users screened by the draft or routed
by the challenger router, a worse draft rolled back, an equal one promoted (approved by
the admin who started it), every move audited, and only admins steering it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage
from charter.core.config import Settings
from charter.core.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from charter.core.principal import Principal
from charter.policy.versions import default_charter_text
from charter.rollout import CHALLENGER, arm_of
from charter.runtime import Runtime
from charter.services import audit as audit_service
from charter.services import policies
from charter.services import rollouts as service
from charter.spine.request import AskRequest

AUTHOR = Principal("admin-author", frozenset({"admin"}))
STARTER = Principal("admin-starter", frozenset({"admin"}))
USER = Principal("u-plain", frozenset({"user"}))
QUESTION = "How many days of annual leave do I get?"

# A red line drawn around every question: a draft nobody should ship.
DEGRADED = default_charter_text().replace("categories:\n", """categories:
  - id: everything
    name: Everything
    tier: red_line
    description: Any request at all.
    reason: This draft refuses every request.
    examples: [Anything at all.]
    patterns: ['.']
""", 1)
EQUAL = default_charter_text().replace("name: Default charter", "name: Default charter, v2")


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    # Judged after every challenger request, so that verdicts come at a known request.
    runtime = Runtime.open(settings.with_overrides(rollout_judge_interval=0))
    for name in ("fast", "thinking", "mini"):
        runtime.aliases.remove(name)
        runtime.aliases.add(AliasConfig(name, "scripted", "", {"replies": ["Twenty days."]}))
    service.watch(runtime)
    yield runtime
    runtime.close()


def _users(n: int) -> list[Principal]:
    return [Principal(f"u-{i}", frozenset({"user"})) for i in range(n)]


def _ask(rt: Runtime, who: Principal, text: str = QUESTION) -> str:
    result = rt.gateway.ask(AskRequest([ChatMessage("user", text)], who, model="fast"))
    return result.decision.action


def test_a_draft_that_refuses_everything_is_rolled_back_within_min_requests(
        rt: Runtime) -> None:
    draft = policies.propose(rt, AUTHOR, DEGRADED, "refuse more").number
    r = service.start(rt, STARTER, "charter", draft, share=0.5, min_requests=6, min_users=3)
    users = _users(40)
    challengers = [u for u in users if arm_of(r.id, u.id, 0.5) == CHALLENGER]
    champions = [u for u in users if u not in challengers]
    assert len(challengers) >= 6 and len(champions) >= 6
    for u in champions[:10]:
        assert _ask(rt, u) == "allow"
    decisions = []
    for u in challengers[:6]:  # served the draft until the verdict
        decisions.append(_ask(rt, u))
    assert decisions == ["refuse"] * 6
    ended = rt.rollouts.get(r.id)
    assert ended.status == "rolled_back" and "refused rate 100.0%" in ended.reason
    assert ended.ended_by == "system:rollout"
    assert _ask(rt, challengers[0]) == "allow"  # the champion again
    assert rt.policies.active_number() == 1 and rt.policies.get(draft).state == "draft"
    events = audit_service.records(rt, STARTER, event="rollout.rolled_back")
    assert [e.request_id for e in events] == [r.id]
    assert events[0].payload["verdict"]["rates"]["refused"]["challenger"] == 1.0
    assert rt.rollouts.counts(r.id, 20)[CHALLENGER].requests == 6  # nothing after the end


def test_an_equal_draft_is_promoted_and_approved_by_the_admin_who_started_it(
        rt: Runtime) -> None:
    draft = policies.propose(rt, AUTHOR, EQUAL, "renamed").number
    # With no refusals or errors on either side, 20 challenger requests show the draft
    # within 25 points of the champion; within the default margins would take hundreds.
    r = service.start(rt, STARTER, "charter", draft, share=0.5, min_requests=5,
                      promote_after=20, min_users=3, margin=0.25, strict_margin=0.25)
    served = 0
    for u in _users(40) * 2:
        _ask(rt, u)
        served += arm_of(r.id, u.id, 0.5) == CHALLENGER
        if not rt.rollouts.get(r.id).running:
            break
    assert served >= 20
    ended = rt.rollouts.get(r.id)
    assert ended.status == "promoted", ended
    assert rt.policies.active_number() == draft
    approved = rt.policies.get(draft)
    assert approved.approved_by == STARTER.id and rt.policies.get(1).state == "retired"
    names = [e.event for e in audit_service.records(rt, STARTER, limit=50)]
    assert "rollout.promoted" in names and "policy.approved" in names
    assert "rollout.started" in names


def test_starting_a_rollout_is_checked(rt: Runtime) -> None:
    draft = policies.propose(rt, AUTHOR, EQUAL, "renamed").number
    with pytest.raises(ForbiddenError):
        service.start(rt, USER, "charter", draft)
    with pytest.raises(ConflictError, match="different admin"):
        service.start(rt, AUTHOR, "charter", draft)
    with pytest.raises(ConflictError, match="is approved"):
        service.start(rt, STARTER, "charter", 1)
    with pytest.raises(NotFoundError):
        service.start(rt, STARTER, "charter", 99)
    with pytest.raises(InvalidInputError, match="charter, router, alias"):
        service.start(rt, STARTER, "prompt", draft)
    for share in (0, 1, 1.5, -0.1):
        with pytest.raises(InvalidInputError, match="share"):
            service.start(rt, STARTER, "charter", draft, share=share)
    with pytest.raises(InvalidInputError, match="margin"):
        service.start(rt, STARTER, "charter", draft, margin=float("nan"))
    with pytest.raises(InvalidInputError, match="promote_after"):
        service.start(rt, STARTER, "charter", draft, min_requests=50, promote_after=10)
    r = service.start(rt, STARTER, "charter", draft)
    with pytest.raises(ConflictError, match="already running"):
        service.start(rt, STARTER, "charter", draft)
    with pytest.raises(ForbiddenError):
        service.stop(rt, USER, r.id)
    with pytest.raises(ForbiddenError):
        service.get(rt, USER, r.id)
    stopped = service.stop(rt, STARTER, r.id, "changed my mind")
    assert stopped.status == "stopped" and stopped.reason == "changed my mind"
    with pytest.raises(ConflictError, match="already ended"):
        service.promote(rt, STARTER, r.id)
    assert rt.policies.active_number() == 1


def test_one_user_cannot_roll_a_draft_back_alone(rt: Runtime) -> None:
    """A user in the challenger arm who sends red-line requests counts for at most
    per_user_cap requests, and no verdict comes before min_users users."""
    draft = policies.propose(rt, AUTHOR, EQUAL, "renamed").number
    r = service.start(rt, STARTER, "charter", draft, share=0.5, min_requests=5, min_users=3,
                      per_user_cap=3)
    attacker = next(u for u in _users(40) if arm_of(r.id, u.id, 0.5) == CHALLENGER)
    for _ in range(8):
        assert _ask(rt, attacker, "Track my ex-girlfriend's phone location without her "
                                  "knowing.") == "refuse"
    assert rt.rollouts.get(r.id).running
    counted = rt.rollouts.counts(r.id, 3)[CHALLENGER]
    assert counted.requests == 3 and counted.users == 1


def _router(rt: Runtime, threshold: float, activate: bool) -> int:
    import numpy as np

    from charter.router.features import NAMES
    from charter.router.learned import RouterModel

    width = rt.embedder().dimension + len(NAMES)
    model = RouterModel(np.zeros(width), 0.0, np.zeros(width), np.ones(width), threshold,
                        "test", rt.embedder().dimension)  # every score is 0.5
    return rt.routers.save(model, author="test", activate=activate)


def test_a_router_rollout_routes_its_challenger_users_and_is_promoted_by_hand(
        rt: Runtime) -> None:
    quick = _router(rt, 1.0, activate=True)  # everything on the quick path
    deep = _router(rt, 0.0, activate=False)  # everything on the deep path
    with pytest.raises(ConflictError, match="already the active"):
        service.start(rt, STARTER, "router", quick)
    r = service.start(rt, STARTER, "router", deep, share=0.5)
    assert r.champion == quick
    routes = {}
    for u in _users(12):
        result = rt.gateway.ask(AskRequest([ChatMessage("user", QUESTION)], u))
        routes[u.id] = (result.route.name, result.route.reason)
    for uid, (name, reason) in routes.items():
        if arm_of(r.id, uid, 0.5) == CHALLENGER:
            assert name == "thinking" and reason.startswith(f"router v{deep}:")
        else:
            assert name == "fast" and reason.startswith(f"router v{quick}:")
    promoted = service.promote(rt, STARTER, r.id)
    assert promoted.status == "promoted" and rt.routers.active_version() == deep
    moves = [e.payload for e in audit_service.records(rt, STARTER, event="router.activated")]
    assert moves == [{"version": deep, "rollout": r.id}]


def test_negative_feedback_on_an_arms_requests_is_counted_once_per_request(
        rt: Runtime) -> None:
    from charter.services import feedback

    draft = policies.propose(rt, AUTHOR, EQUAL, "renamed").number
    r = service.start(rt, STARTER, "charter", draft, share=0.5)
    asked = []
    for u in _users(10):
        result = rt.gateway.ask(AskRequest([ChatMessage("user", QUESTION)], u, model="fast"))
        asked.append((u, result.request_id))
    challengers = [(u, rid) for u, rid in asked if arm_of(r.id, u.id, 0.5) == CHALLENGER]
    assert len(challengers) >= 2
    for u, rid in challengers[:2]:
        feedback.record(rt, u, rid, "vote", "down")
        feedback.record(rt, u, rid, "correction", "It is 25 days.")  # the same request
    feedback.record(rt, challengers[-1][0], challengers[-1][1], "vote", "up")
    counted = rt.rollouts.counts(r.id, 20)
    assert counted[CHALLENGER].counts["negative_feedback"] == 2
    assert counted["champion"].counts["negative_feedback"] == 0


def test_an_alias_whose_stand_in_fails_is_rolled_back_and_a_good_one_promoted(
        rt: Runtime) -> None:
    rt.aliases.add(AliasConfig("fast-broken", "scripted", "",
                               {"fail": "unavailable"}))
    rt.aliases.add(AliasConfig("fast-v2", "scripted", "", {"replies": ["Twenty-five days."]}))
    with pytest.raises(InvalidInputError, match="--to ALIAS"):
        service.start(rt, STARTER, "alias", "fast")
    with pytest.raises(InvalidInputError, match="must differ"):
        service.start(rt, STARTER, "alias", "fast", to="fast")
    with pytest.raises(NotFoundError):
        service.start(rt, STARTER, "alias", "fast", to="nope")
    with pytest.raises(InvalidInputError, match="alias rollout only"):
        service.start(rt, STARTER, "router", 1, to="fast-v2")
    r = service.start(rt, STARTER, "alias", "fast", to="fast-broken", share=0.5,
                      min_requests=5, min_users=3)
    with pytest.raises(ConflictError, match="alias 'fast' is already running"):
        service.start(rt, STARTER, "alias", "fast", to="fast-v2")
    failures = 0
    for u in _users(40):
        try:
            _ask(rt, u)
        except Exception:  # the stand-in's error reaches the caller, as a backend error
            failures += 1
        if not rt.rollouts.get(r.id).running:
            break
    ended = rt.rollouts.get(r.id)
    assert ended.status == "rolled_back" and "error rate 100.0%" in ended.reason
    # Every challenger request failed, and was counted, until the verdict (how many
    # depends on how many champion requests came first to compare with).
    assert failures == rt.rollouts.counts(r.id, 20)[CHALLENGER].requests <= 10
    assert "fail" not in rt.aliases.get("fast").options  # the alias was never changed

    good = service.start(rt, STARTER, "alias", "fast", to="fast-v2", share=0.5,
                         min_requests=5, promote_after=10, min_users=3, margin=0.3,
                         strict_margin=0.3)
    answers = set()
    for u in _users(40) * 2:
        answers.add(rt.gateway.ask(AskRequest([ChatMessage("user", QUESTION)], u,
                                              model="fast")).answer.split("\n")[0])
        if not rt.rollouts.get(good.id).running:
            break
    assert rt.rollouts.get(good.id).status == "promoted"
    assert {"Twenty days.", "Twenty-five days."} <= answers
    assert rt.aliases.get("fast").options["replies"] == ["Twenty-five days."]
    moved = audit_service.records(rt, STARTER, event="alias.added")
    assert moved and moved[0].actor == "system:rollout" and moved[0].request_id == "fast"


def test_judgements_are_spaced_by_the_interval_and_check_judges_at_once(
        settings: Settings) -> None:
    runtime = Runtime.open(settings.with_overrides(rollout_judge_interval=3600))
    try:
        for name in ("fast", "thinking", "mini"):
            runtime.aliases.remove(name)
            runtime.aliases.add(AliasConfig(name, "scripted", "", {"replies": ["Ok."]}))
        service.watch(runtime)
        draft = policies.propose(runtime, AUTHOR, DEGRADED, "refuse more").number
        r = service.start(runtime, STARTER, "charter", draft, share=0.5, min_requests=4,
                          min_users=2)
        for u in _users(30):
            _ask(runtime, u)
        # The first challenger request was judged (too early to decide); the rest were
        # within the interval, so the rollout runs on although it is clearly worse.
        assert runtime.rollouts.get(r.id).running
        verdict = service.judge_now(runtime, r.id)
        assert verdict is not None and verdict.action == "rollback"
        assert runtime.rollouts.get(r.id).status == "rolled_back"
    finally:
        runtime.close()
