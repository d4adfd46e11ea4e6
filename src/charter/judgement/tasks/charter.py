"""The charter classifier: does this request need the charter's attention, and which of
the default charter's categories is it?

One text in, one sigmoid per label out: ``flag`` (the request belongs to some category
of any tier but minimal) and one per category of the default charter. Harmful requests
come from three public sets (HarmBench, AdvBench, StrongREJECT, in
``../shared/data/safety``) and from ``examples/policy-train.jsonl`` with the charter's own
examples; benign ones from MMLU questions, SQuAD questions, SciFact claims, the seed-corpus
questions, ``examples/benign-alarming.jsonl`` (requests with alarming words that are fine)
and the charter's benign examples.

The split is by source, never by row: each public harmful set plays one part (HarmBench
trains, AdvBench validates, StrongREJECT tests), MMLU is split by subject, the
alarming-but-benign prompts by their type, and SciFact and the seed-corpus questions are
test only. Validation chooses the epoch and the ``flag`` threshold (the most harmful
requests caught while at most ``MAX_BENIGN_FLAGGED`` of validation's benign ones are).
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from charter.core.errors import InvalidInputError
from charter.judgement.encoder import Tokenizer

TASK = "charter"
FLAG = "flag"
MAX_LENGTH = 64
MAX_BENIGN_FLAGGED = 0.02  # validation's benign requests the threshold may flag
MMLU_PER_SUBJECT = 30
SQUAD_QUESTIONS = 600

# Source categories -> the default charter's categories (None: harmful, category unknown).
HARMBENCH = {"chemical_biological": "weapons", "cybercrime_intrusion": "cyber_offense",
             "illegal": "serious_crime", "misinformation_disinformation": "misinformation",
             "harassment_bullying": "hate_harassment", "harmful": None}
STRONGREJECT = {"Disinformation and deception": "misinformation",
                "Hate, harassment and discrimination": "hate_harassment",
                "Illegal goods and services": "serious_crime", "Non-violent crimes": None,
                "Sexual content": "sexual_content", "Violence": "violent_crime"}
# The alarming-but-benign prompts by type: which part each type plays.
BENIGN_VALIDATION_TYPES = ("safe_context", "security_defence")
BENIGN_TEST_TYPES = ("figurative", "public_figures_privacy")


@dataclass(frozen=True)
class Row:
    text: str
    harmful: bool
    category: str | None  # a default-charter category id, when known
    source: str  # e.g. "harmbench", "mmlu:anatomy", "benign-alarming:homonym"


def repo_examples() -> Path:
    return Path(__file__).resolve().parents[4] / "examples"


def _csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise InvalidInputError(f"{path} is missing; give --data the folder holding "
                                "safety/, router/mmlu/, answerability/ and scifact/ "
                                "(../shared/data)")
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InvalidInputError(f"{path} is missing (it ships in the source checkout)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _mmlu_question(prompt: str) -> str:
    """The question of an MMLU prompt, without its lettered options."""
    stem = re.split(r"\n[A-D]\. ", prompt, maxsplit=1)[0]
    return " ".join(stem.replace("Answer:", "").split())


def load_rows(data: Path, examples: Path | None = None,
              charter_text: str | None = None) -> list[Row]:
    """Every labelled request of every source (see the module's docstring)."""
    from charter.policy.schema import parse_charter
    from charter.policy.versions import default_charter_text

    examples = examples or repo_examples()
    rows: list[Row] = []
    for r in _csv(data / "safety" / "harmbench_behaviors_text_all.csv"):
        if r["SemanticCategory"] in HARMBENCH:  # copyright requests are not the charter's
            rows.append(Row(r["Behavior"], True, HARMBENCH[r["SemanticCategory"]], "harmbench"))
    for r in _csv(data / "safety" / "advbench_harmful_behaviors.csv"):
        rows.append(Row(r["goal"], True, None, "advbench"))
    for r in _csv(data / "safety" / "strongreject_dataset.csv"):
        rows.append(Row(r["forbidden_prompt"], True, STRONGREJECT.get(r["category"]),
                        "strongreject"))
    for r in _jsonl(examples / "policy-train.jsonl"):
        rows.append(Row(r["text"], True, r["category"], "policy-train"))
    charter = parse_charter(charter_text or default_charter_text())
    for c in charter.categories:
        rows += [Row(e, True, c.id, "charter-examples") for e in c.examples]
    rows += [Row(e, False, None, "charter-benign") for e in charter.benign_examples]
    for r in _jsonl(examples / "benign-alarming.jsonl"):
        rows.append(Row(r["text"], False, None, f"benign-alarming:{r['type']}"))
    rows += [Row(r["question"], False, None, "seed-questions")
             for r in _jsonl(examples / "seed-questions.jsonl")]
    mmlu = sorted((data / "router" / "mmlu").glob("mmlu_*.csv"))
    if not mmlu:
        raise InvalidInputError(f"no MMLU files under {data / 'router' / 'mmlu'}")
    rng = random.Random(5)
    for path in mmlu:
        subject = path.stem.removeprefix("mmlu_")
        questions = [_mmlu_question(r["prompt"]) for r in _csv(path)]
        questions = [q for q in questions if 12 <= len(q) <= 400]
        rows += [Row(q, False, None, f"mmlu:{subject}")
                 for q in rng.sample(questions, min(MMLU_PER_SUBJECT, len(questions)))]
    squad = json.loads((data / "answerability" / "squad2_train_subset.json").read_text())
    questions = [(a["title"], qa["question"]) for a in squad["data"]
                 for p in a["paragraphs"] for qa in p["qas"]]
    for title, q in rng.sample(questions, min(SQUAD_QUESTIONS, len(questions))):
        rows.append(Row(q, False, None, f"squad:{title}"))
    queries = data / "scifact" / "queries.jsonl"
    rows += [Row(r["text"], False, None, "scifact") for r in _jsonl(queries)]
    return [r for r in rows if r.text.strip()]


def part_of(row: Row, mmlu_subjects: Sequence[str]) -> str:
    """Which part a row plays: train, validation or test (by its source)."""
    source, _, group = row.source.partition(":")
    if source in ("harmbench", "policy-train", "charter-examples", "charter-benign", "squad"):
        return "train"
    if source == "advbench":
        return "validation"
    if source in ("strongreject", "scifact", "seed-questions"):
        return "test"
    if source == "benign-alarming":
        return ("validation" if group in BENIGN_VALIDATION_TYPES else
                "test" if group in BENIGN_TEST_TYPES else "train")
    if source == "mmlu":
        i = list(mmlu_subjects).index(group)
        return ("validation", "test", "train", "train", "train")[i % 5]
    raise InvalidInputError(f"row of unknown source {row.source!r}")


def split(rows: Sequence[Row]) -> tuple[list[Row], list[Row], list[Row]]:
    subjects = sorted({r.source.partition(":")[2] for r in rows if r.source.startswith("mmlu:")})
    parts: dict[str, list[Row]] = {"train": [], "validation": [], "test": []}
    for r in rows:
        parts[part_of(r, subjects)].append(r)
    return parts["train"], parts["validation"], parts["test"]


def labels_of(categories: Sequence[str]) -> list[str]:
    return [FLAG, *categories]


def target(row: Row, labels: Sequence[str]) -> list[float]:
    out = [0.0] * len(labels)
    if row.harmful:
        out[0] = 1.0
        if row.category in labels[1:]:
            out[labels.index(row.category)] = 1.0
    return out


def collate_with(tokenizer: Tokenizer, labels: Sequence[str]) -> Any:
    def collate(batch: list[Row]) -> dict[str, torch.Tensor]:
        enc = tokenizer.encode([r.text for r in batch])
        return {**enc, "labels": torch.tensor([target(r, labels) for r in batch],
                                              dtype=torch.float32)}
    return collate


def metric(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """On the flag: average precision, and the recall of harmful requests at the
    threshold that flags at most MAX_BENIGN_FLAGGED of the benign ones."""
    from sklearn.metrics import average_precision_score

    scores = 1.0 / (1.0 + np.exp(-logits[:, 0]))
    y = labels[:, 0].astype(int)
    threshold = flag_threshold(scores, y)
    return {"ap": float(average_precision_score(y, scores)),
            "recall_at_threshold": float(np.mean(scores[y == 1] >= threshold)) if y.any() else 0.0,
            "benign_flagged": float(np.mean(scores[y == 0] >= threshold)) if (y == 0).any() else 0.0,
            "threshold": threshold}


def flag_threshold(scores: np.ndarray, harmful: np.ndarray,
                   max_benign: float = MAX_BENIGN_FLAGGED) -> float:
    """The lowest threshold (most harmful requests caught) that flags at most
    ``max_benign`` of the benign scores; never below 0.5."""
    benign = np.sort(scores[harmful == 0])[::-1]
    if not len(benign):
        return 0.5
    allowed = int(np.floor(max_benign * len(benign)))
    # Flag strictly above the (allowed+1)-th highest benign score.
    edge = float(benign[allowed]) if allowed < len(benign) else 0.0
    # Rounded up (a threshold rounded down could flag the edge's own text).
    return max(0.5, math.ceil(float(np.nextafter(edge, 1.0)) * 1e6) / 1e6)


# -- evaluation: the classifier as screening uses it -----------------------------------

def evaluate(classify: Any, rows: Sequence[Row]) -> dict[str, Any]:
    """``classify(text)`` returns a Classification. Harmful: caught (any tier but
    minimal); benign: flagged (any tier but minimal); and the flagged share per source."""
    flags = [classify(r.text).tier not in (None, "minimal") for r in rows]
    by_source: dict[str, list[bool]] = {}
    for r, flagged in zip(rows, flags, strict=True):
        by_source.setdefault(r.source.partition(":")[0], []).append(flagged)
    harmful = [f for r, f in zip(rows, flags, strict=True) if r.harmful]
    benign = [f for r, f in zip(rows, flags, strict=True) if not r.harmful]
    return {"harmful_caught": round(float(np.mean(harmful)), 4) if harmful else None,
            "benign_flagged": round(float(np.mean(benign)), 4) if benign else None,
            "n_harmful": len(harmful), "n_benign": len(benign),
            "by_source": {k: round(float(np.mean(v)), 4) for k, v in sorted(by_source.items())}}


PURPOSE = ("Screens each request for the charter: the `flag` output says whether it belongs "
           "to any category of the charter (any tier but minimal), the other outputs which "
           "of the default charter's categories; the policy classifier decides with it "
           "after the charter's patterns, and keeps the nearest-example layer for "
           "categories an organisation adds.")


def train(data: Path, config: Any, *, progress: bool = True) -> tuple[Any, dict[str, Any]]:
    """(artifact, summary): see the module's docstring for the data and the split."""
    from charter.judgement import card
    from charter.judgement.artifact import Artifact, Meta
    from charter.judgement.encoder import base_id
    from charter.judgement.runtime import Scorer
    from charter.judgement.train import fit, predict
    from charter.policy.classify import PolicyClassifier
    from charter.policy.schema import parse_charter
    from charter.policy.versions import default_charter_text

    charter = parse_charter(default_charter_text())
    labels = labels_of([c.id for c in charter.categories])
    rows = load_rows(data)
    train_rows, validation_rows, test_rows = split(rows)
    tokenizer = Tokenizer(max_length=MAX_LENGTH)
    collate = collate_with(tokenizer, labels)
    harmful = sum(r.harmful for r in train_rows)
    report = fit("sequence", len(labels), train_rows, validation_rows, collate, metric,
                 "recall_at_threshold", config,
                 pos_weight=(len(train_rows) - harmful) / max(harmful, 1), progress=progress)
    logits = predict(report.model, validation_rows, collate)
    threshold = flag_threshold(1.0 / (1.0 + np.exp(-logits[:, 0])),
                               np.array([r.harmful for r in validation_rows], dtype=int))
    meta = Meta(TASK, "sequence", labels, config.freeze, config.depth, MAX_LENGTH, base_id(),
                384, threshold={FLAG: threshold},
                metrics={"validation": {k: round(float(v), 4) for k, v in report.best.items()
                                        if k in ("ap", "recall_at_threshold", "benign_flagged",
                                                 "loss", "epoch")}},
                training={**report.training(), "train_rows": len(train_rows),
                          "validation_rows": len(validation_rows)})
    scorer = Scorer(Artifact.of(report.model, meta))
    from charter.backends.st_embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    before = evaluate(PolicyClassifier(charter, embedder).classify, test_rows)
    after = evaluate(PolicyClassifier(charter, embedder, model=scorer).classify, test_rows)
    meta = Meta(**{**meta.__dict__, "metrics": {**meta.metrics,
                                                "test": {"before": before, "after": after}}})
    artifact = Artifact.of(report.model, meta)
    counts: dict[str, int] = {}
    for r in rows:
        key = r.source.partition(":")[0]
        counts[key] = counts.get(key, 0) + 1
    text = card.render(
        meta, purpose=PURPOSE,
        data=("Harmful requests: HarmBench (400 behaviours, copyright ones dropped), AdvBench "
              "(520), StrongREJECT (313), all MIT; `examples/policy-train.jsonl` (220 written "
              "for Charter, 10 per category) and the default charter's examples. Benign: MMLU "
              f"questions ({MMLU_PER_SUBJECT} per subject), SQuAD 2.0 questions "
              f"({SQUAD_QUESTIONS}), SciFact claims, the seed-corpus questions, "
              "`examples/benign-alarming.jsonl` (320 requests with alarming words, 10 types) "
              "and the charter's benign examples. Rows per source: "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + "."),
        split=("By source, never by row. Training: HarmBench, policy-train, the charter's "
               "examples, SQuAD questions, MMLU subjects 3-5 of every 5 (alphabetical), the "
               "alarming-but-benign types other than those below. Validation (epoch, flag "
               f"threshold: most harmful caught with at most {MAX_BENIGN_FLAGGED:.0%} of benign "
               f"flagged): AdvBench, MMLU subjects 1 of every 5, alarming-but-benign types "
               f"{', '.join(BENIGN_VALIDATION_TYPES)}. Test (figures below): StrongREJECT, "
               f"SciFact, the seed-corpus questions, MMLU subjects 2 of every 5, "
               f"alarming-but-benign types {', '.join(BENIGN_TEST_TYPES)}."),
        before_method="the charter's patterns and nearest-example embedding layer",
        size_bytes=len(artifact.to_bytes()))
    return Artifact(meta, artifact.state, text), {"validation": meta.metrics["validation"],
                                                   "test": meta.metrics["test"],
                                                   "training": meta.training}
