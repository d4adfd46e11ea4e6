"""Tiers and quotas: requests and tokens per principal, route and window.

A tier (free, plus, pro, team by default; editable with ``charter usage limit``) sets,
for each route, a window and the most requests and tokens allowed in it; no row for a
route means no limit, a limit of 0 requests means the route is not part of the tier.

Accounting is one atomic upsert per request on the counter row of (principal, route,
window): the increment happens only while the count is below the limit, so 50 parallel
requests against a limit of 10 serve exactly 10, on SQLite (write lock) and PostgreSQL
(row lock) alike. Tokens are added when the answer is done, so a request that starts
under the token limit is served in full.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, text

from charter.core.principal import Principal
from charter.core.routes import (FAST, MINI, PRO, THINKING, TIER_FREE, TIER_PLUS, TIER_PRO,
                                 TIER_TEAM, RouteDecision)
from charter.core.errors import InvalidInputError, NotFoundError, QuotaExceededError
from charter.profiles import ProfileRepository
from charter.store.db import Database

UNLIMITED = 2**62

# tier -> route -> (window seconds, max requests, max tokens); None = no limit.
DEFAULT_WINDOW_S = 3 * 3600
DEFAULT_TIERS: dict[str, dict[str, tuple[int, int | None, int | None]]] = {
    TIER_FREE: {FAST: (DEFAULT_WINDOW_S, 40, 40_000), THINKING: (DEFAULT_WINDOW_S, 10, 20_000),
                PRO: (DEFAULT_WINDOW_S, 0, 0)},
    TIER_PLUS: {FAST: (DEFAULT_WINDOW_S, 400, 400_000),
                THINKING: (DEFAULT_WINDOW_S, 100, 200_000), PRO: (DEFAULT_WINDOW_S, 0, 0)},
    TIER_PRO: {THINKING: (DEFAULT_WINDOW_S, 1000, 2_000_000),
               PRO: (DEFAULT_WINDOW_S, 50, 500_000)},
    TIER_TEAM: {THINKING: (DEFAULT_WINDOW_S, 2000, 4_000_000),
                PRO: (DEFAULT_WINDOW_S, 100, 1_000_000)},
}


_COUNT_WITH_TOKENS = text(
    "INSERT INTO usage_counters (principal_id, route, window_start, requests, tokens) VALUES "
    "(:p, :r, :w, 1, :n) ON CONFLICT (principal_id, route, window_start) DO UPDATE SET "
    "requests = usage_counters.requests + 1, tokens = usage_counters.tokens + :n")
_ADD_TOKENS = text("UPDATE usage_counters SET tokens = tokens + :n WHERE principal_id = :p "
                   "AND route = :r AND window_start = :w")


@dataclass(frozen=True)
class Limit:
    tier: str
    route: str
    window_s: int
    max_requests: int | None
    max_tokens: int | None


@dataclass(frozen=True)
class QuotaState:
    """The outcome of the quota stage for one request."""

    tier: str
    route: str = ""
    window_start: int = 0
    exhausted: bool = False  # the wanted route was over its limit, so mini serves
    reason: str | None = None
    counted: bool = False  # a counter row was incremented (tokens are added later)
    # No limit to enforce: the request is counted with its tokens when it finishes, in
    # the request's final transaction, instead of in a transaction of its own up front.
    deferred: bool = False


@dataclass(frozen=True)
class UsageRow:
    principal_id: str
    route: str
    window_start: int
    requests: int
    tokens: int
    max_requests: int | None
    max_tokens: int | None


def check_quota(principal: Principal) -> QuotaState:
    """The quota stage when no database is configured: no limits."""
    return QuotaState(tier=principal.tier)


def served_route(route: RouteDecision, quota: QuotaState) -> RouteDecision:
    """The route that serves after the quota stage: the chosen one, or mini when the
    chosen one is over its limit (the reason says so)."""
    if not quota.exhausted:
        return route
    return RouteDecision(MINI, f"{quota.reason}: served by {MINI} instead of {route.name}",
                         route.score, route.router_version, quota_exhausted=True)


class Quotas:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self.profiles = ProfileRepository(db)  # where an administrator's tier choice lives

    # -- tiers -------------------------------------------------------------------------

    def seed_defaults(self) -> None:
        self._seed_defaults()
        self.db.cache.invalidate("limits")

    def _seed_defaults(self) -> None:
        with self.db.transaction(exclusive=True) as conn:
            if conn.execute(text("SELECT count(*) FROM tier_limits")).scalar_one():
                return
            for tier, routes in DEFAULT_TIERS.items():
                for route, (window, req, tok) in routes.items():
                    conn.execute(text(
                        "INSERT INTO tier_limits (tier, route, window_s, max_requests, max_tokens) "
                        "VALUES (:t, :r, :w, :q, :k)"),
                        {"t": tier, "r": route, "w": window, "q": req, "k": tok})

    def tiers(self) -> list[str]:
        with self.db.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT DISTINCT tier FROM tier_limits ORDER BY tier"))]

    def limits(self, tier: str | None = None) -> list[Limit]:
        sql = "SELECT * FROM tier_limits"
        params = {}
        if tier:
            sql += " WHERE tier = :t"
            params["t"] = tier
        with self.db.connect() as conn:
            return [Limit(r.tier, r.route, r.window_s, r.max_requests, r.max_tokens)
                    for r in conn.execute(text(sql + " ORDER BY tier, route"), params)]

    def limit(self, tier: str, route: str) -> Limit | None:
        return self.db.cache.get(("limits", tier, route), lambda: self._limit(tier, route))

    def _limit(self, tier: str, route: str) -> Limit | None:
        with self.db.connect() as conn:
            r = conn.execute(text("SELECT * FROM tier_limits WHERE tier = :t AND route = :r"),
                             {"t": tier, "r": route}).first()
        return None if r is None else Limit(r.tier, r.route, r.window_s, r.max_requests, r.max_tokens)

    def set_limit(self, tier: str, route: str, *, window_s: int, max_requests: int | None,
                  max_tokens: int | None) -> Limit:
        for name, value in (("window", window_s), ("requests", max_requests), ("tokens", max_tokens)):
            if value is not None and value < (1 if name == "window" else 0):
                raise InvalidInputError(f"--{name} must be {'positive' if name == 'window' else 'zero or more'}, not {value}")
        if not tier.strip() or not route.strip():
            raise InvalidInputError("name a tier and a route, e.g. `charter usage limit plus thinking --requests 100`")
        with self.db.transaction(exclusive=True) as conn:
            conn.execute(text("DELETE FROM tier_limits WHERE tier = :t AND route = :r"),
                         {"t": tier, "r": route})
            conn.execute(text("INSERT INTO tier_limits (tier, route, window_s, max_requests, "
                              "max_tokens) VALUES (:t, :r, :w, :q, :k)"),
                         {"t": tier, "r": route, "w": window_s, "q": max_requests, "k": max_tokens})
        self.db.cache.invalidate("limits")
        return Limit(tier, route, window_s, max_requests, max_tokens)

    # -- principals ----------------------------------------------------------------------

    def tier_of(self, principal: Principal) -> str:
        """The tier an administrator set for this principal, else the principal's own."""
        return self.profiles.get(principal.id).tier or principal.tier

    def set_tier(self, principal_id: str, tier: str) -> None:
        if tier not in self.tiers():
            raise NotFoundError(f"no tier {tier!r}; tiers: {', '.join(self.tiers())} "
                                "(add one with `charter usage limit TIER ROUTE ...`)")
        self.profiles.set_tier(principal_id, tier)

    # -- accounting ----------------------------------------------------------------------

    def _window(self, window_s: int) -> int:
        now = int(self.clock())
        return now - now % window_s

    def try_reserve(self, principal_id: str, tier: str, route: str) -> QuotaState:
        """Count one request on the route if it is under its limits."""
        # A route without a limit is still counted, so usage shows every route.
        lim = self.limit(tier, route) or Limit(tier, route, DEFAULT_WINDOW_S, None, None)
        if lim.max_requests == 0:
            return QuotaState(tier=tier, route=route, exhausted=True,
                              reason=f"the {route} route is not part of the {tier} tier")
        window = self._window(lim.window_s)
        if lim.max_requests is None and lim.max_tokens is None:
            return QuotaState(tier=tier, route=route, window_start=window, deferred=True)
        with self.db.transaction(exclusive=True) as conn:
            row = conn.execute(text(
                "INSERT INTO usage_counters (principal_id, route, window_start, requests, tokens) "
                "VALUES (:p, :r, :w, 1, 0) ON CONFLICT (principal_id, route, window_start) "
                "DO UPDATE SET requests = usage_counters.requests + 1 "
                "WHERE usage_counters.requests < :maxr AND usage_counters.tokens < :maxt "
                "RETURNING requests"),
                {"p": principal_id, "r": route, "w": window,
                 "maxr": lim.max_requests if lim.max_requests is not None else UNLIMITED,
                 "maxt": lim.max_tokens if lim.max_tokens is not None else UNLIMITED}).first()
        if row is None:
            resets = window + lim.window_s - int(self.clock())
            return QuotaState(tier=tier, route=route, window_start=window, exhausted=True,
                              reason=f"the {tier} tier's {route} limit for this window is used "
                                     f"up (resets in {max(resets, 0) // 60} min)")
        return QuotaState(tier=tier, route=route, window_start=window, counted=True)

    def reserve(self, principal: Principal, route: str) -> QuotaState:
        """Count the request on ``route``, or on mini when that route is over its limit."""
        tier = self.tier_of(principal)
        state = self.try_reserve(principal.id, tier, route)
        if not state.exhausted or route == MINI:
            if state.exhausted:
                raise QuotaExceededError(f"{state.reason}; ask an administrator to raise the "
                                         f"limit (`charter usage limit {tier} {MINI} ...`)")
            return state
        fallback = self.try_reserve(principal.id, tier, MINI)
        if fallback.exhausted:
            raise QuotaExceededError(f"{state.reason}, and so is the {MINI} route's: wait for "
                                     "the window to reset or ask an administrator for a higher tier")
        return QuotaState(tier=tier, route=MINI, window_start=fallback.window_start,
                          exhausted=True, reason=state.reason, counted=fallback.counted,
                          deferred=fallback.deferred)

    def add_tokens(self, principal_id: str, state: QuotaState, tokens: int, *,
                   conn: Connection | None = None) -> None:
        if state.deferred:  # the request itself is counted now, with its tokens
            sql = _COUNT_WITH_TOKENS
        elif not state.counted or tokens <= 0:
            return
        else:
            sql = _ADD_TOKENS
        params = {"n": max(tokens, 0), "p": principal_id, "r": state.route,
                  "w": state.window_start}
        if conn is not None:
            conn.execute(sql, params)
            return
        with self.db.transaction(exclusive=True) as own:
            own.execute(sql, params)

    def usage(self, principal_id: str | None = None) -> list[UsageRow]:
        sql = ("SELECT u.principal_id, u.route, u.window_start, u.requests, u.tokens, "
               "l.max_requests, l.max_tokens FROM usage_counters u "
               "LEFT JOIN user_profiles p ON p.principal_id = u.principal_id "
               "LEFT JOIN tier_limits l ON l.route = u.route AND l.tier = p.tier")
        params = {}
        if principal_id:
            sql += " WHERE u.principal_id = :p"
            params["p"] = principal_id
        with self.db.connect() as conn:
            rows = conn.execute(text(sql + " ORDER BY u.window_start DESC, u.principal_id, u.route"),
                                params).all()
        return [UsageRow(*r) for r in rows]

    def reset(self, principal_id: str) -> int:
        with self.db.transaction(exclusive=True) as conn:
            return conn.execute(text("DELETE FROM usage_counters WHERE principal_id = :p"),
                                {"p": principal_id}).rowcount
