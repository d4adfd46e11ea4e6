"""Training the injection classifier on labelled texts (parquet or JSONL with text, label).

The split is stratified and seeded, so the held-out part is the same in training and in
`charter bench injection`; the weights are a 384-float vector and a bias.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charter.backends.base import Embedder
from charter.core.errors import InvalidInputError

SEED = 20261126


@dataclass(frozen=True)
class Split:
    train: list[tuple[str, int]]
    test: list[tuple[str, int]]


def load_labelled(path: Path) -> list[tuple[str, int]]:
    if path.is_dir():
        found = sorted(path.glob("*.parquet")) + sorted(path.glob("*.jsonl"))
        if not found:
            raise InvalidInputError(f"{path} holds no .parquet or .jsonl file")
        path = found[0]
    if not path.is_file():
        raise InvalidInputError(f"{path} not found")
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InvalidInputError("reading parquet needs pyarrow (pip install -e '.[test]')") from None
        rows = pq.read_table(path).to_pylist()
    else:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(str(r["text"]), int(r["label"])) for r in rows]


def split(rows: list[tuple[str, int]], test_share: float = 0.2) -> Split:
    rng = random.Random(SEED)
    train, test = [], []
    for label in sorted({y for _, y in rows}):
        group = [r for r in rows if r[1] == label]
        rng.shuffle(group)
        cut = int(round(len(group) * test_share))
        test.extend(group[:cut])
        train.extend(group[cut:])
    return Split(train, test)


def train(embedder: Embedder, rows: list[tuple[str, int]], out: Path) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(embedder.embed_queries([t for t, _ in rows]), dtype=np.float32)
    y = np.array([label for _, label in rows])
    model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
    model.fit(x, y)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, coef=model.coef_[0].astype(np.float32), intercept=np.float32(model.intercept_[0]))
    return {"train_accuracy": float(model.score(x, y)), "train_rows": float(len(rows))}


def document_negatives(corpus_jsonl: Path, n: int = 400) -> list[tuple[str, int]]:
    """Ordinary document passages (label 0), so the model learns that declarative text with
    'must' and 'should' in it is not an instruction to the assistant."""
    rng = random.Random(SEED)
    rows = [json.loads(line) for line in corpus_jsonl.read_text().splitlines() if line.strip()]
    rng.shuffle(rows)
    out = []
    for row in rows[:n]:
        text = f"{row.get('title', '')}\n{row.get('text', '')}".strip()
        out.append((text[:1000], 0))
    return out
