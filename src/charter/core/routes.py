"""Route and tier names: the only place they are spelled out.

A route is how a request is answered and which alias serves it: the quick default
(``fast``), the deeper path (``thinking``), parallel drafts with a judge (``pro``) and the
small model that serves when a quota is spent (``mini``). ``auto`` asks Charter to choose;
``none`` is the route of a request no model answered (refused, held, safe text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

FAST: Final = "fast"
THINKING: Final = "thinking"
PRO: Final = "pro"
MINI: Final = "mini"
AUTO: Final = "auto"
NONE: Final = "none"

ROUTES: Final = (FAST, THINKING, PRO, MINI)
# Routes whose answers come quickly, and the ones that think longer; feedback on a quick
# answer says whether the deeper path was needed.
QUICK: Final = frozenset({FAST, MINI})
DEEP: Final = frozenset({THINKING, PRO})
# The route that judges pro drafts.
JUDGE: Final = THINKING

# Quota tiers shipped with Charter (administrators add their own).
TIER_FREE: Final = "free"
TIER_PLUS: Final = "plus"
TIER_PRO: Final = "pro"
TIER_TEAM: Final = "team"


@dataclass(frozen=True)
class RouteDecision:
    """Which route serves a request, and why (the reason is shown to the user)."""

    name: str
    reason: str
    score: float | None = None  # the learned router's score, when it decided
    router_version: int | None = None
    quota_exhausted: bool = False  # the wanted route was over quota, so mini serves
