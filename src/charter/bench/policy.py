"""Charter classification on a labelled set: per-tier precision and recall, over-refusal
of benign prompts, and input-screening latency (no judge model)."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from charter.backends.base import Embedder
from charter.core.errors import InvalidInputError
from charter.policy.classify import PolicyClassifier
from charter.policy.schema import Charter

TIERS = ("red_line", "high_risk", "limited")


def load_set(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InvalidInputError(f"labelled set {path} not found")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(charter: Charter, embedder: Embedder, labelled: Path,
        classifier: PolicyClassifier | None = None) -> dict[str, Any]:
    """Times the whole input screening (PII, classification, injection), not just the
    classifier; with ``classifier`` given, only that classifier is evaluated."""
    from charter.policy.engine import Assessor

    rows = load_set(labelled)
    assessor = Assessor(charter, embedder)
    if classifier is not None:
        assessor.classifier = classifier
    assessor.assess("warm up the embedding layer")
    predictions = []
    latencies = []
    for row in rows:
        t0 = time.perf_counter()
        result = assessor.assess(row["text"]).classification
        latencies.append((time.perf_counter() - t0) * 1000)
        predictions.append(result)
    out: dict[str, Any] = {}
    for tier in TIERS:
        tp = sum(1 for r, p in zip(rows, predictions) if r["tier"] == tier and p.tier == tier)
        fp = sum(1 for r, p in zip(rows, predictions) if r["tier"] != tier and p.tier == tier)
        fn = sum(1 for r, p in zip(rows, predictions) if r["tier"] == tier and p.tier != tier)
        out[tier] = {"precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
                     "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
                     "n": sum(1 for r in rows if r["tier"] == tier)}
    benign = [(r, p) for r, p in zip(rows, predictions) if r["tier"] == "minimal"]
    out["over_refusal"] = round(sum(1 for _, p in benign if p.tier != "minimal") / len(benign), 4) \
        if benign else 0.0
    out["p50_ms"] = round(statistics.median(latencies), 2)
    out["misses"] = [
        {"text": r["text"], "expected": r["tier"], "got": p.tier, "category": p.category,
         "evidence": p.evidence}
        for r, p in zip(rows, predictions) if r["tier"] != p.tier
    ]
    return out


def run_enforced(rt: Any, labelled: Path) -> dict[str, Any]:
    """``run`` with the charter version the runtime enforces."""
    _, charter = rt.policies.active()
    return run(charter, rt.embedder(), labelled)
