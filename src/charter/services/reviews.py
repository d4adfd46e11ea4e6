"""The review queue: requests the charter held, and the decisions on them.

Holding happens in the spine (the gateway stores the request when the charter asks for
a review); deciding happens here. An approval serves the request as its asker, with the
asker's rights as they are now (a user disabled since is not served, one whose clearance
was lowered gets the lower one), and stores the answer for them; a rejection ends it
unanswered. One reviewer claims a review before it is served, so two approvals at once
run the model once. The answer belongs to the asker: reviewers see the question and the
decision, not the answer and its quoted sources (which may be above their clearance).
Both decisions are audited with the charter version that held the request and the one in
force when it was decided.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from charter.core.errors import ConflictError, NotFoundError
from charter.core.principal import Principal, local_admin, require
from charter.policy.reviews import Review
from charter.runtime import Runtime
from charter.services import events
from charter.spine.request import decode


def public(review: Review, viewer: Principal) -> dict[str, Any]:
    """A review as ``viewer`` sees it: never the stored request it was held with, and the
    answer and its sources only when the viewer asked the question."""
    out = {k: v for k, v in review.__dict__.items() if k != "request"}
    if viewer.id != review.principal_id:
        out["answer"] = out["result"] = None
        out["answered"] = review.answer is not None
    return out


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


def asker_now(rt: Runtime, stored: Principal) -> Principal:
    """The asker with the rights they hold now; a disabled or removed user is not
    served. A principal that is no user (the local operator of the CLI) stays as stored."""
    try:
        user = rt.accounts.get_user(stored.id)
    except NotFoundError:
        if stored.id == local_admin().id:
            return stored
        raise ConflictError(f"the asker {stored.id!r} no longer exists; reject the review")
    if user.disabled:
        raise ConflictError(f"the asker {stored.id!r} is disabled; reject the review or "
                            "enable the user first")
    return user.principal()


def decide(rt: Runtime, actor: Principal, review_id: str, *, approve: bool,
           note: str) -> Review:
    require(actor, "reviewer")
    review = rt.reviews.get(review_id)
    if review.state != "pending":
        raise ConflictError(f"review {review_id} was already {review.state}")
    current = rt.policies.active_number()
    served = None
    if approve:
        held = decode(review.request, approved_review=review_id)
        asker = asker_now(rt, held.principal)
        rt.reviews.claim(review_id, actor.id)  # a second approval now gets a conflict
        try:
            result = rt.gateway.ask(replace(held, principal=asker))
        except BaseException:
            rt.reviews.release(review_id, actor.id)
            raise
        decided = rt.reviews.decide(review_id, approve=True, reviewer=actor.id, note=note,
                                    answer=result.answer, result=result.model_dump())
        served = result.request_id
    else:
        decided = rt.reviews.decide(review_id, approve=False, reviewer=actor.id, note=note)
    from charter.services import agents  # runs parked on this review go on

    agents.review_decided(rt, review_id)
    events.record(rt, actor, "review.approved" if approve else "review.rejected",
                  review.request_id,
                  {"review_id": review_id, "note": note,
                   "held_by_policy_version": review.policy_version,
                   "decided_under_policy_version": current, "category": review.category,
                   "tier": review.tier, "served_request_id": served})
    return decided
