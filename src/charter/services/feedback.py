"""Feedback on answers: votes, corrections and evaluations, linked to request ids."""

from __future__ import annotations

from charter.core.errors import ForbiddenError
from charter.core.principal import Principal, require
from charter.router.feedback import FeedbackItem
from charter.runtime import Runtime
from charter.services import events


def record(rt: Runtime, actor: Principal, request_id: str, kind: str, value: str,
           note: str = "") -> FeedbackItem:
    """Feedback on one of the caller's own answers (reviewers: on anyone's; evaluations
    are for reviewers only)."""
    if kind == "eval":
        require(actor, "reviewer")
    owner = rt.gateway.route_log.owner(request_id)
    if owner is not None and owner != actor.id and not actor.has_role("reviewer"):
        raise ForbiddenError("you can give feedback only on your own requests")
    item = rt.feedback.record(request_id, actor.id, kind, value, note)
    events.record(rt, actor, "feedback.recorded", request_id, {"kind": kind, "id": item.id})
    return item


def recent(rt: Runtime, actor: Principal, request_id: str | None = None,
           limit: int = 100) -> list[FeedbackItem]:
    require(actor, "reviewer")
    return rt.feedback.list(request_id, limit)
