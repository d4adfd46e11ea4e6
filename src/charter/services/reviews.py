"""The review queue: requests the charter held, and the decisions on them.

Holding happens in the spine (the gateway stores the request when the charter asks for
a review); deciding happens here. An approval serves the request as its asker and stores
the answer for them; a rejection ends it unanswered. Both are audited with the charter
version that held the request and the one in force when it was decided.
"""

from __future__ import annotations

from typing import Any

from charter.core.errors import ConflictError, NotFoundError
from charter.core.principal import Principal, require
from charter.policy.reviews import Review
from charter.runtime import Runtime
from charter.services import events
from charter.spine.request import decode


def public(review: Review) -> dict[str, Any]:
    """A review as callers see it: without the stored request it was held with."""
    return {k: v for k, v in review.__dict__.items() if k != "request"}


def list_reviews(rt: Runtime, actor: Principal, state: str | None = "pending") -> list[Review]:
    require(actor, "reviewer")
    return rt.reviews.list(state or None)


def mine(rt: Runtime, actor: Principal) -> list[Review]:
    """The caller's own held requests and, once approved, their answers."""
    return [r for r in rt.reviews.list(None) if r.principal_id == actor.id]


def get(rt: Runtime, actor: Principal, review_id: str) -> Review:
    review = rt.reviews.get(review_id)
    if review.principal_id != actor.id and not actor.has_role("reviewer"):
        # The same answer as for a review that does not exist.
        raise NotFoundError(f"no review {review_id!r}; see your own with /api/reviews/mine")
    return review


def decide(rt: Runtime, actor: Principal, review_id: str, *, approve: bool,
           note: str) -> Review:
    require(actor, "reviewer")
    review = rt.reviews.get(review_id)
    if review.state != "pending":
        raise ConflictError(f"review {review_id} was already {review.state}")
    current = rt.policies.active_number()
    served = None
    if approve:
        result = rt.gateway.ask(decode(review.request, approved_review=review_id))
        decided = rt.reviews.decide(review_id, approve=True, reviewer=actor.id, note=note,
                                    answer=result.answer, result=result.model_dump())
        served = result.request_id
    else:
        decided = rt.reviews.decide(review_id, approve=False, reviewer=actor.id, note=note)
    events.record(rt, actor, "review.approved" if approve else "review.rejected",
                  review.request_id,
                  {"review_id": review_id, "note": note,
                   "held_by_policy_version": review.policy_version,
                   "decided_under_policy_version": current, "category": review.category,
                   "tier": review.tier, "served_request_id": served})
    return decided
