"""The trainer on a small task it must learn, the artifact it yields, and the scorer that
runs it (PyTorch and ONNX agreeing)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from charter.core.errors import InvalidInputError
from charter.judgement.artifact import Artifact, ArtifactMismatchError, Meta
from charter.judgement.encoder import Tokenizer, base_id
from charter.judgement.runtime import Scorer
from charter.judgement.train import TrainConfig, fit, predict

pytestmark = pytest.mark.slow

FRUIT = ["apple", "pear", "plum", "cherry", "mango", "grape", "lemon", "peach"]
TOOLS = ["hammer", "wrench", "drill", "saw", "chisel", "pliers", "shovel", "rake"]


def _rows(seed: int, n: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        fruit = rng.random() < 0.5
        word = rng.choice(FRUIT if fruit else TOOLS)
        rows.append((f"I bought a {word} at the market today.", int(fruit)))
    return rows


def _collate(batch: list[tuple[str, int]]) -> dict[str, torch.Tensor]:
    enc = Tokenizer(max_length=32).encode([t for t, _ in batch])
    return {**enc, "labels": torch.tensor([y for _, y in batch], dtype=torch.float32)}


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {"accuracy": float(np.mean((logits.reshape(-1) > 0) == (labels.reshape(-1) > 0.5)))}


@pytest.fixture(scope="module")
def trained():  # noqa: ANN201
    report = fit("sequence", 1, _rows(1, 160), _rows(2, 48), _collate, _accuracy, "accuracy",
                 TrainConfig(freeze=5, depth=6, epochs=3, learning_rate=3e-4, batch_size=16,
                             patience=2), progress=False)
    meta = Meta("toy", "sequence", ["fruit"], 5, 6, 32, base_id(), 384,
                threshold={"fruit": 0.5}, metrics={"validation": report.best},
                training=report.training())
    return report, Artifact.of(report.model, meta, "# toy card")


def test_the_trainer_learns_and_keeps_its_best_epoch(trained) -> None:  # noqa: ANN001
    report, _ = trained
    assert report.best["accuracy"] >= 0.9
    assert report.best["accuracy"] == max(h["accuracy"] for h in report.history)
    held_out = _rows(3, 40)
    logits = predict(report.model, held_out, _collate)
    assert _accuracy(logits, np.array([y for _, y in held_out]))["accuracy"] >= 0.9
    assert report.seconds > 0 and report.peak_rss_mb > 100


def test_only_the_trained_layers_and_head_are_stored(trained) -> None:  # noqa: ANN001
    _, artifact = trained
    assert {k.split(".")[0] for k in artifact.state} == {"layers", "head"}
    assert all(v.dtype == torch.float16 for v in artifact.state.values())
    assert len(artifact.to_bytes()) < 4_000_000  # one layer and a head, half precision
    again = Artifact.from_bytes(artifact.to_bytes())
    assert again.meta == artifact.meta and again.card == "# toy card"
    assert again.sha256 == artifact.sha256


def test_an_artifact_from_another_base_is_refused(trained) -> None:  # noqa: ANN001
    _, artifact = trained
    other = Artifact(Meta(**{**artifact.meta.__dict__, "base": "other-encoder:123"}),
                     artifact.state)
    with pytest.raises(ArtifactMismatchError, match="retrain it"):
        other.model()
    with pytest.raises(InvalidInputError, match="not a Charter judgement artifact"):
        Artifact.from_bytes(b"not safetensors at all")


def test_onnx_and_pytorch_score_alike(trained, tmp_path: Path) -> None:  # noqa: ANN001
    _, artifact = trained
    texts = ["I bought a plum at the market today.", "I bought a saw at the market today."]
    torch_scorer = Scorer(artifact)
    onnx_scorer = Scorer(artifact, tmp_path)
    assert torch_scorer.backend == "torch" and onnx_scorer.backend == "onnx"
    a, b = torch_scorer.probabilities(texts), onnx_scorer.probabilities(texts)
    assert np.max(np.abs(a - b)) < 0.05
    assert a[0, 0] > 0.5 > a[1, 0]
    assert list(tmp_path.glob("judgement-toy-*.onnx"))


def test_without_a_selection_metric_every_epoch_runs_and_the_last_is_kept() -> None:
    # patience 0 would stop after one epoch with early stopping on; select=None runs all.
    report = fit("sequence", 1, _rows(4, 64), _rows(5, 16), _collate, _accuracy, None,
                 TrainConfig(freeze=6, depth=6, epochs=3, learning_rate=1e-3, batch_size=16,
                             patience=0), progress=False)
    assert [round(h["epoch"]) for h in report.history] == [1, 2, 3]
    assert report.best == report.history[-1]
    assert "loss" in report.best
