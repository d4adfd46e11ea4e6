"""Choosing a route for one request.

Inputs, in order of precedence:

1. the user's explicit pick (the ``model`` field: an alias, or ``auto``);
2. explicit intent in the prompt ("think hard", "take your time", "step by step"), and a
   compound question (one that asks several things, split as the thinking route splits
   it: ``strategies.plan``), which one quick answer covers badly;
3. quota state (applied after this choice by ``charter.usage``: a route over its limit
   is served by ``mini``, and the reason says so);
4. the learned router's score against its calibrated threshold, when one is active;
5. conversation features (length, code, maths, constraints, turns) when no router is
   trained.

``auto`` chooses between the quick default route and ``thinking``; ``pro`` (parallel
drafts) is only ever the user's pick.
"""

from __future__ import annotations

from collections.abc import Sequence

from charter.core.routes import AUTO, THINKING, RouteDecision
from charter.router.features import explicit_intent, signals
from charter.router.learned import RouterModel
from charter.strategies.plan import plan

DEEP_ROUTE = THINKING


def _feature_reason(question: str, turns: int) -> str | None:
    s = signals(question, turns)
    why = []
    if s.code >= 2:
        why.append("code")
    if s.math >= 6:
        why.append("maths")
    if s.constraints >= 3:
        why.append(f"{s.constraints} constraints")
    if s.words >= 250:
        why.append(f"{s.words} words")
    if turns >= 8:
        why.append(f"{turns} turns")
    return ", ".join(why) or None


def choose_route(requested: str | None, question: str, default: str, *,
                 vector: Sequence[float] | None = None, turns: int = 1,
                 router: tuple[int, RouterModel] | None = None, split: bool = True
                 ) -> RouteDecision:
    """``split``: whether a compound question goes to the deep route (not for a step of
    an agent run, which its run already planned)."""
    if requested and requested != AUTO:
        return RouteDecision(requested, "user's pick")
    phrase = explicit_intent(question)
    if phrase:
        return RouteDecision(DEEP_ROUTE, f"asked for deeper thought ({phrase!r})")
    parts = len(plan(question)) if split else 1
    if parts > 1:
        return RouteDecision(DEEP_ROUTE, f"a compound question in {parts} parts")
    if router is not None and vector is not None:
        version, model = router
        score = model.score(vector, question, turns)
        if score >= model.threshold:
            return RouteDecision(DEEP_ROUTE, f"router v{version}: deeper path likely needed "
                                 f"(score {score:.2f} >= {model.threshold:.2f})", score, version)
        return RouteDecision(default, f"router v{version}: quick path should do "
                             f"(score {score:.2f} < {model.threshold:.2f})", score, version)
    why = _feature_reason(question, turns)
    if why:
        return RouteDecision(DEEP_ROUTE, f"conversation features: {why}")
    return RouteDecision(default, "default route")
