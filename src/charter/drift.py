"""Drift between a reference window and a current window of requests (pure functions).

A check runs three two-sample tests, each at its share of one false-alarm budget
(``alpha``, split up front as in Bonferroni's correction, so that a check alerts on data
that has not changed with probability at most ``alpha``):

* **question embeddings** (half of ``alpha``): the unbiased estimate of the squared
  maximum mean discrepancy (MMD², Gretton et al. 2012) under a Gaussian kernel whose
  bandwidth is the median pairwise distance of the pooled sample, with a permutation
  p-value. Permutations stop early by Besag and Clifford's sequential rule (once ``h``
  permuted statistics reach the observed one: p = h / permutations drawn), so a window
  that plainly has not moved costs tens of permutations, not thousands. When MMD is
  significant a domain classifier must also tell the windows apart: a logistic
  regression's cross-validated ROC AUC at least ``min_auc`` (Evidently's default 0.55).
  A difference too small to matter, which a large window makes significant, does not
  alert.
* **decision rates** and **route rates** (a quarter each): a chi-square test of
  homogeneity on the counts (scipy), categories seen fewer than ``MIN_CATEGORY`` times in
  both windows together merged into one.

The evidence of an embedding alert is the clusters of questions that grew: k-means on
both windows, each cluster's share of the reference and of the current window, and a few
of the current window's (redacted) questions nearest its centre.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

MIN_CATEGORY = 5  # a decision or route seen fewer times is counted under "other"
MAX_PERMUTATIONS = 2000  # the least p-value a check can reach is 1 / 2001
STOP_AFTER = 10  # Besag-Clifford's h: stop once this many permutations reach the statistic
BATCH = 50  # permutations evaluated together (one matrix product)
CLUSTERS = 8
EXAMPLES = 3


@dataclass(frozen=True)
class Window:
    """Requests in arrival order: question vectors (rows, may be fewer than the requests
    when some had none), decisions, routes and redacted questions (one per vector)."""

    vectors: NDArray[np.float32]
    decisions: Sequence[str]
    routes: Sequence[str]
    questions: Sequence[str] = ()

    def __len__(self) -> int:
        return len(self.decisions)


@dataclass(frozen=True)
class TestResult:
    name: str  # embeddings, decisions or routes
    statistic: float
    p_value: float
    alpha: float
    fired: bool
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Cluster:
    reference_share: float
    current_share: float
    examples: tuple[str, ...]

    @property
    def growth(self) -> float:
        return self.current_share - self.reference_share


@dataclass(frozen=True)
class Report:
    reference: int
    current: int
    alpha: float
    tests: tuple[TestResult, ...]
    grown: tuple[Cluster, ...] = ()

    @property
    def fired(self) -> bool:
        return any(t.fired for t in self.tests)

    def as_dict(self) -> dict[str, object]:
        return {
            "fired": self.fired, "reference": self.reference, "current": self.current,
            "alpha": self.alpha,
            "tests": [{"name": t.name, "statistic": _num(t.statistic),
                       "p_value": _num(t.p_value), "alpha": t.alpha, "fired": t.fired,
                       **t.detail} for t in self.tests],
            "grown": [{"reference_share": round(c.reference_share, 4),
                       "current_share": round(c.current_share, 4),
                       "examples": list(c.examples)} for c in self.grown],
        }


def _num(x: float) -> float:
    return round(x, 6) if math.isfinite(x) else x


# -- embeddings -------------------------------------------------------------------------


def _kernel(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """The Gaussian kernel matrix of the pooled rows, bandwidth from the median distance."""
    sq = np.sum(z * z, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (z @ z.T), 0.0)
    off = d2[~np.eye(len(z), dtype=bool)]
    median = float(np.median(off)) if off.size else 0.0
    if median <= 0.0:  # every row the same: no bandwidth, and no difference to find
        median = 1.0
    return np.asarray(np.exp(-d2 / median))


def _mmd2(q: NDArray[np.float64], r: NDArray[np.float64], total: float, n: int,
          m: int) -> NDArray[np.float64]:
    """Unbiased MMD² of assignments with ``q = a'Ka`` and ``r = a'K1`` (``a`` marks the
    ``n`` rows of the first sample); the kernel's diagonal is 1."""
    xx = (q - n) / (n * (n - 1))
    yy = (total - 2.0 * r + q - m) / (m * (m - 1))
    xy = (r - q) / (n * m)
    return np.asarray(xx + yy - 2.0 * xy)


def mmd_test(x: NDArray[np.floating], y: NDArray[np.floating], *, seed: int = 0,
             max_permutations: int = MAX_PERMUTATIONS,
             stop_after: int = STOP_AFTER) -> tuple[float, float, int]:
    """(MMD², permutation p-value, permutations drawn) of samples ``x`` and ``y``."""
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise ValueError("each sample needs at least two rows")
    k = _kernel(np.vstack([x, y]).astype(np.float64))
    total, row = float(k.sum()), k.sum(axis=1)
    a = np.zeros(n + m)
    a[:n] = 1.0
    observed = float(_mmd2(np.array(a @ k @ a), np.array(a @ row), total, n, m))
    rng = np.random.default_rng(seed)
    drawn = reached = 0
    while drawn < max_permutations:
        size = min(BATCH, max_permutations - drawn)
        assign = np.zeros((size, n + m))
        for i in range(size):
            assign[i, rng.permutation(n + m)[:n]] = 1.0
        q = np.einsum("bi,bi->b", assign @ k, assign)
        stats = _mmd2(q, assign @ row, total, n, m)
        hits = np.flatnonzero(stats >= observed - 1e-12)
        if reached + len(hits) >= stop_after:  # Besag-Clifford: p = h / l
            last = int(hits[stop_after - reached - 1]) + 1
            drawn += last
            return observed, stop_after / drawn, drawn
        reached += len(hits)
        drawn += size
    return observed, (reached + 1) / (drawn + 1), drawn


def domain_auc(x: NDArray[np.floating], y: NDArray[np.floating], *, seed: int = 0) -> float:
    """Cross-validated ROC AUC of a classifier told to separate ``y`` from ``x``: 0.5 when
    the windows cannot be told apart, 1.0 when they are disjoint."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    z = np.vstack([x, y])
    labels = np.r_[np.zeros(len(x)), np.ones(len(y))]
    folds = min(5, len(x), len(y))
    if folds < 2:
        raise ValueError("each sample needs at least two rows")
    proba = cross_val_predict(LogisticRegression(max_iter=1000), z, labels,
                              cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                              method="predict_proba")[:, 1]
    return float(roc_auc_score(labels, proba))


def grown_clusters(reference: Window, current: Window, *, seed: int = 0,
                   clusters: int = CLUSTERS, top: int = 3) -> tuple[Cluster, ...]:
    """The clusters of questions whose share grew most from reference to current."""
    from sklearn.cluster import KMeans

    x, y = reference.vectors, current.vectors
    k = min(clusters, (len(x) + len(y)) // 10)
    if k < 2:
        return ()
    model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(np.vstack([x, y]))
    labels = model.labels_
    ref, cur = labels[:len(x)], labels[len(x):]
    found = []
    for c in range(k):
        ref_share, cur_share = float(np.mean(ref == c)), float(np.mean(cur == c))
        if cur_share <= ref_share:
            continue
        members = np.flatnonzero(cur == c)
        distance = np.linalg.norm(y[members] - model.cluster_centers_[c], axis=1)
        nearest = members[np.argsort(distance)[:EXAMPLES]]
        examples = tuple(current.questions[i] for i in nearest
                         if i < len(current.questions))
        found.append(Cluster(ref_share, cur_share, examples))
    found.sort(key=lambda c: c.growth, reverse=True)
    return tuple(found[:top])


# -- rates -------------------------------------------------------------------------------


def rate_test(name: str, reference: Sequence[str], current: Sequence[str],
              alpha: float) -> TestResult:
    """Chi-square test that the two windows share one distribution of categories."""
    from scipy.stats import chi2_contingency

    ref, cur = Counter(reference), Counter(current)
    kept = sorted(c for c in ref.keys() | cur.keys() if ref[c] + cur[c] >= MIN_CATEGORY)
    rare = [c for c in ref.keys() | cur.keys() if c not in kept]
    columns = [(c, ref[c], cur[c]) for c in kept]
    if rare:
        columns.append(("other", sum(ref[c] for c in rare), sum(cur[c] for c in rare)))
    shares = {c: {"reference": round(r / max(len(reference), 1), 4),
                  "current": round(u / max(len(current), 1), 4)} for c, r, u in columns}
    if len(columns) < 2 or not reference or not current:
        return TestResult(name, 0.0, 1.0, alpha, False,
                          {"shares": shares, "skipped": "fewer than two categories"})
    table = np.array([[r for _, r, _ in columns], [u for _, _, u in columns]])
    stat, p, dof, _ = chi2_contingency(table)
    return TestResult(name, float(stat), float(p), alpha, bool(p < alpha),
                      {"dof": int(dof), "shares": shares})


# -- one check ---------------------------------------------------------------------------


def check(reference: Window, current: Window, *, alpha: float, min_auc: float = 0.55,
          seed: int = 0, max_permutations: int = MAX_PERMUTATIONS,
          evidence: bool = True) -> Report:
    """Compare ``current`` with ``reference``: three tests, ``alpha`` split among them."""
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be between 0 and 1")
    tests: list[TestResult] = []
    grown: tuple[Cluster, ...] = ()
    a_embed = alpha / 2
    if len(reference.vectors) >= 2 and len(current.vectors) >= 2:
        stat, p, drawn = mmd_test(reference.vectors, current.vectors, seed=seed,
                                  max_permutations=max_permutations)
        detail: dict[str, object] = {"permutations": drawn}
        fired = p < a_embed
        if fired and min_auc > 0:
            auc = domain_auc(reference.vectors, current.vectors, seed=seed)
            detail["auc"] = round(auc, 4)
            detail["min_auc"] = min_auc
            fired = auc >= min_auc
        tests.append(TestResult("embeddings", stat, p, a_embed, fired, detail))
        if fired and evidence:
            grown = grown_clusters(reference, current, seed=seed)
    else:
        tests.append(TestResult("embeddings", 0.0, 1.0, a_embed, False,
                                {"skipped": "fewer than two question vectors in a window"}))
    tests.append(rate_test("decisions", reference.decisions, current.decisions, alpha / 4))
    tests.append(rate_test("routes", reference.routes, current.routes, alpha / 4))
    return Report(len(reference), len(current), alpha, tuple(tests), grown)
