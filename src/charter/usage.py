"""Quota: usage in the current window for the principal's tier.

First form: every tier is unlimited, so the stage reports headroom and never reroutes.
The routing issue adds windows, limits and the switch to ``mini``.
"""

from __future__ import annotations

from dataclasses import dataclass

from charter.auth import Principal


@dataclass(frozen=True)
class QuotaState:
    tier: str
    exhausted: bool = False
    reason: str | None = None


def check_quota(principal: Principal) -> QuotaState:
    return QuotaState(tier=principal.tier)
