"""The learned router: the probability that a request needs the deeper path.

A logistic regression (scikit-learn) over the request's embedding and its text signals,
all standardised. Training labels say whether the deeper path was needed: from outcome data (the
weak model got it wrong and the strong one right) and from feedback recorded by Charter
(see ``charter.router.feedback``). Scoring is a dot product, a few microseconds, because
the embedding comes from input screening.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from charter.core.errors import InvalidInputError
from charter.router.features import NAMES, feature_matrix


@dataclass(frozen=True)
class Sample:
    text: str
    deep: bool  # the deeper path was needed
    weight: float = 1.0
    source: str = "outcomes"  # outcomes | feedback


@dataclass
class RouterModel:
    coef: np.ndarray
    intercept: float
    mean: np.ndarray  # standardisation of every feature (embedding and text signals)
    scale: np.ndarray
    threshold: float
    embedder: str
    dimension: int
    meta: dict[str, Any] = field(default_factory=dict)

    def scores(self, vectors: np.ndarray, texts: list[str], turns: list[int] | None = None) -> np.ndarray:
        x = self._prepare(feature_matrix(vectors, texts, turns))
        return 1.0 / (1.0 + np.exp(-(x @ self.coef + self.intercept)))

    def score(self, vector: Any, text: str, turns: int = 1) -> float:
        return float(self.scores(np.asarray(vector, dtype=np.float32).reshape(1, -1), [text],
                                 [turns])[0])

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1] != self.dimension + len(NAMES):
            raise InvalidInputError(
                f"this router was trained on {self.dimension}-dimensional embeddings from "
                f"{self.embedder}; the request's embedding has {x.shape[1] - len(NAMES)} "
                "dimensions: retrain it with `charter router train`")
        return (x - self.mean) / self.scale

    # -- storage -----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, coef=self.coef, intercept=np.array([self.intercept]), mean=self.mean,
                 scale=self.scale)
        return buf.getvalue()

    def meta_json(self) -> str:
        return json.dumps({**self.meta, "threshold": self.threshold, "embedder": self.embedder,
                           "dimension": self.dimension}, sort_keys=True)

    @classmethod
    def from_stored(cls, blob: bytes, meta_json: str) -> RouterModel:
        meta = json.loads(meta_json)
        with np.load(io.BytesIO(blob)) as z:
            return cls(coef=z["coef"], intercept=float(z["intercept"][0]), mean=z["mean"],
                       scale=z["scale"], threshold=float(meta.pop("threshold")),
                       embedder=meta.pop("embedder"), dimension=int(meta.pop("dimension")),
                       meta=meta)


def fit(vectors: np.ndarray, samples: list[Sample], *, embedder: str,
        regularisation: float = 0.01) -> RouterModel:
    """Fit the classifier; the threshold is set afterwards by ``calibrate``."""
    from sklearn.linear_model import LogisticRegression

    labels = np.array([s.deep for s in samples])
    if len(samples) < 20 or labels.all() or not labels.any():
        raise InvalidInputError(
            f"{len(samples)} training samples with {int(labels.sum())} needing the deeper "
            "path: the router needs at least 20 samples with both outcomes")
    x = feature_matrix(vectors, [s.text for s in samples])
    dim = vectors.shape[1]
    # Every feature standardised, so the penalty treats embedding dimensions and text
    # signals alike (chosen on the validation slice: see charter.router.train).
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    x = (x - mean) / scale
    clf = LogisticRegression(C=regularisation, max_iter=2000)
    clf.fit(x, labels, sample_weight=np.array([s.weight for s in samples]))
    counts = {"samples": len(samples), "deep": int(labels.sum()),
              "feedback": sum(1 for s in samples if s.source == "feedback")}
    return RouterModel(coef=clf.coef_[0].astype(np.float32), intercept=float(clf.intercept_[0]),
                       mean=mean, scale=scale, threshold=0.5, embedder=embedder, dimension=dim,
                       meta={"counts": counts, "regularisation": regularisation})


def threshold_for_share(scores: np.ndarray, deep_share: float) -> float:
    """The score above which ``deep_share`` of these requests go to the deeper path."""
    if not 0.0 <= deep_share <= 1.0:
        raise InvalidInputError(f"--deep-share must be between 0 and 1, not {deep_share}")
    if deep_share == 0.0:
        return float("inf")
    if deep_share == 1.0:
        return float("-inf")
    return float(np.quantile(scores, 1.0 - deep_share))
