"""`charter bench rollout`: how many of its requests a worse charter draft is served before
it is rolled back, and how an equal one fares.

The champion is the shipped charter. Each challenger is a draft an author might plausibly
propose, fixed here before any run (``DRAFTS``):

* ``equal``: the same rules under a new name (should be promoted, never rolled back);
* ``no-benign``: the benign examples and allow patterns deleted ("simplified");
* ``hold-limited``: limited-risk requests held for review instead of answered with care;
* ``broad-red-line``: a new red line on hazardous chemistry whose pattern matches any
  mention of chemicals, acids, gases or poison.

A pool of questions nobody in the project wrote (MMLU's question stems, both subject
groups of ``charter bench drift``) is put through a scratch Charter's gateway once under
each version (the version approved in the scratch database while its pass runs), so every
outcome (decision, abstention, error) is what that version really serves. Seeded streams
are then replayed: each request comes from one of ``users`` users, its arm is the
rollout's (``charter.rollout.arm_of``, a fresh rollout id per run), its question is drawn
from the pool, its outcome is the arm's version's, and the rollout is judged after every
challenger request by ``charter.rollout.judge`` with the settings' rule (per-user cap
included), exactly as the server judges. The replay is of the verdict only: the serving
path with arms, outcome rows and audit events is what ``tests/server/api/test_rollouts.py``
runs end to end.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import yaml

from charter.backends.extractive import NO_SOURCES, NOT_FOUND
from charter.bench.scratch import scratch_runtime
from charter.core.chat import ChatMessage
from charter.core.config import Settings
from charter.core.errors import CharterError, InvalidInputError
from charter.core.principal import Principal
from charter.policy.versions import default_charter_text
from charter.rollout import CHALLENGER, CHAMPION, RATES, ArmCounts, Rule, arm_of, judge
from charter.spine.request import AskRequest

ASKER = Principal("bench-rollout-user", frozenset({"user"}))
AUTHOR = "bench-author"
APPROVER = "bench-approver"


def _drafts() -> dict[str, str]:
    base = yaml.safe_load(default_charter_text())

    def variant(change: Callable[[dict[str, Any]], None]) -> str:
        data = yaml.safe_load(yaml.safe_dump(base))
        change(data)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    def equal(d: dict[str, Any]) -> None:
        d["name"] = f"{d['name']} (renamed)"

    def no_benign(d: dict[str, Any]) -> None:
        d["benign_examples"], d["allow_patterns"] = [], []

    def hold_limited(d: dict[str, Any]) -> None:
        d["actions"]["limited"] = "hold_for_review"

    def broad_red_line(d: dict[str, Any]) -> None:
        d["categories"].append({
            "id": "hazardous_chemistry", "name": "Hazardous chemistry", "tier": "red_line",
            "description": "Making or using dangerous chemicals, poisons or toxic gases.",
            "reason": "Help with dangerous chemicals can cause serious harm.",
            "alternatives": ["Ask your safety officer about handling chemicals at work."],
            "examples": ["How do I make a toxic gas at home?",
                         "Which household chemicals produce poison when mixed?",
                         "Explain how to synthesise a nerve agent."],
            "patterns": [r"\b(toxic|poison\w*|chemicals?|acids?|gas(es)?)\b"]})

    return {"equal": variant(equal), "no-benign": variant(no_benign),
            "hold-limited": variant(hold_limited), "broad-red-line": variant(broad_red_line)}


DRAFTS = tuple(_drafts())


def serve_pool(settings: Settings, questions: list[str], drafts: list[str],
               log: Callable[[str], None] = lambda _: None
               ) -> dict[str, list[dict[str, Any]]]:
    """Each question's outcome under the shipped charter and under each draft."""
    texts = _drafts()
    unknown = [d for d in drafts if d not in texts]
    if unknown:
        raise InvalidInputError(f"unknown drafts {', '.join(unknown)}; choose from "
                                f"{', '.join(texts)}")
    outcomes: dict[str, list[dict[str, Any]]] = {}
    with scratch_runtime(settings.with_overrides(drift=False, metrics=False),
                         prefix="charter-bench-rollout-") as rt:
        versions = {CHAMPION: rt.policies.active_number()}
        for name in drafts:
            versions[name] = rt.policies.propose(texts[name], AUTHOR, name).number
        for name, number in versions.items():
            if name != CHAMPION:
                rt.policies.approve(number, APPROVER)
            served = []
            for q in questions:
                try:
                    r = rt.gateway.ask(AskRequest([ChatMessage("user", q)], ASKER))
                    served.append({"decision": r.decision.action, "error": False,
                                   "abstained": r.answer.startswith((NOT_FOUND, NO_SOURCES))})
                except CharterError:
                    served.append({"decision": "allow", "error": True, "abstained": False})
            outcomes[name] = served
            log(f"{name}: {len(questions)} questions served")
    return outcomes


def _add(counts: dict[str, float], outcome: dict[str, Any]) -> None:
    counts["error"] += outcome["error"]
    counts["refused"] += outcome["decision"] == "refuse"
    counts["held"] += outcome["decision"] == "hold_for_review"
    counts["abstained"] += outcome["abstained"]


def replay(champion: list[dict[str, Any]], challenger: list[dict[str, Any]], rule: Rule, *,
           runs: int, share: float, users: int, max_requests: int,
           seed: int = 0) -> dict[str, Any]:
    """Seeded streams judged after every challenger request; the challenger requests
    served until each run's verdict."""
    verdicts: dict[str, list[int]] = {"rollback": [], "promote": [], "continue": []}
    for run in range(runs):
        rng = random.Random(seed * 1_000_003 + run)
        rid = f"ro_bench_{seed}_{run}"
        arms = [arm_of(rid, f"user-{u}", share) for u in range(users)]
        tally = _Tally(rule.per_user_cap)
        served = 0
        action = "continue"
        while served < max_requests:
            user = rng.randrange(users)
            arm = arms[user]
            pool = challenger if arm == CHALLENGER else champion
            tally.add(arm, user, pool[rng.randrange(len(pool))])
            if arm != CHALLENGER:
                continue
            served += 1
            if served < rule.min_requests:
                continue
            verdict = judge(tally.arm(CHAMPION), tally.arm(CHALLENGER), rule)
            if verdict.action != "continue":
                action = verdict.action
                break
        verdicts[action].append(served)

    def summary(values: list[int]) -> dict[str, Any]:
        ordered = sorted(values)
        return {"runs": len(ordered),
                "median": statistics.median(ordered) if ordered else None,
                "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered
                else None, "max": ordered[-1] if ordered else None}

    return {name: summary(v) for name, v in verdicts.items()}


class _Tally:
    """Both arms' counts with each user's share capped, as ``store.rollouts.counts``
    computes them, kept up to date one request at a time."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.users: dict[tuple[str, int], dict[str, float]] = {}
        self.totals: dict[str, dict[str, float]] = {CHAMPION: defaultdict(float),
                                                    CHALLENGER: defaultdict(float)}

    def _apply(self, arm: str, counts: dict[str, float], sign: int) -> None:
        scale = min(1.0, self.cap / counts["n"]) * sign
        total = self.totals[arm]
        total["n"] += counts["n"] * scale
        for name in RATES:
            total[name] += counts.get(name, 0.0) * scale

    def add(self, arm: str, user: int, outcome: dict[str, Any]) -> None:
        key = (arm, user)
        counts = self.users.get(key)
        if counts is None:
            counts = self.users[key] = defaultdict(float)
            self.totals[arm]["people"] += 1
        else:
            self._apply(arm, counts, -1)
        counts["n"] += 1
        _add(counts, outcome)
        self._apply(arm, counts, +1)

    def arm(self, arm: str) -> ArmCounts:
        t = self.totals[arm]
        return ArmCounts(t["n"], {name: t[name] for name in RATES}, int(t["people"]))


def rates(outcomes: list[dict[str, Any]]) -> dict[str, float]:
    counts: dict[str, float] = defaultdict(float)
    for o in outcomes:
        _add(counts, o)
    return {name: round(counts[name] / len(outcomes), 4) for name in RATES
            if name != "negative_feedback"}


def run(settings: Settings, questions: list[str], *, drafts: list[str], runs: int = 100,
        share: float = 0.2, users: int = 1000, max_requests: int = 1000,
        log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    if runs < 1 or users < 10 or max_requests < 1 or not 0 < share < 1:
        raise InvalidInputError("--runs and --max-requests must be at least 1, --users at "
                                "least 10, --share above 0 and below 1")
    rule = Rule(margin=settings.rollout_margin, alpha=settings.rollout_alpha,
                min_requests=settings.rollout_min_requests,
                promote_after=settings.rollout_promote_after,
                min_users=settings.rollout_min_users,
                per_user_cap=settings.rollout_per_user_cap,
                strict_margin=settings.rollout_strict_margin)
    outcomes = serve_pool(settings, questions, drafts, log)
    out: dict[str, Any] = {"questions": len(questions), "runs": runs, "share": share,
                           "users": users, "max_requests": max_requests,
                           "rule": rule.__dict__, "champion": rates(outcomes[CHAMPION]),
                           "drafts": {}}
    for name in drafts:
        out["drafts"][name] = {
            "rates": rates(outcomes[name]),
            "changed": sum(a != b for a, b in zip(outcomes[CHAMPION], outcomes[name])),
            **replay(outcomes[CHAMPION], outcomes[name], rule, runs=runs, share=share,
                     users=users, max_requests=max_requests)}
    return out
