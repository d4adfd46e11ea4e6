"""Rule-based routing: the user's pick, then quota, then the default route."""

from __future__ import annotations

from dataclasses import dataclass

from charter.usage import QuotaState

AUTO = "auto"


@dataclass(frozen=True)
class RouteDecision:
    name: str
    reason: str


def choose_route(requested: str | None, quota: QuotaState, default: str) -> RouteDecision:
    if requested and requested != AUTO:
        return RouteDecision(requested, "user's pick")
    if quota.exhausted:
        return RouteDecision("mini", quota.reason or "quota for this window is used up")
    return RouteDecision(default, "default route")
