"""The PII model: person names, street addresses, places, organisations and dates, as BIO
tags per token, for the detector beside Presidio's pattern recognizers.

Data: Presidio's synthetic sentences (``../shared/data/pii/presidio_synth_dev.json``,
1,000 sentences from 204 templates, each with its masked template and gold spans).
Presidio's labels map onto Charter's: PERSON, STREET_ADDRESS, GPE (as LOCATION),
ORGANIZATION and DATE_TIME; the other labels (card numbers, titles, ages and so on) are
``O`` here, since the pattern recognizers or nobody claim them.

Also ``examples/pii-templates.jsonl``: templates written for Charter (requests, e-mails,
signatures, forms, tickets, chat turns, and requests with no personal details at all),
filled with values from Faker's locales; they only train.

Split: by template, never by sentence (sentences of one template share their wording):
Presidio template id mod 5 = 0 is validation (it picks the epoch and each entity's
threshold), 1 is the test, the rest train. Training sentences are also filled again from
their own templates (``VARIANTS`` per sentence), each value drawn from other training
sentences or from Faker, so the model learns the wording around a value rather than the
values it saw; validation and test sentences are used as they are.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from charter.core.errors import InvalidInputError
from charter.judgement.encoder import Tokenizer
from charter.policy.pii_model import MODEL_ENTITIES, TAGS, EntityTagger

TASK = "pii"
MAX_LENGTH = 128
VARIANTS = 4
OWN_VARIANTS = 8
FAKER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL",
                 "pt_BR", "sv_SE", "da_DK", "fi_FI", "cs_CZ", "tr_TR")
DATE_PATTERNS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%B %d, %Y", "%d %B %Y", "%d.%m.%Y",
                 "%Y", "%B %Y", "%A", "%Y-%m-%d %H:%M:%S", "%d %b %Y")
DEFAULT_DATA = Path("../shared/data/pii/presidio_synth_dev.json")
GOLD = {"PERSON": "PERSON", "STREET_ADDRESS": "STREET_ADDRESS", "GPE": "LOCATION",
        "ORGANIZATION": "ORGANIZATION", "DATE_TIME": "DATE_TIME"}
_SLOT = re.compile(r"\{\{(\w+)\}\}")
THRESHOLD_GRID = tuple(round(0.2 + 0.05 * k, 2) for k in range(13))  # 0.20 .. 0.80


@dataclass(frozen=True)
class Sample:
    text: str
    spans: tuple[tuple[str, int, int], ...]  # (Presidio label, start, end)
    template: int
    masked: str = ""
    # An ordinary request nobody labelled: its lower-case words are O, and its words with
    # a capital or a digit (a place, a product, a sentence's first word) teach nothing.
    unlabelled_names: bool = False


def load(path: Path) -> list[Sample]:
    path = path / "presidio_synth_dev.json" if path.is_dir() else path
    if not path.is_file():
        raise InvalidInputError(f"{path} is missing; give --data Presidio's synthetic PII "
                                "sentences (../shared/data/pii/presidio_synth_dev.json)")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [Sample(r["full_text"],
                       tuple(sorted((s["entity_type"], s["start_position"], s["end_position"])
                                    for s in r["spans"])),
                       int(r["template_id"]) if r.get("template_id") is not None else -1,
                       r.get("masked") or "")
                for r in rows]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"{path} is not Presidio's research format (a JSON list of "
                                f"rows with full_text and spans): {exc}") from exc


def part_of(sample: Sample) -> str:
    return {0: "validation", 1: "test"}.get(sample.template % 5, "train")


def split(samples: Sequence[Sample]) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """By template; templates with the same wording (Presidio has a few under two ids)
    play the part of the lowest of their ids."""
    lowest: dict[str, int] = {}
    for s in samples:
        if s.masked:
            lowest[s.masked] = min(lowest.get(s.masked, s.template), s.template)
    parts: dict[str, list[Sample]] = {"train": [], "validation": [], "test": []}
    for s in samples:
        template = lowest.get(s.masked, s.template) if s.masked else s.template
        parts[part_of(replace(s, template=template))].append(s)
    return parts["train"], parts["validation"], parts["test"]


def _faker(seed: int) -> Any:
    try:
        from faker import Faker
    except ImportError as exc:
        raise InvalidInputError("`charter finetune pii` fills its templates with Faker: "
                                "pip install faker (it comes with the test extra)") from exc
    fake = Faker(list(FAKER_LOCALES))
    fake.seed_instance(seed)
    return fake


def fake_value(label: str, fake: Any, rng: random.Random) -> str | None:
    """A value of one of the model's labels from Faker (None for other labels)."""
    if label == "PERSON":
        kind = rng.random()
        if kind < 0.4:
            return str(fake.name())
        if kind < 0.8:
            return f"{fake.first_name()} {fake.last_name()}"
        return str(fake.first_name() if kind < 0.9 else fake.last_name())
    if label == "STREET_ADDRESS":
        if rng.random() < 0.6:
            return str(fake.street_address())
        lines = str(fake.address()).split("\n")
        return ", ".join(lines) if rng.random() < 0.5 else "\n".join(lines)
    if label == "GPE":
        return str(fake.city() if rng.random() < 0.6 else fake.country())
    if label == "ORGANIZATION":
        return str(fake.company())
    if label == "DATE_TIME":
        return str(fake.date_time().strftime(rng.choice(DATE_PATTERNS)))
    return None


def _fill(masked: str, value: Callable[[str], str], template: int) -> Sample:
    text, spans, at = "", [], 0
    for m in _SLOT.finditer(masked):
        text += masked[at:m.start()]
        v = value(m.group(1))
        spans.append((m.group(1), len(text), len(text) + len(v)))
        text += v
        at = m.end()
    return Sample(text + masked[at:], tuple(spans), template, masked)


def refill(samples: Sequence[Sample], variants: int = VARIANTS, seed: int = 13,
           fake: Any = None) -> list[Sample]:
    """Each sample's template filled again ``variants`` times with values of the same
    labels taken from other samples (of ``samples`` only) or, with ``fake``, half of them
    from Faker; the originals are kept."""
    rng = random.Random(seed)
    pool: dict[str, list[str]] = {}
    for s in samples:
        for label, start, end in s.spans:
            pool.setdefault(label, []).append(s.text[start:end])

    def value(label: str) -> str:
        made = fake_value(label, fake, rng) if fake is not None and rng.random() < 0.5 else None
        return made or rng.choice(pool.get(label) or ["x"])

    out = list(samples)
    for s in samples:
        if not s.masked or len(_SLOT.findall(s.masked)) != len(s.spans):
            continue
        out.extend(_fill(s.masked, value, s.template) for _ in range(variants))
    return out


def own_templates(path: Path | None = None) -> list[str]:
    """Charter's own templates (``examples/pii-templates.jsonl``)."""
    from charter.judgement.tasks.charter import repo_examples

    path = path or repo_examples() / "pii-templates.jsonl"
    if not path.is_file():
        raise InvalidInputError(f"{path} is missing (it ships in the source checkout)")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [r["template"] for r in rows]


def ordinary_requests(examples: Path | None = None) -> dict[str, list[Sample]]:
    """Requests with no personal details to speak of, by the part they play:
    ``examples/benign-tasks.jsonl`` and ``benign-turns.jsonl`` (written for Charter),
    split by type as the charter model splits them."""
    from charter.judgement.tasks import charter as charter_task

    parts: dict[str, list[Sample]] = {"train": [], "validation": [], "test": []}
    for name in ("benign-tasks", "benign-turns"):
        rows = charter_task._jsonl((examples or charter_task.repo_examples()) / f"{name}.jsonl")
        for k, r in enumerate(rows):
            row = charter_task.Row(r["text"], False, None, f"{name}:{r['type']}")
            part = charter_task.part_of(row, [])
            parts[part].append(Sample(r["text"], (), -10_000 - k, unlabelled_names=True))
    return parts


def from_templates(templates: Sequence[str], fake: Any, variants: int = OWN_VARIANTS,
                   seed: int = 13) -> list[Sample]:
    """Each template filled ``variants`` times from Faker (a template without slots once)."""
    rng = random.Random(seed)
    out: list[Sample] = []
    for k, masked in enumerate(templates):
        times = variants if _SLOT.search(masked) else 1
        out.extend(_fill(masked, lambda label: fake_value(label, fake, rng) or "x", -1 - k)
                   for _ in range(times))
    return out


_WORD = re.compile(r"\S+")


def token_tags(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[str, int, int]],
               ignore: Sequence[tuple[int, int]] = ()) -> list[int]:
    """The tag index of each token (-100 for [CLS], [SEP], padding and tokens that start
    inside an ``ignore`` range)."""
    tags: list[int] = []
    previous: tuple[str, int, int] | None = None
    for start, end in offsets:
        if start == end or any(a <= start < b for a, b in ignore):
            tags.append(-100)
            previous = None
            continue
        span = next((s for s in spans if s[0] in GOLD and s[1] <= start < s[2]), None)
        if span is None:
            tags.append(0)
        else:
            prefix = "I" if previous == span else "B"
            tags.append(TAGS.index(f"{prefix}-{GOLD[span[0]]}"))
        previous = span
    return tags


def collate_with(tokenizer: Tokenizer) -> Callable[[list[Sample]], dict[str, torch.Tensor]]:
    def collate(batch: list[Sample]) -> dict[str, torch.Tensor]:
        enc = tokenizer.encode([s.text for s in batch], offsets=True)
        labels = torch.full(enc["ids"].shape, -100, dtype=torch.long)
        for row, (s, offsets) in enumerate(zip(batch, enc["offsets"], strict=True)):
            ignore = ([(m.start(), m.end()) for m in _WORD.finditer(s.text)
                       if any(c.isupper() or c.isdigit() for c in m.group())]
                      if s.unlabelled_names else [])
            tags = token_tags(offsets, s.spans, ignore)
            labels[row, :len(tags)] = torch.tensor(tags)
        return {"ids": enc["ids"], "mask": enc["mask"], "types": enc["types"], "labels": labels}
    return collate


def token_metric(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Token-level entity F2 (an entity token is any B or I tag), for picking the epoch."""
    pred = logits.argmax(-1)
    keep = labels != -100
    gold_e = (labels > 0) & keep
    pred_e = (pred > 0) & keep
    same = gold_e & pred_e & (((pred - 1) // 2) == ((labels - 1) // 2))
    tp = float(same.sum())
    p = tp / max(float(pred_e.sum()), 1.0)
    r = tp / max(float(gold_e.sum()), 1.0)
    return {"token_f2": 5 * p * r / (4 * p + r) if p + r else 0.0,
            "token_precision": p, "token_recall": r}


# -- span-level scoring (shared with `charter bench pii`) -----------------------------------

def f_beta(beta: float, p: float, r: float) -> float:
    return (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0


def score_spans(gold: Sequence[Sequence[tuple[str, int, int]]],
                predicted: Sequence[Sequence[tuple[str, int, int]]],
                entities: Sequence[str]) -> dict[str, Any]:
    """Span precision, recall and F2 per entity and over all: a prediction is right when
    it overlaps at least half of a not yet matched gold span of the same entity, and that
    overlap is at least half of the prediction (a span over a whole sentence is wrong)."""
    per = {e: {"tp": 0, "fp": 0, "fn": 0} for e in entities}
    for g_row, p_row in zip(gold, predicted, strict=True):
        g_row = [g for g in g_row if g[0] in per]
        matched: set[int] = set()
        for entity, start, end in p_row:
            if entity not in per:
                continue
            hit = next((k for k, (ge, gs, gend) in enumerate(g_row) if k not in matched
                        and ge == entity and min(end, gend) - max(start, gs)
                        >= max(gend - gs, end - start) / 2),
                       None)
            if hit is None:
                per[entity]["fp"] += 1
            else:
                matched.add(hit)
                per[entity]["tp"] += 1
        for k, (entity, _, _) in enumerate(g_row):
            if k not in matched:
                per[entity]["fn"] += 1
    out: dict[str, Any] = {"entities": {}}
    tp = fp = fn = 0
    for entity, s in per.items():
        p = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else 0.0
        r = s["tp"] / (s["tp"] + s["fn"]) if s["tp"] + s["fn"] else 0.0
        out["entities"][entity] = {"precision": round(p, 4), "recall": round(r, 4),
                                   "f2": round(f_beta(2, p, r), 4), "gold": s["tp"] + s["fn"]}
        tp, fp, fn = tp + s["tp"], fp + s["fp"], fn + s["fn"]
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    out.update(precision=round(p, 4), recall=round(r, 4), f2=round(f_beta(2, p, r), 4))
    return out


def score_words(texts: Sequence[str], gold: Sequence[Sequence[tuple[str, int, int]]],
                predicted: Sequence[Sequence[tuple[str, int, int]]],
                entities: Sequence[str]) -> dict[str, float]:
    """F2 over words, the way presidio-research scores (each word labelled with the
    entity of the span it starts in, or none): it does not matter whether an address is
    one span or four, only which words were found. Per entity and over all."""
    per = {e: [0, 0, 0] for e in entities}  # tp, fp, fn
    for text, g_row, p_row in zip(texts, gold, predicted, strict=True):
        for m in _WORD.finditer(text):
            at = m.start()
            while at < m.end() - 1 and not text[at].isalnum():
                at += 1  # "(Ada": the word starts at its first letter
            g = next((e for e, a, b in g_row if a <= at < b and e in per), None)
            p = next((e for e, a, b in p_row if a <= at < b and e in per), None)
            if g is not None and g == p:
                per[g][0] += 1
                continue
            if p is not None:
                per[p][1] += 1
            if g is not None:
                per[g][2] += 1
    out: dict[str, float] = {}
    for e, (tp, fp, fn) in per.items():
        out[e] = round(f_beta(2, tp / (tp + fp) if tp + fp else 0.0,
                              tp / (tp + fn) if tp + fn else 0.0), 4)
    tp, fp, fn = (sum(v[k] for v in per.values()) for k in range(3))
    out["all"] = round(f_beta(2, tp / (tp + fp) if tp + fp else 0.0,
                              tp / (tp + fn) if tp + fn else 0.0), 4)
    return out


def gold_of(samples: Sequence[Sample]) -> list[list[tuple[str, int, int]]]:
    return [[(GOLD[label], start, end) for label, start, end in s.spans if label in GOLD]
            for s in samples]


def choose_thresholds(tagger: EntityTagger, samples: Sequence[Sample]) -> dict[str, float]:
    """Per entity, the threshold with the best span F2 on ``samples`` (ties: the lower)."""
    gold = gold_of(samples)
    reads = tagger.read_many([x.text for x in samples])
    chosen: dict[str, float] = {}
    for entity in MODEL_ENTITIES:
        best: tuple[float, float] = (0.0, 0.5)  # nothing found at any threshold: 0.5
        for t in THRESHOLD_GRID:
            tagger.thresholds = {**tagger.thresholds, entity: t}
            pred = [[(s.entity, s.start, s.end) for s in tagger.decode(read, [entity])]
                    for read in reads]
            f2 = score_spans(gold, pred, [entity])["f2"]
            if f2 > best[0]:
                best = (f2, t)
        chosen[entity] = best[1]
        tagger.thresholds = {**tagger.thresholds, entity: best[1]}
    return chosen


PURPOSE = ("Finds person names, street addresses, places, organisations and dates in a text, "
           "as BIO tags per token; the PII detector joins them into spans beside Presidio's "
           "pattern recognizers (e-mail, phone, card, IBAN and so on), which keep priority "
           "where both find something.")


def train(data: Path, config: Any, *, progress: bool = True) -> tuple[Any, dict[str, Any]]:
    """(artifact, summary): see the module's docstring for the data and the split."""
    from charter.judgement import card
    from charter.judgement.artifact import Artifact, Meta
    from charter.judgement.encoder import base_id
    from charter.judgement.runtime import Scorer
    from charter.judgement.train import fit

    samples = load(data)
    if any(s.template < 0 or not s.masked for s in samples):
        raise InvalidInputError(f"{data}: every row needs its template_id and masked template "
                                "(the split is by template)")
    train_samples, validation, test = split(samples)
    if not train_samples or not validation or not test:
        raise InvalidInputError(f"{data}: need sentences of templates in every part (template "
                                "id mod 5: 0 validation, 1 test, 2-4 training)")
    fake = _faker(config.seed)
    own = own_templates()
    ordinary = ordinary_requests()
    training = (refill(train_samples, seed=config.seed, fake=fake)
                + from_templates(own, fake, seed=config.seed) + ordinary["train"])
    tokenizer = Tokenizer(max_length=MAX_LENGTH)
    report = fit("token", len(TAGS), training, validation, collate_with(tokenizer),
                 token_metric, "token_f2", config, progress=progress)
    meta = Meta(TASK, "token", list(TAGS), config.freeze, config.depth, MAX_LENGTH, base_id(),
                384, threshold={e: 0.5 for e in MODEL_ENTITIES},
                metrics={"validation": {k: round(float(v), 4) for k, v in report.best.items()
                                        if k in ("token_f2", "loss", "epoch")}},
                training={**report.training(), "train_sentences": len(train_samples),
                          "train_rows": len(training), "validation_rows": len(validation)})
    tagger = EntityTagger(Scorer(Artifact.of(report.model, meta)))
    thresholds = choose_thresholds(tagger, validation)
    meta = Meta(**{**meta.__dict__, "threshold": thresholds})
    final = EntityTagger(Scorer(Artifact.of(report.model, meta)))
    before = {**evaluate(test, None), "ordinary_flagged": 0.0}
    after = {**evaluate(test, final), "ordinary_flagged": ordinary_flagged(final,
                                                                          ordinary["test"])}
    meta = meta.with_test(before, after)
    artifact = Artifact.of(report.model, meta)
    text = card.render(
        meta, purpose=PURPOSE,
        data=(f"Presidio's synthetic PII sentences (`../shared/data/pii`, {len(samples)} "
              f"sentences, {len({s.template for s in samples})} templates; MIT). Labels used: "
              "PERSON, STREET_ADDRESS, GPE (as LOCATION), ORGANIZATION, DATE_TIME; the others "
              f"are O. Each training sentence is also filled again {VARIANTS} times from its "
              "template, each value from another training sentence or from Faker "
              f"({len(FAKER_LOCALES)} locales). `examples/pii-templates.jsonl`: {len(own)} "
              "templates written for Charter (requests, e-mails, signatures, forms, tickets, "
              "chat turns, and requests with no personal details), filled "
              f"{OWN_VARIANTS} times each from Faker; training only. {len(training)} "
              "training rows."),
        split=("By template, never by sentence: Presidio template id mod 5 = 0 validation (the epoch "
               "with the best token F2, then each entity's threshold for the best span F2), "
               "1 test (figures below), 2-4 training; Charter's own templates train only. "
               "Ordinary requests (`examples/benign-tasks.jsonl`, `benign-turns.jsonl`, their "
               "lower-case words as O) split by type as the charter model splits them: "
               "training types train, test types give `ordinary_flagged` (the share with a "
               "PERSON or STREET_ADDRESS span). "
               "Span scoring: a prediction is right when it overlaps at least half of a gold "
               "span of the same entity and that overlap is at least half of the prediction; "
               "`word_f2` labels each word with the entity of the span it starts in."),
        before_method="Presidio's pattern recognizers alone (they claim none of these types)",
        after_method="this model",
        size_bytes=len(artifact.to_bytes()))
    return Artifact(meta, artifact.state, text), {"validation": meta.metrics["validation"],
                                                   "test": meta.metrics["test"],
                                                   "training": meta.training,
                                                   "threshold": thresholds}


DEFAULT_ON = ("PERSON", "STREET_ADDRESS")  # the default charter's entities from the model


def ordinary_flagged(tagger: EntityTagger, samples: Sequence[Sample]) -> float:
    """Share of ordinary requests in which the model finds a person or a street address
    (the default charter redacts those two)."""
    if not samples:
        return 0.0
    found = tagger.find_many([s.text for s in samples], DEFAULT_ON)
    return round(sum(bool(f) for f in found) / len(samples), 4)


def evaluate(samples: Sequence[Sample], tagger: EntityTagger | None) -> dict[str, Any]:
    """Span F2 over the model's entities (``tagger`` None: nothing is found, the detector
    without the model)."""
    gold = gold_of(samples)
    pred = ([[(s.entity, s.start, s.end) for s in row]
             for row in tagger.find_many([x.text for x in samples])] if tagger is not None
            else [[] for _ in samples])
    scored = score_spans(gold, pred, MODEL_ENTITIES)
    flat = {"f2": scored["f2"], "precision": scored["precision"], "recall": scored["recall"]}
    flat.update({f"f2_{e.lower()}": m["f2"] for e, m in scored["entities"].items()})
    flat["word_f2"] = score_words([x.text for x in samples], gold, pred, MODEL_ENTITIES)["all"]
    return flat
