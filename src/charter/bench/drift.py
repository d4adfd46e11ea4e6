"""`charter bench drift`: how soon a topic shift alerts, and how often an unchanged stream does.

Two pools of questions (by default MMLU's STEM subjects and its humanities and social
science subjects, the question stems of ``../shared/data/router/mmlu``, an equal number
from each subject) are put to a scratch Charter as one user's chat requests: screened,
routed and answered by the offline defaults, so that each is sampled exactly as
production samples it (``spine.drift``). The bench then reads the stored samples back and
replays seeded streams through the same windows and tests a server's checks use
(``services.drift.window``, ``charter.drift.check``):

* a reference window of ``reference`` requests at the first mix (70 % of pool A),
* a monitored stream of ``before`` requests at that mix, then ``after`` at the second
  mix (30 % of pool A), checked every ``every`` requests on the newest ``window``;
* the same stream without the shift.

Questions are drawn without replacement within a run, so no request appears in both
windows. The detection delay is the number of shifted requests served when the first
check fired (a check fires at most once per run; runs stop at their first alert); a false
alarm is a run of the unshifted stream in which any check fired, or a shifted run that
alerted before the shift.
"""

from __future__ import annotations

import csv
import random
import shutil
import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from charter import drift
from charter.core.chat import ChatMessage
from charter.core.config import Settings
from charter.core.errors import InvalidInputError
from charter.core.principal import local_admin
from charter.runtime import Runtime
from charter.services import drift as drift_service
from charter.spine.request import AskRequest
from charter.store.drift import DriftRepository, Sample

# MMLU's subject groups (Hendrycks et al. 2021): STEM against humanities and social
# sciences; its "other" subjects (medicine, business, miscellany) are left out.
STEM = ("abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry",
        "college_computer_science", "college_mathematics", "college_physics",
        "computer_security", "conceptual_physics", "electrical_engineering",
        "elementary_mathematics", "high_school_biology", "high_school_chemistry",
        "high_school_computer_science", "high_school_mathematics", "high_school_physics",
        "high_school_statistics", "machine_learning")
HUMANITIES = ("formal_logic", "high_school_european_history", "high_school_us_history",
              "high_school_world_history", "international_law", "jurisprudence",
              "logical_fallacies", "moral_disputes", "moral_scenarios", "philosophy",
              "prehistory", "professional_law", "world_religions", "econometrics",
              "high_school_geography", "high_school_government_and_politics",
              "high_school_macroeconomics", "high_school_microeconomics",
              "high_school_psychology", "human_sexuality", "professional_psychology",
              "public_relations", "security_studies", "sociology", "us_foreign_policy")
# The third group, "other": medicine, business and miscellany (``charter bench rollout``
# holds it out as a second pool).
OTHER = ("business_ethics", "clinical_knowledge", "college_medicine", "global_facts",
         "human_aging", "management", "marketing", "medical_genetics", "miscellaneous",
         "nutrition", "professional_accounting", "professional_medicine", "virology")
GROUPS = {"stem": STEM, "humanities": HUMANITIES, "other": OTHER}


def stem_of(prompt: str) -> str:
    """The question without its lettered choices and the trailing ``Answer:``."""
    return prompt.split("\nA.", 1)[0].strip()


def mmlu_pools(folder: Path, per_pool: int, seed: int = 0,
               groups: Sequence[str] = ("stem", "humanities")) -> dict[str, list[str]]:
    """``per_pool`` question stems from each subject group, spread evenly over subjects."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown or not groups:
        raise InvalidInputError(f"unknown MMLU subject groups {', '.join(unknown) or '(none)'};"
                                f" choose from {', '.join(GROUPS)}")
    if not folder.is_dir():
        raise InvalidInputError(f"{folder}: no such folder; give --data the MMLU folder "
                                "(../shared/data/router/mmlu)")
    rng = random.Random(seed)
    pools = {}
    for name, subjects in ((g, GROUPS[g]) for g in groups):
        by_subject = []
        for subject in subjects:
            path = folder / f"mmlu_{subject}.csv"
            if not path.exists():
                continue
            with path.open(newline="", encoding="utf-8") as f:
                stems = sorted({stem_of(r["prompt"]) for r in csv.DictReader(f)} - {""})
            rng.shuffle(stems)
            by_subject.append(stems)
        if not by_subject:
            raise InvalidInputError(f"{folder}: none of the MMLU subject files "
                                    f"(mmlu_<subject>.csv) of the {name} group")
        chosen: list[str] = []
        while len(chosen) < per_pool and any(by_subject):
            for stems in by_subject:  # round robin: every subject in equal measure
                if stems and len(chosen) < per_pool:
                    chosen.append(stems.pop())
        pools[name] = chosen
    return pools


def collect(settings: Settings, pools: dict[str, list[str]],
            log: Callable[[str], None] = lambda _: None) -> dict[str, list[Sample]]:
    """Each pool's questions put to a scratch Charter; their stored drift samples."""
    work = Path(tempfile.mkdtemp(prefix="charter-bench-drift-"))
    try:
        rt = Runtime.open(settings.with_overrides(data_dir=str(work / "data"),
                                                  database_url="", drift=True))
        try:
            repo = DriftRepository(rt.db)
            ids: dict[str, list[int]] = {}
            for name, questions in pools.items():
                before = repo.latest_id()
                for q in questions:
                    rt.gateway.ask(AskRequest([ChatMessage("user", q)],
                                              principal=local_admin()))
                ids[name] = [before + 1, repo.latest_id()]
                log(f"pool {name}: {len(questions)} requests served and sampled")
            return {name: repo.between(first, last) for name, (first, last) in ids.items()}
        finally:
            rt.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stream(rng: random.Random, pools: dict[str, list[Sample]], shares: Sequence[float],
            order: Sequence[str]) -> list[Sample]:
    """Requests drawn without replacement: pool ``order[0]`` with each share, else the
    other."""
    out = []
    for share in shares:
        name = order[0] if rng.random() < share else order[1]
        if not pools[name]:
            raise InvalidInputError(f"pool {name} ran out: give --pool more questions or "
                                    "shorter windows")
        out.append(pools[name].pop())
    return out


def simulate(samples: dict[str, list[Sample]], *, runs: int, reference: int, window: int,
             every: int, before: int, after: int, mix: tuple[float, float], alpha: float,
             min_auc: float, seed: int = 0) -> dict[str, Any]:
    """Seeded shifted and unshifted streams over the stored samples."""
    order = sorted(samples)
    if len(order) != 2:
        raise InvalidInputError("the drift bench compares exactly two pools")
    if before < window:
        raise InvalidInputError("--before must be at least --window: the first check "
                                "needs a full window of unshifted requests")
    delays: list[int] = []
    missed = early = unshifted_alarms = 0
    fired_tests: dict[str, int] = {}
    for run in range(runs):
        for shifted in (True, False):
            rng = random.Random(seed * 1_000_003 + run * 2 + shifted)
            pools = {name: rng.sample(s, len(s)) for name, s in samples.items()}
            ref_samples = _stream(rng, pools, [mix[0]] * reference, order)
            model = drift_service.model_of(ref_samples)
            ref = drift_service.window(ref_samples, model)
            shares = [mix[0]] * before + [mix[1] if shifted else mix[0]] * after
            stream = _stream(rng, pools, shares, order)
            alarm = None
            for end in range(window, len(stream) + 1, every):
                cur = drift_service.window(stream[end - window:end], model)
                report = drift.check(ref, cur, alpha=alpha, min_auc=min_auc,
                                     seed=run * 7919 + end, evidence=False)
                if report.fired:
                    alarm = end
                    for t in report.tests:
                        if t.fired:
                            fired_tests[t.name] = fired_tests.get(t.name, 0) + 1
                    break
            if not shifted:
                unshifted_alarms += alarm is not None
            elif alarm is None:
                missed += 1
            elif alarm <= before:
                early += 1
            else:
                delays.append(alarm - before)
    detected = sorted(delays)

    def pct(q: float) -> float | None:
        if not detected:
            return None
        return float(detected[min(len(detected) - 1, int(q * len(detected)))])

    return {
        "runs": runs, "reference": reference, "window": window, "every": every,
        "before": before, "after": after, "mix": list(mix), "alpha": alpha,
        "min_auc": min_auc,
        "detected": len(detected), "missed": missed, "alarm_before_shift": early,
        "delay_median": statistics.median(detected) if detected else None,
        "delay_p90": pct(0.9), "delay_max": detected[-1] if detected else None,
        "false_alarm_rate": unshifted_alarms / runs, "false_alarms": unshifted_alarms,
        "tests_that_fired": fired_tests,
    }


def run(settings: Settings, pools: dict[str, list[str]], *, runs: int = 100,
        reference: int | None = None, window: int | None = None, every: int | None = None,
        before: int = 100, after: int = 300, mix: tuple[float, float] = (0.7, 0.3),
        log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Collect the pools' samples through the gateway, then replay the streams. Window
    sizes, the check interval and alpha default to the drift settings."""
    if runs < 1:
        raise InvalidInputError("--runs must be at least 1")
    samples = collect(settings, pools, log)
    result = simulate(samples, runs=runs,
                      reference=reference or settings.drift_reference,
                      window=window or settings.drift_window,
                      every=every or settings.drift_check_every, before=before, after=after,
                      mix=mix, alpha=settings.drift_alpha, min_auc=settings.drift_min_auc)
    result["pools"] = {name: len(s) for name, s in samples.items()}
    result["decisions"] = {name: _shares([s.decision for s in v]) for name, v in samples.items()}
    result["routes"] = {name: _shares([s.route for s in v]) for name, v in samples.items()}
    return result


def _shares(values: list[str]) -> dict[str, float]:
    return {v: round(values.count(v) / len(values), 4) for v in sorted(set(values))}
