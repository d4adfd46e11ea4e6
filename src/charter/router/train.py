"""Training and evaluating the learned router (``charter router train`` / ``eval``).

Outcome data gives one label per prompt: the deeper path was needed when the strong
model answered correctly and the weak one did not. This label, the standardisation of
every feature and the regularisation (C = 0.01) were chosen on a validation slice of the
MMLU training split (APGR 0.64, cost saving at 95% 0.57, against 0.57 / 0.45 for the
label "the weak model was wrong"); the test split was not used to choose.
Feedback recorded by Charter adds samples with labels from ``charter.router.feedback``.

The threshold is calibrated on a validation slice of the training data held out from
the fit: to a target share of deep-path calls, or to the smallest share that reaches a
quality target (a fraction of strong-only accuracy).
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from charter.backends.base import Embedder
from charter.core.errors import InvalidInputError
from charter.core.routes import AUTO, FAST
from charter.router import evaluate
from charter.router.data import Outcome, load_outcomes
from charter.router.learned import RouterModel, Sample, fit, threshold_for_share
from charter.router.rules import choose_route

VALIDATION_PERCENT = 20


def outcome_label(o: Outcome) -> bool:
    return o.strong_correct and not o.weak_correct


def _validation(prompt: str) -> bool:
    return int(hashlib.md5(prompt.encode()).hexdigest()[:6], 16) % 100 < VALIDATION_PERCENT


def embed_all(embedder: Embedder, texts: list[str], progress: Callable[[int, int], None] | None = None,
              batch: int = 256) -> np.ndarray:
    out: list[list[float]] = []
    for start in range(0, len(texts), batch):
        out.extend(embedder.embed_queries(texts[start:start + batch]))
        if progress:
            progress(min(start + batch, len(texts)), len(texts))
    return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


@dataclass(frozen=True)
class TrainReport:
    model: RouterModel
    samples: int
    feedback_samples: int
    validation: dict[str, Any]


def train(embedder: Embedder, *, data: Path | None = None, feedback: list[Sample] | None = None,
          deep_share: float | None = None, quality: float | None = None,
          regularisation: float = 0.01,
          progress: Callable[[int, int], None] | None = None) -> TrainReport:
    if deep_share is not None and quality is not None:
        raise InvalidInputError("give --deep-share or --quality, not both")
    if quality is not None and not 0.0 < quality <= 1.0:
        raise InvalidInputError(f"--quality is a fraction of strong-only accuracy in (0, 1], not {quality}")
    outcomes = load_outcomes(data, "train") if data is not None else []
    feedback = feedback or []
    if not outcomes and not feedback:
        raise InvalidInputError("nothing to train on: pass --data with outcome CSVs, or record "
                                "feedback first (`charter feedback ...`)")
    fit_outcomes = [o for o in outcomes if not _validation(o.prompt)]
    val_outcomes = [o for o in outcomes if _validation(o.prompt)]
    samples = [Sample(o.prompt, outcome_label(o)) for o in fit_outcomes] + feedback
    texts = [s.text for s in samples] + [o.prompt for o in val_outcomes]
    vectors = embed_all(embedder, texts, progress)
    model = fit(vectors[:len(samples)], samples, embedder=embedder.model_id,
                regularisation=regularisation)
    validation: dict[str, Any] = {"n": len(val_outcomes)}
    val_scores = model.scores(vectors[len(samples):], [o.prompt for o in val_outcomes]) \
        if val_outcomes else model.scores(vectors[:len(samples)], [s.text for s in samples])
    if quality is not None:
        if not val_outcomes:
            raise InvalidInputError("--quality needs outcome data (--data) to calibrate on")
        weak = np.array([o.weak_correct for o in val_outcomes])
        strong = np.array([o.strong_correct for o in val_outcomes])
        curve = evaluate.curve(val_scores, weak, strong)
        saving = curve.cost_saving_at(quality)
        share = 1.0 if saving is None else 1.0 - saving
        validation.update(curve.summary())
        rule = {"quality": quality, "deep_share": round(share, 4)}
    else:
        share = 0.3 if deep_share is None else deep_share
        rule = {"deep_share": share}
        if val_outcomes:
            validation.update(evaluate.curve(
                val_scores, np.array([o.weak_correct for o in val_outcomes]),
                np.array([o.strong_correct for o in val_outcomes])).summary())
    model.threshold = threshold_for_share(val_scores, share)
    model.meta.update({"data": str(data) if data else None, "label": "strong right, weak wrong",
                       "calibration": rule, "validation": validation})
    return TrainReport(model, len(samples), len(feedback), validation)


def evaluate_router(embedder: Embedder, model: RouterModel, version: int | None, data: Path,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The eval summary on the test split of ``data`` (a folder or one CSV)."""
    outcomes = load_outcomes(data, "test")
    texts = [o.prompt for o in outcomes]
    started = time.perf_counter()
    vectors = embed_all(embedder, texts, progress)
    embed_ms = (time.perf_counter() - started) * 1000 / max(len(texts), 1)
    weak = np.array([o.weak_correct for o in outcomes])
    strong = np.array([o.strong_correct for o in outcomes])
    scores = model.scores(vectors, texts)
    curve = evaluate.curve(scores, weak, strong)
    # Routing time per request as the gateway pays it: the embedding comes from input
    # screening, so this is feature extraction, scoring and the rules.
    timings = []
    for text_, vec in zip(texts, vectors, strict=True):
        t0 = time.perf_counter()
        choose_route(AUTO, text_, FAST, vector=vec, router=(version or 0, model))
        timings.append((time.perf_counter() - t0) * 1000)
    at_threshold = float(np.mean(scores >= model.threshold))
    acc_at_threshold = float(np.mean(np.where(scores >= model.threshold, strong, weak)))
    return {
        **curve.summary(),
        "route_p50_ms": round(statistics.median(timings), 3),
        "embedding_ms_per_prompt": round(embed_ms, 2),  # as screening embeds (MMLU prompts are long)
        "random": evaluate.random_curve(weak, strong).summary(),
        "oracle": evaluate.oracle_curve(weak, strong).summary(),
        "n": len(outcomes), "weak_accuracy": round(float(weak.mean()), 4),
        "strong_accuracy": round(float(strong.mean()), 4),
        "router_version": version,
        "at_threshold": {"threshold": round(model.threshold, 4),
                         "strong_share": round(at_threshold, 4),
                         "accuracy": round(acc_at_threshold, 4)},
        "sweep": [{"strong_share": round(float(sh), 2), "accuracy": round(float(a), 4),
                   "pgr": round(float(g), 4)}
                  for sh, a, g in zip(curve.shares[::10], curve.accuracy[::10], curve.pgr[::10],
                                      strict=True)],
    }
