"""The answerability task's data: split by article, pairs labelled from the answer span,
made-up impossible questions, and the threshold chosen for balance on validation."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from charter.core.errors import InvalidInputError
from charter.judgement.tasks import answerability as A

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "answerability"

PARAGRAPH = ("The Treaty of Lorwick was signed in 1852 by Queen Amelia. "
             "It ended a war that had lasted nine years. "
             "The city of Harlow hosted the ceremony.")


def _squad(tmp_path: Path, titles: list[str]) -> Path:
    start = PARAGRAPH.index("1852")
    data = {"data": [{"title": t, "paragraphs": [{"context": PARAGRAPH, "qas": [
        {"id": f"{t}-1", "question": "When was the Treaty of Lorwick signed?",
         "answers": [{"text": "1852", "answer_start": start}], "is_impossible": False},
        {"id": f"{t}-2", "question": "Who broke the Treaty of Lorwick?", "answers": [],
         "is_impossible": True},
    ]}]} for t in titles]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    return path


def test_pairs_are_labelled_from_the_answer_span(tmp_path: Path) -> None:
    articles = A.load_squad(_squad(tmp_path, ["One", "Two"]))
    pairs = A.pairs_for(articles, swapped=False)
    positives = [p for p in pairs if p.label == 1]
    assert {p.question_id for p in positives} == {"One-1", "Two-1"}
    assert all("1852" in p.sentence for p in positives)
    # Every sentence paired with the impossible question is a negative.
    assert all(p.label == 0 for p in pairs if p.question_id.endswith("-2"))
    assert {p.question_id for p in pairs if p.question_id.endswith("-2")} == {"One-2", "Two-2"}


def test_a_swapped_name_or_number_makes_an_impossible_question() -> None:
    sentence = "The Treaty of Lorwick was signed in 1852 by Queen Amelia."
    rng = random.Random(1)
    changed = A.perturbed("When did Queen Amelia sign the Treaty of Lorwick?", sentence,
                          ["Harlow", "1852", "Queen Amelia"], rng)
    assert changed is not None and changed != "When did Queen Amelia sign the Treaty of Lorwick?"
    assert "Harlow" in changed  # the only name of the article the sentence does not hold
    number = A.perturbed("What happened in 1852?", sentence, ["1790", "Harlow"], rng)
    assert number == "What happened in 1790?"  # numbers swap only for numbers
    assert A.perturbed("What happened then?", sentence, ["Harlow"], rng) is None


def test_swapped_questions_join_the_negatives(tmp_path: Path) -> None:
    articles = A.load_squad(_squad(tmp_path, ["One"]))
    plain = A.pairs_for(articles, swapped=False)
    with_swaps = A.pairs_for(articles, swapped=True)
    made_up = [p for p in with_swaps if p.question_id.endswith("~")]
    assert len(with_swaps) == len(plain) + len(made_up) and made_up
    assert all(p.label == 0 and "1852" in p.sentence for p in made_up)


def test_the_split_is_by_article_and_needs_the_held_out_ones(tmp_path: Path) -> None:
    titles = ["Other", *A.VALIDATION, *A.TEST]
    train, validation, test = A.split(A.load_squad(_squad(tmp_path, titles)))
    assert [a.title for a in train] == ["Other"]
    assert [a.title for a in validation] == list(A.VALIDATION)
    assert sorted(a.title for a in test) == sorted(A.TEST)
    with pytest.raises(InvalidInputError, match="held-out articles"):
        A.split(A.load_squad(_squad(tmp_path, ["Other"])))
    with pytest.raises(InvalidInputError, match="no SQuAD file"):
        A.load_squad(tmp_path / "missing")


class _Ranked:
    """An answerer whose best candidate and probability per question are given."""

    def __init__(self, best: dict[str, tuple[int, float]]) -> None:
        self.best = best

    def ranked(self, scorer, request):  # noqa: ANN001, ANN201
        n, p = self.best[request.question]
        return [("a sentence", n, p)]


def test_the_threshold_balances_answering_and_abstaining() -> None:
    answerable = [A.Question(f"a{i}", f"answerable {i}", "T", 0, 0) for i in range(4)]
    impossible = [A.Question(f"i{i}", f"impossible {i}", "T", 0, None) for i in range(4)]
    # Answerable questions score 0.6-0.9 on the right passage; impossible ones 0.3-0.5.
    best = {q.text: (1, p) for q, p in zip(answerable, [0.6, 0.7, 0.8, 0.9], strict=True)}
    best |= {q.text: (1, p) for q, p in zip(impossible, [0.3, 0.4, 0.45, 0.5], strict=True)}
    cases = [(q, [], 1) for q in answerable + impossible]
    threshold, balanced = A.choose_threshold(_Ranked(best), None, cases)
    assert 0.5 < threshold <= 0.6 and balanced == 1.0
    # A wrong citation never counts as answered, whatever the probability.
    wrong = {k: ((2, v[1]) if k.startswith("answerable") else v) for k, v in best.items()}
    _, worse = A.choose_threshold(_Ranked(wrong), None, cases)
    assert worse <= 0.5


def test_the_metric_ranks_answers_above_the_rest() -> None:
    logits = np.array([[3.0], [-2.0], [1.0], [-1.0]])
    labels = np.array([[1.0], [0.0], [1.0], [0.0]])
    out = A.metric(logits, labels)
    assert out["ap"] == pytest.approx(1.0) and out["auc"] == pytest.approx(1.0)
    flipped = A.metric(-logits, labels)
    assert flipped["auc"] == pytest.approx(0.0)


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data/answerability")
def test_the_shared_data_holds_the_held_out_articles() -> None:
    train, validation, test = A.split(A.load_squad(SHARED))
    held = {a.title for a in validation + test}
    assert held.isdisjoint(a.title for a in train)
    assert any(q.answer_start is None for a in validation for q in a.questions)
