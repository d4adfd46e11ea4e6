"""Deciding held requests: served once, with the asker's current rights, and the answer
kept for the asker alone."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage
from charter.core.errors import ConflictError
from charter.runtime import Runtime
from charter.services import reviews
from charter.spine.request import AskRequest

HELD = "Decide which of these five employees should be laid off."


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    runtime.aliases.add(AliasConfig("echo", "scripted", "", {"echo": True}))
    runtime.accounts.add_user("asker@example.com", clearance="confidential", groups=["hr"])
    runtime.accounts.add_user("rita@example.com", roles=["user", "reviewer"],
                              clearance="internal")
    return runtime


def hold(rt: Runtime) -> str:
    asker = rt.accounts.get_user("asker@example.com").principal()
    result = rt.gateway.ask(AskRequest([ChatMessage("user", HELD)], asker, model="echo"))
    assert result.decision.action == "hold_for_review"
    return result.decision.review_id


def reviewer(rt: Runtime):  # noqa: ANN201
    return rt.accounts.get_user("rita@example.com").principal()


def test_reviewers_see_the_decision_and_the_asker_the_answer(rt: Runtime) -> None:
    review_id = hold(rt)
    decided = reviews.decide(rt, reviewer(rt), review_id, approve=True, note="signed off")
    as_reviewer = reviews.public(decided, reviewer(rt))
    assert as_reviewer["answer"] is None and as_reviewer["result"] is None
    assert as_reviewer["answered"] is True and as_reviewer["state"] == "approved"
    assert "request" not in as_reviewer
    asker = rt.accounts.get_user("asker@example.com").principal()
    (mine,) = reviews.mine(rt, asker)
    assert reviews.public(mine, asker)["answer"] == HELD


def test_approval_serves_the_asker_as_they_are_now(rt: Runtime, monkeypatch) -> None:  # noqa: ANN001
    review_id = hold(rt)
    asked_as = []
    real = rt.gateway.ask

    def spy(req):  # noqa: ANN001, ANN202
        asked_as.append(req.principal)
        return real(req)

    monkeypatch.setattr(rt.gateway, "ask", spy)
    with rt.db.transaction() as conn:  # an admin lowers the asker's clearance meanwhile
        conn.execute(text("UPDATE users SET clearance = 'public', groups = '' WHERE id = "
                          "'asker@example.com'"))
    reviews.decide(rt, reviewer(rt), review_id, approve=True, note="ok")
    assert [(p.clearance, p.groups) for p in asked_as] == [("public", frozenset())]

    second = hold(rt)
    rt.accounts.set_disabled("asker@example.com")
    with pytest.raises(ConflictError, match="disabled"):
        reviews.decide(rt, reviewer(rt), second, approve=True, note="ok")
    assert rt.reviews.get(second).state == "pending"  # still decidable: rejected, say
    assert reviews.decide(rt, reviewer(rt), second, approve=False, note="left").state == \
        "rejected"


def test_two_approvals_at_once_serve_the_request_once(rt: Runtime) -> None:
    review_id = hold(rt)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def approve() -> None:
        start.wait()
        try:
            reviews.decide(rt, reviewer(rt), review_id, approve=True, note="ok")
            outcomes.append("approved")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["approved", "conflict"]
    served = [r for r in rt.audit.records() if r.payload.get("approved_review") == review_id]
    assert len(served) == 1


def test_a_failed_approval_leaves_the_review_pending(rt: Runtime, monkeypatch) -> None:  # noqa: ANN001
    from charter.core.errors import BackendUnavailableError

    review_id = hold(rt)

    def down(req):  # noqa: ANN001, ANN202
        raise BackendUnavailableError("the model is down")

    monkeypatch.setattr(rt.gateway, "ask", down)
    with pytest.raises(BackendUnavailableError):
        reviews.decide(rt, reviewer(rt), review_id, approve=True, note="ok")
    assert rt.reviews.get(review_id).state == "pending"
