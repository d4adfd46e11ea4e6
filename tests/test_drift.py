"""The drift tests themselves (charter.drift), on samples whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from charter import drift


def _naive_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    z = np.vstack([x, y])
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    k = np.exp(-d2 / np.median(d2[~np.eye(len(z), dtype=bool)]))
    n, m = len(x), len(y)
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    return float((kxx.sum() - n) / (n * (n - 1)) + (kyy.sum() - m) / (m * (m - 1))
                 - 2 * kxy.mean())


def _topic(rng: np.random.Generator, centre: np.ndarray, n: int) -> np.ndarray:
    v = centre + 0.6 * rng.normal(size=(n, len(centre)))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_mmd_is_the_unbiased_estimate_written_out() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 6)), rng.normal(size=(20, 6)) + 0.4
    stat, _, _ = drift.mmd_test(x, y)
    assert stat == pytest.approx(_naive_mmd2(x, y), rel=1e-9)


def test_permutation_p_values_hold_their_level_when_nothing_changed() -> None:
    rng = np.random.default_rng(7)
    ps = np.array([drift.mmd_test(rng.normal(size=(40, 8)), rng.normal(size=(30, 8)),
                                  seed=s)[1] for s in range(200)])
    # Under the null a valid p-value is (about) uniform: P(p < a) <= a, up to sampling.
    assert np.mean(ps < 0.05) <= 0.09
    assert np.mean(ps < 0.5) == pytest.approx(0.5, abs=0.12)


def test_sequential_stopping_spends_few_permutations_on_an_unchanged_window() -> None:
    rng = np.random.default_rng(11)
    same = [drift.mmd_test(rng.normal(size=(60, 8)), rng.normal(size=(40, 8)), seed=s)[2]
            for s in range(20)]
    assert np.median(same) < 200
    moved = drift.mmd_test(rng.normal(size=(60, 8)), rng.normal(size=(40, 8)) + 1.0)
    assert moved[2] == drift.MAX_PERMUTATIONS and moved[1] == 1 / (drift.MAX_PERMUTATIONS + 1)


def test_domain_classifier_auc_separates_only_what_differs() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=16), rng.normal(size=16)
    same = drift.domain_auc(_topic(rng, a, 120), _topic(rng, a, 60))
    apart = drift.domain_auc(_topic(rng, a, 120), _topic(rng, b, 60))
    assert 0.3 < same < 0.65 and apart > 0.95


def test_rates_merge_rare_categories_and_skip_a_single_one() -> None:
    result = drift.rate_test("routes", ["fast"] * 90 + ["pro"] * 2,
                             ["fast"] * 50 + ["thinking"] * 40 + ["pro"] * 1, 0.01)
    assert result.fired and set(result.detail["shares"]) == {"fast", "thinking", "other"}
    one = drift.rate_test("decisions", ["allow"] * 50, ["allow"] * 30, 0.01)
    assert not one.fired and one.p_value == 1.0 and "skipped" in one.detail
    steady = drift.rate_test("decisions", ["allow"] * 80 + ["refuse"] * 20,
                             ["allow"] * 41 + ["refuse"] * 9, 0.01)
    assert not steady.fired and steady.p_value > 0.1


def test_a_check_fires_on_a_topic_shift_and_names_the_cluster_that_grew() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=24), rng.normal(size=24)
    ref = drift.Window(_topic(rng, a, 200), ["allow"] * 200, ["fast"] * 200,
                       [f"about a {i}" for i in range(200)])
    mixed = np.vstack([_topic(rng, a, 30), _topic(rng, b, 70)])
    cur = drift.Window(mixed, ["allow"] * 100, ["fast"] * 100,
                       [f"about a {i}" for i in range(30)] + [f"about b {i}" for i in range(70)])
    report = drift.check(ref, cur, alpha=0.002)
    embed = report.tests[0]
    assert report.fired and embed.name == "embeddings" and embed.fired
    assert embed.detail["auc"] >= 0.55
    # k-means may split the new topic; the clusters that grew are it, and nothing else.
    assert sum(c.current_share for c in report.grown) > 0.5
    assert all(c.reference_share < 0.05 for c in report.grown)
    examples = [e for c in report.grown for e in c.examples]
    assert examples and all(e.startswith("about b") for e in examples)
    unchanged = drift.Window(_topic(rng, a, 100), ["allow"] * 100, ["fast"] * 100)
    quiet = drift.check(ref, unchanged, alpha=0.002)
    assert not quiet.fired and not quiet.grown
    assert quiet.as_dict()["tests"][0]["permutations"] < drift.MAX_PERMUTATIONS


def test_a_significant_but_tiny_difference_is_held_back_by_the_classifier() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 2))
    y = rng.normal(size=(400, 2))
    y[:, 0] += 0.3  # found by MMD at this size, but a classifier barely tells them apart
    ref = drift.Window(x, ["allow"] * 400, ["fast"] * 400)
    cur = drift.Window(y, ["allow"] * 400, ["fast"] * 400)
    gated = drift.check(ref, cur, alpha=0.01, min_auc=0.65)
    embed = gated.tests[0]
    assert embed.p_value < 0.005 and embed.detail["auc"] < 0.65 and not gated.fired
    assert drift.check(ref, cur, alpha=0.01, min_auc=0.0).fired


def test_bad_parameters_are_refused() -> None:
    w = drift.Window(np.zeros((3, 2)), ["allow"] * 3, ["fast"] * 3)
    with pytest.raises(ValueError, match="alpha"):
        drift.check(w, w, alpha=0.0)
    with pytest.raises(ValueError, match="two rows"):
        drift.mmd_test(np.zeros((1, 2)), np.zeros((3, 2)))
    few = drift.Window(np.zeros((1, 2)), ["allow"], ["fast"])
    assert "skipped" in drift.check(few, w, alpha=0.01).tests[0].detail
