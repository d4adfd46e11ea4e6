"""What the charter's decision means for the rest of a request, and what the user is told.

The spine asks ``stop_for`` whether a request ends before any model is called (refused,
held for review, or answered with the charter's own safe text) and ``use_case_gate``
whether a request tagged with a use case may be served at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol

from charter.core.errors import ConflictError
from charter.core.result import Decision
from charter.policy.schema import Charter


class UseCases(Protocol):
    def check_servable(self, key: str) -> object: ...


def refusal_text(decision: Decision) -> str:
    return f"I can't help with this request. {decision.reason or ''}".strip()


def held_text(review_id: str) -> str:
    return (f"This request needs a human review before it can be answered (review "
            f"{review_id}). You will get the answer once a reviewer approves it.")


_HELD = re.compile(re.escape(held_text("REVIEW")).replace("REVIEW", r"rev_[0-9a-f]{1,40}"))


def own_replies(charter: Charter) -> frozenset[str]:
    """Every reply the charter itself gives without a model (refusals, safe texts): a
    client that sends the history back sends these, and they are no request."""
    texts = {refusal_text(Decision(reason=c.reason or c.description)) for c in charter.categories}
    texts |= {c.safe_completion for c in charter.categories
              if not c.answer_with_model and c.safe_completion}
    return frozenset(texts)


def is_own_reply(text: str, replies: frozenset[str]) -> bool:
    """Exactly one of the charter's replies or a hold notice; anything added to one (an
    instruction after a refusal's words) makes it a text like any other."""
    text = text.strip()
    return text in replies or _HELD.fullmatch(text) is not None


def safe_completion_instruction(decision: Decision) -> str | None:
    """The charter layer's extra instruction when the model answers at a safe level."""
    if decision.action == "safe_complete" and decision.safe_completion:
        return "Answer at a safe level only. " + decision.safe_completion
    return None


def use_case_gate(decision: Decision, use_case: str | None, register: UseCases | None) -> Decision:
    """Refuse a request whose use case is not approved (or is past its re-review date)."""
    if not use_case or register is None or decision.action == "refuse":
        return decision
    try:
        register.check_servable(use_case)
    except ConflictError as exc:
        return Decision(action="refuse", tier=decision.tier, category="use_case_not_approved",
                        reason=exc.message, evidence=f"use case {use_case}",
                        policy_version=decision.policy_version)
    return decision


@dataclass(frozen=True)
class Stop:
    """A request that ends before any model is called."""

    kind: Literal["refuse", "hold", "safe_text"]
    route_reason: str
    text: str = ""  # the answer; for a hold it is written once the review exists


def stop_for(decision: Decision, *, approved_review: str | None) -> Stop | None:
    """Whether the decision ends the request here; None when a model answers."""
    if decision.action == "refuse":
        return Stop("refuse", "refused by the charter: no model was called",
                    refusal_text(decision))
    if decision.action == "hold_for_review" and not approved_review:
        return Stop("hold", "held for human review: no model was called")
    if decision.action == "safe_complete" and not decision.answer_with_model:
        return Stop("safe_text", "safe completion from the charter: no model was called",
                    decision.safe_completion or refusal_text(decision))
    return None
