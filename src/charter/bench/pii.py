"""Span-level PII detection quality on a labelled set (Presidio research format).

Only the entity types Charter's offline recognizers claim are scored. A predicted span
is a true positive when a gold span of the same type overlaps at least half of the gold
span. DOMAIN_NAME gold spans are compared with URL predictions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from charter.core.errors import InvalidInputError
from charter.policy.pii import PiiDetector

# Presidio research labels -> Charter's entity names.
GOLD_TO_OURS = {"EMAIL_ADDRESS": "EMAIL_ADDRESS", "PHONE_NUMBER": "PHONE_NUMBER",
                "CREDIT_CARD": "CREDIT_CARD", "IBAN_CODE": "IBAN_CODE", "IP_ADDRESS": "IP_ADDRESS",
                "US_SSN": "US_SSN", "DOMAIN_NAME": "URL"}


def _f(beta: float, p: float, r: float) -> float:
    return (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0


def run(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InvalidInputError(f"{path} not found")
    rows = json.loads(path.read_text())
    detector = PiiDetector(list(dict.fromkeys(GOLD_TO_OURS.values())))
    per: dict[str, dict[str, int]] = {}
    for row in rows:
        text = row["full_text"]
        gold = [(GOLD_TO_OURS[s["entity_type"]], s["start_position"], s["end_position"])
                for s in row["spans"] if s["entity_type"] in GOLD_TO_OURS]
        pred = [(s.entity, s.start, s.end) for s in detector.find(text)]
        matched: set[int] = set()
        for entity, start, end in pred:
            stats = per.setdefault(entity, {"tp": 0, "fp": 0, "fn": 0})
            hit = next((i for i, (ge, gs, gend) in enumerate(gold) if i not in matched
                        and ge == entity and min(end, gend) - max(start, gs) >= (gend - gs) / 2), None)
            if hit is None:
                stats["fp"] += 1
            else:
                matched.add(hit)
                stats["tp"] += 1
        for i, (entity, _, _) in enumerate(gold):
            if i not in matched:
                per.setdefault(entity, {"tp": 0, "fp": 0, "fn": 0})["fn"] += 1
    out: dict[str, Any] = {"entities": {}}
    tp = fp = fn = 0
    for entity, s in sorted(per.items()):
        p = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else 0.0
        r = s["tp"] / (s["tp"] + s["fn"]) if s["tp"] + s["fn"] else 0.0
        out["entities"][entity] = {"precision": round(p, 4), "recall": round(r, 4),
                                   "f2": round(_f(2, p, r), 4), "gold": s["tp"] + s["fn"]}
        tp, fp, fn = tp + s["tp"], fp + s["fp"], fn + s["fn"]
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    out.update(precision=round(p, 4), recall=round(r, 4), f2=round(_f(2, p, r), 4))
    return out
