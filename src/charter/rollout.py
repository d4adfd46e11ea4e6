"""Canary rollout: which arm a user is in, and whether the challenger holds.

A rollout serves a challenger version (a charter draft or a router version) to a share
of users, sticky per user: the arm is a hash of the rollout id and the user id, so a user
stays in one arm for the whole rollout and the next rollout draws afresh. Both arms'
requests are counted (``store.rollouts``); this module only decides.

The comparison is per rate: errors, refusals, holds, abstentions and negative feedback.
For each one the challenger is *worse* when its rate exceeds the champion's by more
than ``margin`` with one-sided confidence ``1 - alpha / 5`` (alpha split among the five
rates): a two-proportion z statistic
on Agresti–Caffo adjusted rates (one success and one failure added to each arm, which
keeps the test sensible at rates of 0 or 1 and small counts). The test is repeated after
every challenger request, so it is deliberately strict (alpha 0.01 and a margin to
exceed): a challenger that is only as good as the champion is almost never rolled back
(``tests/test_rollout.py`` measures the rate under the null), while one that refuses or
fails far more often is rolled back within tens of its requests.

No verdict is given before ``min_requests`` challenger requests from ``min_users``
users, and no user counts for more than ``per_user_cap`` requests in an arm: one account
(sending red-line requests, or voting its own answers down) cannot end a rollout alone.

Promotion needs more: at least ``promote_after`` challenger requests and, for every
rate, the upper confidence bound of (challenger - champion) at or below ``margin``
(non-inferiority shown, not merely no harm detected). Until then the rollout goes on.
"""

from __future__ import annotations

import hashlib
import math
from functools import cache
from dataclasses import dataclass, field
from typing import Final, Literal

from scipy.stats import norm

CHAMPION: Final = "champion"
CHALLENGER: Final = "challenger"
Arm = Literal["champion", "challenger"]

# The rates compared, in the order a verdict names them.
RATES: Final = ("error", "refused", "held", "abstained", "negative_feedback")
KINDS: Final = ("charter", "router")


def arm_of(rollout_id: str, principal_id: str, share: float) -> Arm:
    """The user's arm: the same for every request of one rollout."""
    digest = hashlib.sha256(f"{rollout_id}\x00{principal_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    return CHALLENGER if point < share else CHAMPION


@dataclass(frozen=True)
class ArmCounts:
    """One arm's requests and how many of them had each outcome."""

    requests: float = 0.0  # fractional when a user's requests are capped
    counts: dict[str, float] = field(default_factory=dict)  # rate name -> requests
    users: int = 0

    def rate(self, name: str) -> float:
        return self.counts.get(name, 0) / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Rule:
    """When a challenger is rolled back or promoted."""

    margin: float = 0.05
    alpha: float = 0.01
    min_requests: int = 20
    promote_after: int = 200
    min_users: int = 5  # challenger users before any verdict
    per_user_cap: int = 20  # requests one user counts for at most, in each arm


@dataclass(frozen=True)
class Comparison:
    name: str
    champion: float
    challenger: float
    z: float  # of (challenger - champion - margin); above the critical value: worse
    upper: float  # upper confidence bound of (challenger - champion)


@dataclass(frozen=True)
class Verdict:
    action: Literal["continue", "rollback", "promote"]
    reason: str
    comparisons: tuple[Comparison, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"action": self.action, "reason": self.reason,
                "rates": {c.name: {"champion": round(c.champion, 4),
                                   "challenger": round(c.challenger, 4),
                                   "z": round(c.z, 3), "upper": round(c.upper, 4)}
                          for c in self.comparisons}}


@cache
def critical(alpha: float) -> float:
    """The one-sided standard-normal critical value at ``alpha``."""
    return float(norm.ppf(1 - alpha))


def compare(name: str, champion: ArmCounts, challenger: ArmCounts, rule: Rule) -> Comparison:
    """One rate of both arms, with the adjusted two-proportion statistic."""
    x_h, n_h = champion.counts.get(name, 0) + 1, champion.requests + 2
    x_c, n_c = challenger.counts.get(name, 0) + 1, challenger.requests + 2
    p_h, p_c = x_h / n_h, x_c / n_c
    se = math.sqrt(p_h * (1 - p_h) / n_h + p_c * (1 - p_c) / n_c)
    z_crit = critical(rule.alpha / len(RATES))
    diff = p_c - p_h
    return Comparison(name, champion.rate(name), challenger.rate(name),
                      (diff - rule.margin) / se, diff + z_crit * se)


def judge(champion: ArmCounts, challenger: ArmCounts, rule: Rule) -> Verdict:
    """Roll back, promote, or go on collecting."""
    if challenger.requests < rule.min_requests or challenger.users < rule.min_users:
        return Verdict("continue", f"{challenger.requests:g} challenger requests from "
                                   f"{challenger.users} users; a comparison needs "
                                   f"{rule.min_requests} from {rule.min_users}")
    comparisons = tuple(compare(name, champion, challenger, rule) for name in RATES)
    z_crit = critical(rule.alpha / len(RATES))
    worse = [c for c in comparisons if c.z > z_crit]
    if worse:
        reason = "; ".join(
            f"{c.name} rate {c.challenger:.1%} against the champion's {c.champion:.1%} "
            f"(more than {rule.margin:.0%} worse, z {c.z:.1f} > {z_crit:.2f})" for c in worse)
        return Verdict("rollback", f"the challenger is worse: {reason}", comparisons)
    if challenger.requests < rule.promote_after:
        return Verdict("continue", f"holding after {challenger.requests:g} challenger requests; "
                                   f"promotion is considered after {rule.promote_after}",
                       comparisons)
    unproven = [c for c in comparisons if c.upper > rule.margin]
    if unproven:
        names = ", ".join(f"{c.name} (up to {c.upper:+.1%})" for c in unproven)
        return Verdict("continue", f"not yet shown within {rule.margin:.0%} of the champion: "
                                   f"{names}", comparisons)
    return Verdict("promote", f"within {rule.margin:.0%} of the champion on every rate over "
                              f"{challenger.requests:g} challenger requests", comparisons)
