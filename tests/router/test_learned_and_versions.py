"""The learned router: fitting, calibration, storage, versions with rollback, and feedback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from charter.core.errors import ConflictError, InvalidInputError, NotFoundError
from charter.router.learned import RouterModel, Sample, fit, threshold_for_share
from charter.router.versions import RouterRepository
from charter.runtime import Runtime
from tests.knowledge.helpers import HashEmbedder

MATHS = ["Solve the integral of x squared times sine x", "Prove the theorem about prime gaps",
         "Compute the eigenvalues of this matrix", "Derive the probability of two sixes",
         "Calculate the derivative of a product", "Solve this equation for the unknown"]
CHAT = ["Suggest a name for my cat", "What is a nice greeting for a card",
        "Recommend a film for tonight", "Say hello in French",
        "Give me a synonym for happy", "What colour goes with navy"]


def samples(n: int = 10) -> list[Sample]:
    out = []
    for i in range(n):
        out += [Sample(f"{t} {i}", True) for t in MATHS]
        out += [Sample(f"{t} {i}", False) for t in CHAT]
    return out


def fitted(emb: HashEmbedder, data: list[Sample]) -> RouterModel:
    vectors = np.asarray(emb.embed([s.text for s in data]), dtype=np.float32)
    return fit(vectors, data, embedder=emb.model_id)


def score(model: RouterModel, emb: HashEmbedder, text: str) -> float:
    return model.score(emb.embed([text])[0], text)


def test_fit_separates_the_classes_and_survives_storage() -> None:
    emb = HashEmbedder()
    model = fitted(emb, samples())
    assert score(model, emb, "Solve the integral of x cubed") > score(model, emb, "Suggest a name for my dog")
    again = RouterModel.from_stored(model.to_bytes(), model.meta_json())
    text = "Compute the eigenvalues quickly"
    assert score(again, emb, text) == pytest.approx(score(model, emb, text))
    assert again.threshold == model.threshold and again.embedder == "hash-64"


def test_threshold_follows_the_requested_share() -> None:
    scores = np.linspace(0, 1, 101)
    t = threshold_for_share(scores, 0.3)
    assert np.mean(scores >= t) == pytest.approx(0.3, abs=0.02)
    assert threshold_for_share(scores, 0.0) == float("inf")
    with pytest.raises(InvalidInputError, match="between 0 and 1"):
        threshold_for_share(scores, 1.5)


def test_one_class_or_too_few_samples_are_refused() -> None:
    emb = HashEmbedder()
    with pytest.raises(InvalidInputError, match="both outcomes"):
        fitted(emb, [Sample(t, True) for t in MATHS * 5])


def test_a_router_from_another_embedder_is_refused() -> None:
    model = fitted(HashEmbedder(), samples())
    with pytest.raises(InvalidInputError, match="retrain"):
        model.score([0.1] * 32, "hello")


def test_versions_activate_and_roll_back_as_a_stack(runtime: Runtime) -> None:
    repo = RouterRepository(runtime.db)
    assert repo.active() is None
    emb = HashEmbedder()
    model = fitted(emb, samples(3))
    v1 = repo.save(model, author="a")
    v2 = repo.save(model, author="a")
    v3 = repo.save(model, author="a", activate=False)
    assert repo.active_version() == v2
    repo.activate(v3, actor="b")
    assert repo.active_version() == v3
    assert repo.rollback(actor="b") == v2
    assert repo.rollback(actor="b") == v1  # walks back, does not toggle
    with pytest.raises(ConflictError, match="no earlier version"):
        repo.rollback(actor="b")
    with pytest.raises(NotFoundError, match="no router version 9"):
        repo.activate(9, actor="b")
    assert repo.active() is not None and repo.active()[0] == v1


PREFIXES = ["", "Quick question: ", "Hi, ", "Please tell me: ", "I wonder: ", "Help me out: ",
            "Hey there, ", "Question for you: ", "Could you say: ", "Tell me please: ",
            "Something I need: ", "One more thing: "]
COOKING = ["How long should I braise beef shin", "What temperature to roast a chicken",
           "How do I temper chocolate for a glaze", "Why does my bread dough not rise",
           "How much salt goes in a brine", "How to fold egg whites into batter"]


@pytest.mark.integration
def test_retraining_on_feedback_moves_decisions_towards_it(runtime: Runtime, tmp_path: Path) -> None:
    """Synthetic feedback: users down-vote quick answers to cooking questions, which the
    outcome data called easy. Retrained with that feedback (real MiniLM embeddings), the
    router scores cooking questions higher and sends them to the deeper path, while
    small talk stays on the quick path."""
    from charter.router.feedback import FeedbackRepository
    from charter.router.log import RouteLog
    from charter.core.routes import RouteDecision
    from charter.router.train import train

    rows = ["prompt,weak,strong\n"]
    for p in PREFIXES:
        rows += [f'"{p}{t}",False,True\n' for t in MATHS]
        rows += [f'"{p}{t}",True,True\n' for t in CHAT + COOKING]
    data = tmp_path / "outcomes.csv"
    data.write_text("".join(rows))
    emb = runtime.embedder()
    before = train(emb, data=data, deep_share=0.5).model

    log, feedback = RouteLog(runtime.db), FeedbackRepository(runtime.db)
    for i, (p, question) in enumerate((p, q) for p in PREFIXES[:10] for q in COOKING):
        rid = f"req_cook{i}"
        log.record(rid, "u1", f"h{i}", p + question, "auto", RouteDecision("fast", "router"))
        feedback.record(rid, "u1", "vote", "down")
    after = train(emb, data=data, feedback=feedback.samples(weight=3.0), deep_share=0.5).model

    def scores(model: RouterModel, texts: list[str]) -> np.ndarray:
        return np.array([model.score(emb.embed([t])[0], t) for t in texts])

    # Fresh phrasings, seen neither in the outcome rows nor in the feedback.
    scores_before = scores(before, [f"Hello! {t}" for t in COOKING])
    scores_after = scores(after, [f"Hello! {t}" for t in COOKING])
    chat_before = scores(before, [f"Hello! {t}" for t in CHAT])
    chat_after = scores(after, [f"Hello! {t}" for t in CHAT])
    assert np.all(scores_after > scores_before)
    # At the operating threshold in force before retraining, cooking questions now go to
    # the deeper path, and they rank above small talk, which did not get the feedback.
    t = before.threshold
    assert int(np.sum(scores_after >= t)) > int(np.sum(scores_before >= t))
    assert int(np.sum(scores_after >= t)) >= 4
    assert chat_after.max() < scores_after.min()
    assert chat_before.max() < 0.5 and chat_after.max() < 0.5
