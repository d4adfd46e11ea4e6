"""Injection detection on the held-out split, plus attacks hidden in ordinary documents.

Clean passages (the demo handbook and the seed corpus, chunked) measure false positives
on the kind of text retrieval actually returns.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from charter.backends.base import Embedder
from charter.knowledge.chunking import chunk_document
from charter.knowledge.loaders import load
from charter.policy.injection import InjectionDetector, rule_hits
from charter.policy.injection_train import SEED, load_labelled, split

# Attacks hidden in ordinary passages are drawn from the held-out split's injections
# (public data neither the rules nor the model were made from), each planted in the
# middle of a clean passage; how many of them the hand-written rules alone match is
# reported beside the detector's recall, so the figure cannot be the rules testing
# themselves.
HIDDEN_PER_RUN = 60


def _metrics(labels: list[int], flags: list[bool]) -> dict[str, float]:
    tp = sum(1 for y, f in zip(labels, flags) if y and f)
    tn = sum(1 for y, f in zip(labels, flags) if not y and not f)
    fp = sum(1 for y, f in zip(labels, flags) if not y and f)
    fn = sum(1 for y, f in zip(labels, flags) if y and not f)
    return {
        "accuracy": round((tp + tn) / len(labels), 4) if labels else 0.0,
        "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
        "false_positive_rate": round(fp / (fp + tn), 4) if fp + tn else 0.0,
    }


def clean_passages(folders: list[Path]) -> list[str]:
    out: list[str] = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".md", ".txt"):
                for doc in load(path):
                    out.extend(c.text for c in chunk_document(doc))
    return out


def run(embedder: Embedder, data: Path, folders: list[Path]) -> dict[str, Any]:
    detector = InjectionDetector(embedder)
    held_out = split(load_labelled(data)).test
    verdicts = detector.check_many([t for t, _ in held_out])
    result: dict[str, Any] = {"held_out": _metrics([y for _, y in held_out],
                                                   [v.flagged for v in verdicts])}
    result["held_out"]["n"] = len(held_out)
    clean = clean_passages(folders)
    rng = random.Random(SEED)
    injections = [t for t, y in held_out if y]
    attacks = rng.sample(injections, min(HIDDEN_PER_RUN, len(injections)))
    attacked = []
    for attack in attacks:
        host = rng.choice(clean)
        cut = host.find(". ", len(host) // 2)
        cut = cut + 2 if cut > 0 else len(host)
        attacked.append(host[:cut] + attack + " " + host[cut:])
    passage = detector.PASSAGE_THRESHOLD
    clean_flags = [v.flagged for v in detector.check_many(clean, passage)]
    attack_flags = [v.flagged for v in detector.check_many(attacked, passage)]
    result["clean_passages"] = {"n": len(clean),
                                "false_positive_rate": round(sum(clean_flags) / len(clean), 4)}
    by_rules = sum(1 for a in attacks if rule_hits(a))
    result["hidden_attacks"] = {
        "n": len(attacked), "source": "held-out split injections planted in clean passages",
        "recall": round(sum(attack_flags) / len(attacked), 4) if attacked else 0.0,
        "matched_by_rules_alone": round(by_rules / len(attacks), 4) if attacks else 0.0}
    result["model_loaded"] = detector.has_model
    return result
