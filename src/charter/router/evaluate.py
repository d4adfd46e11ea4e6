"""Router evaluation on outcome data: quality against the share of strong-model calls.

For a sweep of thresholds (every 1% of strong-call share), requests scoring highest go
to the strong model. From that curve:

- PGR(share): the share of the strong-weak accuracy gap recovered,
  (accuracy - weak accuracy) / (strong accuracy - weak accuracy);
- APGR: the mean PGR over the sweep (area under the PGR curve);
- CPT(x%): the smallest strong-call share whose PGR reaches x%;
- cost saving at 95%: 1 - the smallest strong-call share whose accuracy reaches 95% of
  strong-only accuracy (the strong model is taken as the whole cost).

The random router's curve is its expectation (accuracy rises linearly with the share);
the oracle sends a request to the strong model exactly when only the strong model is
right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEPS = 100


@dataclass(frozen=True)
class Curve:
    shares: np.ndarray
    accuracy: np.ndarray
    weak: float
    strong: float

    @property
    def pgr(self) -> np.ndarray:
        gap = self.strong - self.weak
        return (self.accuracy - self.weak) / gap if gap else np.zeros_like(self.accuracy)

    def apgr(self) -> float:
        return float(np.mean(self.pgr))

    def cpt(self, recovered: float) -> float | None:
        hit = np.nonzero(self.pgr >= recovered - 1e-12)[0]
        return float(self.shares[hit[0]]) if hit.size else None

    def cost_saving_at(self, quality: float) -> float | None:
        hit = np.nonzero(self.accuracy >= quality * self.strong - 1e-12)[0]
        return float(1.0 - self.shares[hit[0]]) if hit.size else None

    def summary(self) -> dict[str, float | None]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {"apgr": r(self.apgr()), "cpt50": r(self.cpt(0.5)), "cpt80": r(self.cpt(0.8)),
                "cost_saving_at_95": r(self.cost_saving_at(0.95))}


def curve(scores: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> Curve:
    """Accuracy when the top-scoring share of requests goes to the strong model."""
    n = len(scores)
    order = np.argsort(-np.asarray(scores), kind="stable")
    gain = (strong.astype(float) - weak.astype(float))[order]
    cum = np.concatenate([[0.0], np.cumsum(gain)])
    shares = np.linspace(0.0, 1.0, STEPS + 1)
    k = np.rint(shares * n).astype(int)
    accuracy = (weak.sum() + cum[k]) / n
    # The share actually sent to the strong model at each step (exact for small sets).
    return Curve(k / n, accuracy, float(weak.mean()), float(strong.mean()))


def random_curve(weak: np.ndarray, strong: np.ndarray) -> Curve:
    shares = np.linspace(0.0, 1.0, STEPS + 1)
    w, s = float(weak.mean()), float(strong.mean())
    return Curve(shares, w + shares * (s - w), w, s)


def oracle_curve(weak: np.ndarray, strong: np.ndarray) -> Curve:
    benefit = strong.astype(float) - weak.astype(float)  # 1: only strong right, -1: only weak
    return curve(benefit, weak, strong)
