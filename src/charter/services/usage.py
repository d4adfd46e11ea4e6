"""Quotas: tier limits, who is on which tier, and what each principal has used."""

from __future__ import annotations

from charter.core.principal import Principal, require
from charter.runtime import Runtime
from charter.services import events
from charter.usage import Limit, UsageRow


def limits(rt: Runtime, actor: Principal, tier: str | None = None) -> list[Limit]:
    return rt.quotas.limits(tier)


def set_limit(rt: Runtime, actor: Principal, tier: str, route: str, *, window_s: int,
              max_requests: int | None, max_tokens: int | None) -> Limit:
    require(actor, "admin")
    limit = rt.quotas.set_limit(tier, route, window_s=window_s, max_requests=max_requests,
                                max_tokens=max_tokens)
    events.record(rt, actor, "quota.limit_set", f"{tier}/{route}",
                  {"tier": tier, "route": route, "window_s": window_s,
                   "max_requests": max_requests, "max_tokens": max_tokens})
    return limit


def set_tier(rt: Runtime, actor: Principal, user: str, tier: str) -> None:
    require(actor, "admin")
    rt.quotas.set_tier(user, tier)
    events.record(rt, actor, "quota.tier_set", user, {"tier": tier})


def usage(rt: Runtime, actor: Principal, user: str | None = None) -> list[UsageRow]:
    """The caller's usage; an admin sees anyone's (everyone's when ``user`` is None)."""
    if user and user != actor.id:
        require(actor, "admin")
    who = user if user else (None if actor.has_role("admin") else actor.id)
    return rt.quotas.usage(who)


def reset(rt: Runtime, actor: Principal, user: str) -> int:
    require(actor, "admin")
    cleared = rt.quotas.reset(user)
    events.record(rt, actor, "quota.reset", user, {"counters": cleared})
    return cleared


def excluded_routes(rt: Runtime, actor: Principal) -> set[str]:
    """Routes the caller's tier does not include (a limit of 0 requests)."""
    tier = rt.quotas.tier_of(actor)
    return {lim.route for lim in rt.quotas.limits(tier) if lim.max_requests == 0}
