"""Dynamic micro-batching: every caller gets its own rows, batches form under load, a
model error reaches each caller of that batch and the batcher keeps serving."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from charter.backends.batching import MicroBatcher


def slow_model(calls: list[list[str]], fail_on: str | None = None):
    def run(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        time.sleep(0.01)  # long enough for other callers to queue up
        if fail_on is not None and fail_on in texts:
            raise RuntimeError("model failed")
        return np.array([[float(len(t)), float(hash(t) % 997)] for t in texts])

    return run


def test_concurrent_callers_get_their_own_rows_in_shared_runs() -> None:
    calls: list[list[str]] = []
    batcher = MicroBatcher(slow_model(calls), max_items=16)
    texts = [[f"question {i}"] if i % 3 else [f"q{i}a", f"q{i}bb"] for i in range(60)]
    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(batcher, texts))
    for asked, rows in zip(texts, results):
        expected = np.array([[float(len(t)), float(hash(t) % 997)] for t in asked])
        assert np.array_equal(rows, expected)
    assert sum(len(c) for c in calls) == sum(len(t) for t in texts)  # each text run once
    assert len(calls) < len(texts)  # runs were shared
    assert max(len(c) for c in calls) <= 16
    assert batcher.stats.largest > 1 and batcher.stats.jobs == len(texts)


def test_a_lone_caller_is_not_kept_waiting() -> None:
    calls: list[list[str]] = []
    batcher = MicroBatcher(slow_model(calls))
    for i in range(3):
        batcher([f"alone {i}"])
    assert calls == [["alone 0"], ["alone 1"], ["alone 2"]]


def test_a_model_error_reaches_the_callers_of_that_run_only() -> None:
    calls: list[list[str]] = []
    batcher = MicroBatcher(slow_model(calls, fail_on="poison"), max_items=64)
    gate = threading.Barrier(8)

    def call(text: str) -> str:
        gate.wait()
        try:
            batcher([text])
            return "ok"
        except RuntimeError:
            return "failed"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(call, ["poison"] + [f"fine {i}" for i in range(7)]))
    failed_runs = [c for c in calls if "poison" in c]
    assert len(failed_runs) == 1
    assert outcomes[0] == "failed"
    # exactly the callers that shared the poisoned run failed
    assert outcomes.count("failed") == len(failed_runs[0])
    assert np.array_equal(batcher(["after"]), np.array([[5.0, float(hash("after") % 997)]]))


def test_max_items_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MicroBatcher(lambda t: np.zeros((len(t), 1)), max_items=0)
