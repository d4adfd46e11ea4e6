"""Injection classifiers on deepset's training split, split by topic: k-means (20
clusters) over MiniLM embeddings, cluster index mod 5 -> validation, test, train x3.
Compares the shipped method (logistic regression on embeddings, plus the rules) with a
fine-tuned top of the encoder; the threshold of each is chosen on validation.

Usage: .venv/bin/python scripts/experiments/injection_by_topic.py
"""

import tempfile
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression

from charter.core.config import load_settings
from charter.judgement.encoder import Tokenizer
from charter.judgement.tasks.charter import Row, collate_with
from charter.judgement.train import TrainConfig, fit, predict
from charter.policy.injection import rule_hits
from charter.policy.injection_train import load_labelled
from charter.runtime import Runtime

rows = load_labelled(Path("../shared/data/injection"))
rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": tempfile.mkdtemp()}))
x = np.asarray(rt.embedder().embed_queries([t for t, _ in rows]), dtype=np.float32)
y = np.array([label for _, label in rows])
clusters = KMeans(20, random_state=0, n_init=10).fit_predict(x)
part = np.array([("validation", "test", "train", "train", "train")[c % 5] for c in clusters])
rules = np.array([bool(rule_hits(t)) for t, _ in rows])
tr, va, te = (part == p for p in ("train", "validation", "test"))
THRESHOLDS = np.arange(0.3, 0.96, 0.05)


def report(name: str, val_scores: np.ndarray, test_scores: np.ndarray) -> None:
    best = max(THRESHOLDS, key=lambda t: float((((val_scores >= t) | rules[va]) == y[va]).mean()))
    pred = (test_scores >= best) | rules[te]
    truth = y[te]
    print(f"{name}: threshold {best:.2f} accuracy {(pred == truth).mean():.3f} "
          f"recall {pred[truth == 1].mean():.3f} fpr {pred[truth == 0].mean():.3f}")


lr = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000).fit(x[tr], y[tr])
report("logistic regression + rules", lr.predict_proba(x[va])[:, 1], lr.predict_proba(x[te])[:, 1])
as_rows = [Row(t, bool(label), None, f"deepset:{c}") for (t, label), c in zip(rows, clusters)]
collate = collate_with(Tokenizer(max_length=128), ["flag"])


def accuracy(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {"acc": float(((1 / (1 + np.exp(-logits[:, 0])) >= 0.5) == labels[:, 0]).mean())}


for freeze, rate, epochs in ((5, 5e-4, 10), (4, 3e-4, 8)):
    chosen = [[r for r, m in zip(as_rows, mask) if m] for mask in (tr, va, te)]
    fitted = fit("sequence", 1, chosen[0], chosen[1], collate, accuracy, "acc",
                 TrainConfig(freeze=freeze, depth=6, epochs=epochs, learning_rate=rate),
                 progress=False)
    scores = [1 / (1 + np.exp(-predict(fitted.model, c, collate)[:, 0])) for c in chosen[1:]]
    report(f"fine-tuned --freeze {freeze} + rules", scores[0], scores[1])
