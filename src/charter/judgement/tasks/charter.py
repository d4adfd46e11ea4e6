"""The charter classifier: does this request need the charter's attention, and which of
the default charter's categories is it?

One text in, one sigmoid per label out: ``flag`` (the request belongs to some category
of any tier but minimal) and one per category of the default charter. Harmful requests
come from three public sets (HarmBench, AdvBench, StrongREJECT, in
``../shared/data/safety``) and from ``examples/policy-train.jsonl`` with the charter's own
examples; benign ones from MMLU questions, SQuAD questions, SciFact claims, the seed-corpus
questions, the prompts of ``../shared/data/injection`` that are not injections (deepset),
Presidio's synthetic sentences with personal details (``../shared/data/pii``, split by
template), ``examples/benign-alarming.jsonl`` (requests with alarming words that are fine),
``examples/benign-tasks.jsonl`` (ordinary task requests), ``examples/benign-turns.jsonl``
(short conversational turns: greetings, follow-ups, thanks) and the charter's benign
examples.

The split is by source, never by row. The three public harmful sets are used two for
training and one held out as the test (``holdout``, StrongREJECT by default; the other
two ways are measured with ``--holdout``); StrongREJECT's prompts copied from AdvBench
are dropped, so no held-out prompt was trained on. Benign sources: MMLU is split by
subject, Presidio's sentences by template, the alarming-but-benign prompts, the benign
tasks and turns by their type, and SciFact, the seed-corpus questions and deepset's
prompts are test only. Validation holds benign sources only: every epoch runs (no harmful source is left to rank epochs by without training
on the test's), and validation sets the ``flag`` threshold, the lowest one that flags
at most ``MAX_BENIGN_FLAGGED`` of validation's benign requests.
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
MAX_BENIGN_FLAGGED = 0.03  # validation's benign requests the threshold may flag (the goal)
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
# The alarming-but-benign prompts, the benign tasks and turns by type: which part each plays.
BENIGN_VALIDATION_TYPES = ("safe_context", "security_defence")
BENIGN_TEST_TYPES = ("figurative", "public_figures_privacy")
TASK_VALIDATION_TYPES = ("business", "cooking_home")
TASK_TEST_TYPES = ("coding", "travel")
TURN_VALIDATION_TYPES = ("formatting",)
TURN_TEST_TYPES = ("acknowledgement",)
# The public harmful sets: two train, the held-out one is the test.
HOLDOUTS = ("harmbench", "advbench", "strongreject")
DEFAULT_HOLDOUT = "strongreject"
NAMES = {"harmbench": "HarmBench", "advbench": "AdvBench", "strongreject": "StrongREJECT"}


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
                                "safety/, router/mmlu/, answerability/, scifact/, pii/ "
                                "and injection/ (../shared/data)")
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
        if r.get("source") == "AdvBench":  # copies of AdvBench rows: kept once, there
            continue
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
    for r in _jsonl(examples / "benign-tasks.jsonl"):
        rows.append(Row(r["text"], False, None, f"benign-tasks:{r['type']}"))
    for r in _jsonl(examples / "benign-turns.jsonl"):
        rows.append(Row(r["text"], False, None, f"benign-turns:{r['type']}"))
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
    presidio = data / "pii" / "presidio_synth_dev.json"
    if not presidio.is_file():
        raise InvalidInputError(f"{presidio} is missing; give --data the folder holding "
                                "safety/, router/mmlu/, answerability/, scifact/, pii/ "
                                "and injection/ (../shared/data)")
    rows += [Row(r["full_text"], False, None, f"presidio:{r['template_id']}")
             for r in json.loads(presidio.read_text())]
    rows += [Row(text, False, None, "deepset") for text in _deepset_benign(data)]
    # Each text once (the first source that has it): a text repeated across sources or
    # templates would otherwise sit in two parts of the split.
    seen: set[str] = set()
    kept = []
    for r in rows:
        key = " ".join(r.text.casefold().split())
        if key and key not in seen:
            seen.add(key)
            kept.append(r)
    return kept


def _deepset_benign(data: Path) -> list[str]:
    """The prompts of the injection training split that are not injections."""
    from charter.policy.injection_train import load_labelled

    path = data / "injection" / "deepset_prompt_injections_train.parquet"
    if not path.is_file():
        raise InvalidInputError(f"{path} is missing; give --data ../shared/data")
    return [text for text, label in load_labelled(path) if label == 0]


def check_holdout(holdout: str) -> str:
    if holdout not in HOLDOUTS:
        raise InvalidInputError(f"no harmful set {holdout!r} to hold out; one of "
                                f"{', '.join(HOLDOUTS)}")
    return holdout


def part_of(row: Row, mmlu_subjects: Sequence[str], holdout: str = DEFAULT_HOLDOUT) -> str:
    """Which part a row plays: train, validation or test (by its source)."""
    source, _, group = row.source.partition(":")
    if source in HOLDOUTS:
        return "test" if source == check_holdout(holdout) else "train"
    if source in ("policy-train", "charter-examples", "charter-benign", "squad"):
        return "train"
    if source in ("scifact", "seed-questions", "deepset"):
        return "test"
    if source == "presidio":  # by template, never by sentence
        return ("validation", "test", "train", "train", "train")[int(group) % 5]
    if source == "benign-alarming":
        return ("validation" if group in BENIGN_VALIDATION_TYPES else
                "test" if group in BENIGN_TEST_TYPES else "train")
    if source == "benign-tasks":
        return ("validation" if group in TASK_VALIDATION_TYPES else
                "test" if group in TASK_TEST_TYPES else "train")
    if source == "benign-turns":
        return ("validation" if group in TURN_VALIDATION_TYPES else
                "test" if group in TURN_TEST_TYPES else "train")
    if source == "mmlu":
        i = list(mmlu_subjects).index(group)
        return ("validation", "test", "train", "train", "train")[i % 5]
    raise InvalidInputError(f"row of unknown source {row.source!r}")


def split(rows: Sequence[Row], holdout: str = DEFAULT_HOLDOUT
          ) -> tuple[list[Row], list[Row], list[Row]]:
    check_holdout(holdout)
    subjects = sorted({r.source.partition(":")[2] for r in rows if r.source.startswith("mmlu:")})
    parts: dict[str, list[Row]] = {"train": [], "validation": [], "test": []}
    for r in rows:
        parts[part_of(r, subjects, holdout)].append(r)
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
    """On the flag: the threshold validation sets, the share of benign requests flagged
    at 0.5, and (when validation holds harmful requests) average precision and the recall
    at that threshold."""
    from sklearn.metrics import average_precision_score

    scores = 1.0 / (1.0 + np.exp(-logits[:, 0]))
    y = labels[:, 0].astype(int)
    threshold = flag_threshold(scores, y)
    out = {"threshold": threshold,
           "benign_flagged_at_half": float(np.mean(scores[y == 0] >= 0.5))
           if (y == 0).any() else 0.0}
    if y.any() and (y == 0).any():
        out["ap"] = float(average_precision_score(y, scores))
        out["recall_at_threshold"] = float(np.mean(scores[y == 1] >= threshold))
    return out


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
           "of the default charter's categories. The policy classifier asks it after the "
           "charter's patterns and nearest examples (a near example's category stands): "
           "it adds the harmful requests no example is near and never clears one they "
           "caught; an organisation's own categories stay with the examples.")


def train(data: Path, config: Any, *, progress: bool = True,
          holdout: str = DEFAULT_HOLDOUT) -> tuple[Any, dict[str, Any]]:
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
    check_holdout(holdout)
    trained = [NAMES[h] for h in HOLDOUTS if h != holdout]
    rows = load_rows(data)
    train_rows, validation_rows, test_rows = split(rows, holdout)
    tokenizer = Tokenizer(max_length=MAX_LENGTH)
    collate = collate_with(tokenizer, labels)
    harmful = sum(r.harmful for r in train_rows)
    report = fit("sequence", len(labels), train_rows, validation_rows, collate, metric,
                 None, config,
                 pos_weight=(len(train_rows) - harmful) / max(harmful, 1), progress=progress)
    logits = predict(report.model, validation_rows, collate)
    threshold = flag_threshold(1.0 / (1.0 + np.exp(-logits[:, 0])),
                               np.array([r.harmful for r in validation_rows], dtype=int))
    meta = Meta(TASK, "sequence", labels, config.freeze, config.depth, MAX_LENGTH, base_id(),
                384, threshold={FLAG: threshold},
                metrics={"validation": {k: round(float(v), 4) for k, v in report.best.items()
                                        if k in ("benign_flagged_at_half", "threshold",
                                                 "loss", "epoch")}},
                training={**report.training(), "holdout": holdout,
                          "train_rows": len(train_rows),
                          "validation_rows": len(validation_rows)})
    scorer = Scorer(Artifact.of(report.model, meta))
    from charter.backends.st_embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    before = evaluate(PolicyClassifier(charter, embedder).classify, test_rows)
    after = evaluate(PolicyClassifier(charter, embedder, model=scorer).classify, test_rows)
    meta = meta.with_test(before, after)
    artifact = Artifact.of(report.model, meta)
    counts: dict[str, int] = {}
    for r in rows:
        key = r.source.partition(":")[0]
        counts[key] = counts.get(key, 0) + 1
    text = card.render(
        meta, purpose=PURPOSE,
        data=("Harmful requests: HarmBench (400 behaviours, copyright ones dropped), AdvBench "
              "(520), StrongREJECT (313 less the 25 copied from AdvBench), all MIT; "
              "`examples/policy-train.jsonl` (220 written for Charter, 10 per category) and "
              "the default charter's examples. Benign: MMLU "
              f"questions ({MMLU_PER_SUBJECT} per subject), SQuAD 2.0 questions "
              f"({SQUAD_QUESTIONS}), SciFact claims, the seed-corpus questions, the prompts of "
              "deepset's prompt-injection training split that are not injections, Presidio's "
              "synthetic sentences with personal details (1,000, 204 templates), "
              "`examples/benign-alarming.jsonl` (320 requests with alarming words, 10 types), "
              "`examples/benign-tasks.jsonl` (200 ordinary task requests, 10 types), "
              "`examples/benign-turns.jsonl` (120 short conversational turns, 6 types) "
              "and the charter's benign examples. Rows per source: "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + "."),
        split=(f"By source, never by row. Training: {', '.join(trained)} (the public harmful "
               "sets not held out), policy-train, the charter's examples, SQuAD questions, "
               "MMLU subjects 3-5 of every 5 (alphabetical), the alarming-but-benign and the "
               "benign-task and benign-turn types other than those below, Presidio templates 2-4 "
               "of every 5 (template id mod 5). Validation "
               f"(benign only; the flag threshold: at most {MAX_BENIGN_FLAGGED:.0%} of its "
               "requests flagged; every "
               f"epoch runs): MMLU subjects 1 of every 5, alarming-but-benign types "
               f"{', '.join(BENIGN_VALIDATION_TYPES)}, benign-task types "
               f"{', '.join(TASK_VALIDATION_TYPES)}, benign-turn types "
               f"{', '.join(TURN_VALIDATION_TYPES)}, Presidio templates 0 mod 5. Test (figures "
               f"below): {NAMES[holdout]} (held out), SciFact, the seed-corpus questions, "
               "deepset's prompts, Presidio templates 1 mod 5, MMLU subjects 2 of every 5, "
               f"alarming-but-benign types {', '.join(BENIGN_TEST_TYPES)}, benign-task types "
               f"{', '.join(TASK_TEST_TYPES)}, benign-turn types {', '.join(TURN_TEST_TYPES)}."),
        before_method="the charter's patterns and nearest-example embedding layer",
        after_method="the same layers with this model added",
        size_bytes=len(artifact.to_bytes()))
    return Artifact(meta, artifact.state, text), {"validation": meta.metrics["validation"],
                                                   "test": meta.metrics["test"],
                                                   "training": meta.training}
