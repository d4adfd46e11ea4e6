"""Deciding held requests: an approval serves the request and stores the answer for the
asker; a rejection ends it unanswered. Both are audited with the charter versions."""

from __future__ import annotations

from charter.auth import Principal
from charter.errors import ConflictError, InvalidInputError
from charter.gateway import AskRequest
from charter.policy.reviews import Review
from charter.runtime import Runtime


def decide(rt: Runtime, review_id: str, reviewer: Principal, *, approve: bool,
           note: str) -> Review:
    if not reviewer.has_role("reviewer"):
        raise InvalidInputError(f"{reviewer.id} is not a reviewer; only reviewers and admins "
                                "decide on held requests")
    review = rt.reviews.get(review_id)
    if review.state != "pending":
        raise ConflictError(f"review {review_id} was already {review.state}")
    current = rt.policies.active_number()
    if approve:
        req = AskRequest.from_json(review.request, approved_review=review_id)
        result = rt.gateway.ask(req)
        decided = rt.reviews.decide(review_id, approve=True, reviewer=reviewer.id, note=note,
                                    answer=result.answer, result=result.model_dump())
        served = result.request_id
    else:
        decided = rt.reviews.decide(review_id, approve=False, reviewer=reviewer.id, note=note)
        served = None
    rt.audit.append(review.request_id, reviewer.id,
                    "review.approved" if approve else "review.rejected",
                    {"review_id": review_id, "note": note, "held_by_policy_version":
                     review.policy_version, "decided_under_policy_version": current,
                     "category": review.category, "tier": review.tier,
                     "served_request_id": served})
    return decided
