"""Canary rollout: which arm a user is in, and whether the challenger holds.

A rollout serves a challenger (a charter draft, a router version, or another model alias
in place of an alias) to a share of users, sticky per user: the arm is a hash of the rollout id and the user id, so a user
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

Margins differ by rate: ``strict_margin`` (1 point) for errors, refusals and holds,
requests the user was not served at all, which Charter's over-refusal budget (3 % of
safe requests in all) cannot absorb more of; ``margin`` (5 points) for abstentions and
negative feedback, which vary more with the questions asked.

Promotion needs at least ``promote_after`` challenger requests and, for every rate, the
upper bound of (challenger - champion) at one-sided confidence ``PROMOTE_CONFIDENCE``
(0.9) within its margin: non-inferiority shown at a modest confidence, because it is
checked again after every request (a bar of "observed difference within the margin"
promoted a draft with two points more refusals in half of the bench's runs). At a 1-point
margin and rates near 2 %, that takes a few hundred challenger requests for a challenger
as good as the champion. One worse than a margin but not yet significantly so stays
running, neither promoted nor rolled back, until an admin decides or the evidence does.
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
# Rates held to the strict margin: a request that fails, or is refused or held, is a
# request the user did not get served at all.
STRICT: Final = ("error", "refused", "held")
# Promotion: every rate's difference within its margin at this one-sided confidence.
PROMOTE_CONFIDENCE: Final = 0.9
KINDS: Final = ("charter", "router", "alias")


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

    margin: float = 0.05  # abstentions and negative feedback
    alpha: float = 0.01
    min_requests: int = 20
    promote_after: int = 200
    min_users: int = 5  # challenger users before any verdict
    per_user_cap: int = 20  # requests one user counts for at most, in each arm
    strict_margin: float = 0.01  # errors, refusals and holds

    def margin_for(self, name: str) -> float:
        return self.strict_margin if name in STRICT else self.margin


@dataclass(frozen=True)
class Comparison:
    name: str
    champion: float
    challenger: float
    margin: float
    z: float  # of (challenger - champion - margin); above the critical value: worse
    upper: float  # of (challenger - champion), one-sided at PROMOTE_CONFIDENCE

    @property
    def difference(self) -> float:
        return self.challenger - self.champion


@dataclass(frozen=True)
class Verdict:
    action: Literal["continue", "rollback", "promote"]
    reason: str
    comparisons: tuple[Comparison, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"action": self.action, "reason": self.reason,
                "rates": {c.name: {"champion": round(c.champion, 4),
                                   "challenger": round(c.challenger, 4),
                                   "margin": c.margin, "z": round(c.z, 3),
                                   "upper": round(c.upper, 4)}
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
    margin = rule.margin_for(name)
    return Comparison(name, champion.rate(name), challenger.rate(name), margin,
                      (p_c - p_h - margin) / se,
                      p_c - p_h + critical(1 - PROMOTE_CONFIDENCE) * se)


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
            f"(more than {c.margin:.0%} worse, z {c.z:.1f} > {z_crit:.2f})" for c in worse)
        return Verdict("rollback", f"the challenger is worse: {reason}", comparisons)
    if challenger.requests < rule.promote_after:
        return Verdict("continue", f"holding after {challenger.requests:g} challenger requests; "
                                   f"promotion is considered after {rule.promote_after}",
                       comparisons)
    unproven = [c for c in comparisons if c.upper > c.margin]
    if unproven:
        names = ", ".join(f"{c.name} up to {c.upper:+.1%} (margin {c.margin:.0%})"
                          for c in unproven)
        return Verdict("continue", f"not yet shown within the margins: {names}", comparisons)
    return Verdict("promote", f"within the margins of the champion on every rate over "
                              f"{challenger.requests:g} challenger requests", comparisons)
