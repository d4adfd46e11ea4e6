"""Span-level PII detection quality on a labelled set (Presidio research format), before
(the pattern recognizers alone) and after (with the PII model), side by side.

Each detector is scored on the entity types it claims. A predicted span is a true
positive when a gold span of the same type overlaps at least half of the gold span; the
word-level F2 beside it labels each word with the entity of the span it starts in (as
presidio-research scores), so an address found as one span where the gold has four
parts counts every word found.
DOMAIN_NAME gold spans are compared with URL predictions, GPE with LOCATION.

On Presidio's synthetic set the rows scored are the PII model's test templates
(template id mod 5 = 1: no sentence of those templates was trained on or tuned with);
``every_row`` scores the whole file, and a file without template ids is scored whole.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from charter.judgement.tasks import pii as task
from charter.policy.pii import PATTERN_ENTITIES, PiiDetector
from charter.policy.pii_model import MODEL_ENTITIES, EntityTagger

# Presidio research labels -> Charter's entity names.
GOLD_TO_OURS = {"EMAIL_ADDRESS": "EMAIL_ADDRESS", "PHONE_NUMBER": "PHONE_NUMBER",
                "CREDIT_CARD": "CREDIT_CARD", "IBAN_CODE": "IBAN_CODE", "IP_ADDRESS": "IP_ADDRESS",
                "US_SSN": "US_SSN", "DOMAIN_NAME": "URL", **task.GOLD}
SCORED_PATTERNS = tuple(dict.fromkeys(v for k, v in GOLD_TO_OURS.items() if k not in task.GOLD))


def _measure(detector: PiiDetector, samples: list[task.Sample]) -> dict[str, Any]:
    claimed = [e for e in detector.claimed if e in set(GOLD_TO_OURS.values())]
    gold = [[(GOLD_TO_OURS[label], start, end) for label, start, end in s.spans
             if label in GOLD_TO_OURS] for s in samples]
    predicted, times = [], []
    for s in samples:
        started = time.perf_counter()
        spans = detector.find(s.text)
        times.append((time.perf_counter() - started) * 1000)
        predicted.append([(x.entity, x.start, x.end) for x in spans])
    out = task.score_spans(gold, predicted, claimed)
    words = task.score_words([s.text for s in samples], gold, predicted, claimed)
    for entity, f2 in words.items():
        if entity in out["entities"]:
            out["entities"][entity]["word_f2"] = f2
    out["word_f2"] = words["all"]
    out["p50_ms"] = round(statistics.median(times), 2) if times else 0.0
    return out


def run(path: Path, tagger: EntityTagger | None, every_row: bool = False) -> dict[str, Any]:
    samples = task.load(path)
    templated = all(s.masked and s.template >= 0 for s in samples)
    if templated and not every_row:
        samples = task.split(samples)[2]
        rows = "test templates (template id mod 5 = 1), kept out of the PII model's training"
    else:
        rows = "every row"
    before = PiiDetector([e for e in PATTERN_ENTITIES if e in SCORED_PATTERNS])
    result: dict[str, Any] = {"rows": len(samples), "scored": rows,
                              "before": _measure(before, samples)}
    if tagger is not None:
        after = PiiDetector([*before.entities, *MODEL_ENTITIES], tagger=tagger)
        result["after"] = _measure(after, samples)
        result["model"] = tagger.id
    return result
