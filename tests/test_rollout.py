"""Canary arms and verdicts (charter.rollout): sticky arms, rollback of a worse
challenger, promotion only when shown to hold, and rates under repeated looks."""

from __future__ import annotations

import numpy as np
import pytest

from charter.rollout import CHALLENGER, RATES, ArmCounts, Rule, arm_of, judge


def test_arms_are_sticky_per_user_and_near_the_share() -> None:
    users = [f"user-{i}" for i in range(20_000)]
    arms = [arm_of("ro_a", u, 0.2) for u in users]
    assert arms == [arm_of("ro_a", u, 0.2) for u in users]
    share = sum(a == CHALLENGER for a in arms) / len(users)
    assert 0.19 < share < 0.21
    other = [arm_of("ro_b", u, 0.2) for u in users]
    assert sum(a != b for a, b in zip(arms, other)) > 4000  # a new rollout draws afresh


def counts(n: float, users: int, **rates: float) -> ArmCounts:
    return ArmCounts(n, {k: v for k, v in rates.items()}, users)


def test_no_verdict_before_enough_requests_and_users() -> None:
    rule = Rule(min_requests=20, min_users=5)
    champion = counts(400, 80)
    assert judge(champion, counts(19, 10, refused=19), rule).action == "continue"
    few = judge(champion, counts(60, 4, refused=60), rule)
    assert few.action == "continue" and "4 users" in few.reason


def test_a_challenger_refusing_far_more_is_rolled_back_naming_the_rate() -> None:
    verdict = judge(counts(80, 40, refused=1), counts(20, 8, refused=20), Rule())
    assert verdict.action == "rollback"
    assert "refused rate 100.0%" in verdict.reason and "error" not in verdict.reason


def test_promotion_needs_the_count_and_every_rate_shown_within_the_margin() -> None:
    rule = Rule(promote_after=200)
    champion = counts(2000, 400, abstained=20)
    assert "promotion is considered after 200" in judge(
        champion, counts(199, 50, abstained=2), rule).reason
    # No errors, refusals or holds in 200 requests do not yet show them within 1 point
    # (upper bound at 90 %); in 400 they do.
    early = judge(champion, counts(200, 50, abstained=2), rule)
    assert early.action == "continue" and "not yet shown" in early.reason
    assert judge(champion, counts(400, 90, abstained=4), rule).action == "promote"
    # 2 points worse on abstention, within its 5-point margin: promoted on enough requests.
    assert judge(counts(4000, 800, abstained=1200), counts(1000, 200, abstained=320),
                 rule).action == "promote"
    # 2 points more refusals: past the 1-point margin, not significantly: neither.
    close = judge(counts(800, 200, refused=16), counts(200, 50, refused=8), rule)
    assert close.action == "continue" and "refused up to" in close.reason


def simulate(rng: np.random.Generator, champion_p: float, challenger_p: float,
             rule: Rule, challenger_requests: int = 300, share: float = 0.2) -> str:
    """A stream of requests, judged after every challenger request as the server does;
    each rate an independent coin with the arm's probability."""
    n = {"champion": 0, "challenger": 0}
    hits = {"champion": dict.fromkeys(RATES, 0), "challenger": dict.fromkeys(RATES, 0)}
    while n["challenger"] < challenger_requests:
        arm = "challenger" if rng.random() < share else "champion"
        n[arm] += 1
        p = challenger_p if arm == "challenger" else champion_p
        for name in RATES:
            hits[arm][name] += int(rng.random() < p)
        if arm == "challenger":
            v = judge(ArmCounts(n["champion"], hits["champion"], 100),
                      ArmCounts(n["challenger"], hits["challenger"], 100), rule)
            if v.action != "continue":
                return v.action
    return "continue"


@pytest.mark.parametrize("p", [0.02, 0.1, 0.3])
def test_an_equal_challenger_is_almost_never_rolled_back(p: float) -> None:
    rng = np.random.default_rng(7)
    rule = Rule(promote_after=10_000)  # judged 300 times, never promoted
    outcomes = [simulate(rng, p, p, rule) for _ in range(100)]
    assert outcomes.count("rollback") <= 5, outcomes.count("rollback")


def test_a_clearly_worse_challenger_is_rolled_back_and_never_promoted() -> None:
    rng = np.random.default_rng(11)
    rule = Rule(promote_after=200)
    outcomes = [simulate(rng, 0.02, 0.25, rule) for _ in range(100)]
    assert outcomes.count("rollback") >= 95 and outcomes.count("promote") == 0
    # Two points worse, under the strict margin of one: never promoted.
    slightly = [simulate(rng, 0.015, 0.035, rule, challenger_requests=600) for _ in range(50)]
    assert slightly.count("promote") == 0
