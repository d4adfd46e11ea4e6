"""Answerability: does this sentence, in its passage, answer this question?

Trained on the SQuAD 2.0 subset in ``../shared/data/answerability`` (Wikipedia articles,
questions with answer spans, some marked impossible). Pairs are (question, sentence with
its context): the sentence holding the answer is positive; the other sentences of its
paragraph, every sentence of a paragraph for an impossible question, and sentences of
other paragraphs are negative. The split is by article, never by question: training,
validation (early stopping, the threshold) and test (the figures reported) are different
articles.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from charter.backends.extractive import context_text
from charter.core.errors import InvalidInputError
from charter.core.text import split_sentences
from charter.judgement.encoder import Tokenizer

TASK = "answerability"
LABELS = ["answers"]
MAX_LENGTH = 80
# Articles held out: validation tunes early stopping and the threshold (it has impossible
# questions, so the threshold weighs abstaining too), test is reported.
VALIDATION = ("The_Legend_of_Zelda:_Twilight_Princess",)
TEST = ("Spectre_(2015_film)", "Solar_energy")


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str  # the sentence with its context, as the model reads it
    label: int
    article: str = ""
    question_id: str = ""


def sentences_with_offsets(context: str) -> list[tuple[int, int, str]]:
    """(start, end, sentence) in ``context``, as the answerer splits sentences."""
    out = []
    cursor = 0
    for sentence in split_sentences(context):
        head = sentence.split()[0] if sentence.split() else sentence
        start = context.find(head, cursor)
        if start < 0:
            start = cursor
        # The sentence's words in order from ``start``: its end is after its last word.
        end = start
        for word in sentence.split():
            found = context.find(word, end)
            if found < 0:
                break
            end = found + len(word)
        out.append((start, end, sentence))
        cursor = end
    return out


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    article: str
    paragraph: int  # index of its paragraph within the article
    answer_start: int | None  # None: impossible


@dataclass(frozen=True)
class Article:
    title: str
    paragraphs: list[list[tuple[int, int, str]]]  # sentences of each paragraph
    contexts: list[str]
    questions: list[Question]


def load_squad(path: Path) -> list[Article]:
    file = path / "squad2_train_subset.json" if path.is_dir() else path
    if not file.is_file():
        raise InvalidInputError(f"no SQuAD file at {file}; give the folder "
                                "../shared/data/answerability or the JSON file")
    data = json.loads(file.read_text())
    articles = []
    for art in data["data"]:
        paragraphs, contexts, questions = [], [], []
        for i, para in enumerate(art["paragraphs"]):
            contexts.append(para["context"])
            paragraphs.append(sentences_with_offsets(para["context"]))
            for qa in para["qas"]:
                start = None if qa.get("is_impossible") else qa["answers"][0]["answer_start"]
                questions.append(Question(qa["id"], qa["question"], art["title"], i, start))
        articles.append(Article(art["title"], paragraphs, contexts, questions))
    return articles


def _title(article: str) -> str:
    return article.replace("_", " ")


def answer_sentence(article: Article, q: Question) -> int | None:
    """Index of the sentence of its paragraph that holds the answer's start."""
    if q.answer_start is None:
        return None
    for i, (start, end, _) in enumerate(article.paragraphs[q.paragraph]):
        if start <= q.answer_start < max(end, start + 1):
            return i
    return None


_NAME = re.compile(r"\b(?:[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*|\d[\d,.]*\d|\d)\b")
# A name inside a sentence (after a lower-case word or a comma), not a sentence's first word.
_INNER_NAME = re.compile(r"(?<=[a-z,;] )(?:[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)\b|\b\d[\d,.]*\d\b")


def _swappable(question: str, sentence: str) -> list[str]:
    """Names and numbers of the question (past its first word) that its answer sentence
    also states: changing one makes a question that sentence no longer answers."""
    first = question.split()[0] if question.split() else ""
    return [m for m in dict.fromkeys(_NAME.findall(question))
            if m != first and m in sentence and len(m) > 1]


def perturbed(question: str, sentence: str, others: Sequence[str],
              rng: random.Random) -> str | None:
    """The question with one of its names or numbers replaced by another of the same kind
    (from ``others``, the article's other names and numbers): unanswerable by
    ``sentence``, as SQuAD 2.0's impossible questions are by their paragraph."""
    terms = _swappable(question, sentence)
    if not terms:
        return None
    term = rng.choice(terms)
    numeric = term[0].isdigit()
    pool = [o for o in others if o[0].isdigit() == numeric and o not in sentence and o != term]
    if not pool:
        return None
    return question.replace(term, rng.choice(pool), 1)


def pairs_for(articles: Sequence[Article], *, seed: int = 13, same_paragraph: int = 3,
              other_paragraphs: int = 1, other_articles: int = 1,
              swapped: bool = True) -> list[Pair]:
    """Training pairs: each answerable question's answer sentence (positive), up to
    ``same_paragraph`` other sentences of its paragraph, ``other_paragraphs`` sentences of
    other paragraphs of its article and ``other_articles`` of other articles (negatives);
    an impossible question's own paragraph gives only negatives; with ``swapped``, the
    question with one name or number changed, paired with the answer sentence, is a
    negative too (``perturbed``)."""
    rng = random.Random(seed)
    pool = [(a, p, s) for a in articles for p in range(len(a.paragraphs))
            for s in range(len(a.paragraphs[p]))]
    out: list[Pair] = []
    names_of: dict[str, list[str]] = {}

    def pair(q: Question, a: Article, p: int, s: int, label: int) -> Pair:
        return Pair(q.text, context_text(a.paragraphs[p][s][2], _title(a.title)), label,
                    q.article, q.id)

    for a in articles:
        for q in a.questions:
            sents = a.paragraphs[q.paragraph]
            gold = answer_sentence(a, q)
            if q.answer_start is not None and gold is None:
                continue  # the answer straddles the sentence split: no clean label
            if gold is not None:
                out.append(pair(q, a, q.paragraph, gold, 1))
                if swapped:
                    names = names_of.setdefault(a.title, sorted({
                        m for c in a.contexts for m in _INNER_NAME.findall(c) if len(m) > 1}))
                    changed = perturbed(q.text, sents[gold][2], names, rng)
                    if changed is not None:
                        out.append(pair(Question(q.id + "~", changed, q.article, q.paragraph,
                                                 None), a, q.paragraph, gold, 0))
            others = [i for i in range(len(sents)) if i != gold]
            for s in rng.sample(others, min(same_paragraph, len(others))):
                out.append(pair(q, a, q.paragraph, s, 0))
            elsewhere = [i for i in range(len(a.paragraphs)) if i != q.paragraph]
            for p in rng.sample(elsewhere, min(other_paragraphs, len(elsewhere))):
                out.append(pair(q, a, p, rng.randrange(len(a.paragraphs[p])), 0))
            foreign = [x for x in pool if x[0].title != a.title]
            for fa, fp, fs in rng.sample(foreign, min(other_articles, len(foreign))):
                out.append(pair(q, fa, fp, fs, 0))
    rng.shuffle(out)
    return out


def split(articles: Sequence[Article]) -> tuple[list[Article], list[Article], list[Article]]:
    """(training, validation, test) articles by the rule in the module docstring."""
    names = {a.title for a in articles}
    missing = [n for n in (*VALIDATION, *TEST) if n not in names]
    if missing:
        raise InvalidInputError(f"the answerability data lacks the held-out articles "
                                f"{', '.join(missing)}")
    train = [a for a in articles if a.title not in VALIDATION + TEST]
    return (train, [a for a in articles if a.title in VALIDATION],
            [a for a in articles if a.title in TEST])


def collate_with(tokenizer: Tokenizer) -> Any:
    def collate(batch: list[Pair]) -> dict[str, torch.Tensor]:
        enc = tokenizer.encode([p.question for p in batch], [p.sentence for p in batch])
        return {**enc, "labels": torch.tensor([p.label for p in batch], dtype=torch.float32)}
    return collate


def metric(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Average precision and ROC AUC of the answer sentences among the candidates, and the
    best F1 over thresholds (with that threshold)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    scores = 1.0 / (1.0 + np.exp(-logits.reshape(-1)))
    y = labels.reshape(-1).astype(int)
    precision, recall, thresholds = precision_recall_curve(y, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    return {"ap": float(average_precision_score(y, scores)), "auc": float(roc_auc_score(y, scores)),
            "f1": float(f1[best]), "threshold": float(thresholds[best]) if len(thresholds) else 0.5}


# -- evaluation: the answerer as the spine uses it -------------------------------------

def evaluation_cases(articles: Sequence[Article], *, distractors: int = 2,
                     seed: int = 7) -> list[tuple[Question, list[Any], int]]:
    """For each question: passages as retrieval would hand them (its paragraph and
    ``distractors`` other paragraphs of the article, shuffled) and the gold passage's n."""
    from charter.core.chat import Passage

    rng = random.Random(seed)
    cases = []
    for a in articles:
        for q in a.questions:
            others = [i for i in range(len(a.contexts)) if i != q.paragraph]
            chosen = [q.paragraph, *rng.sample(others, min(distractors, len(others)))]
            rng.shuffle(chosen)
            passages = [Passage(n, a.contexts[p], _title(a.title), passage_id=f"{a.title}#{p}")
                        for n, p in enumerate(chosen, start=1)]
            cases.append((q, passages, chosen.index(q.paragraph) + 1))
    return cases


def choose_threshold(answerer: Any, scorer: Any,
                     cases: Sequence[tuple[Question, list[Any], int]]) -> tuple[float, float]:
    """The threshold that best balances answering (with the right citation) and
    abstaining on impossible questions on ``cases``, and that balanced score."""
    from charter.core.chat import ChatMessage, ChatRequest

    best_of = []
    for q, passages, gold in cases:
        ranked = answerer.ranked(scorer, ChatRequest([ChatMessage("user", q.text)], passages))
        top = ranked[0] if ranked else ("", 0, 0.0)
        best_of.append((q.answer_start is None, top[1] == gold, top[2]))
    impossible = sum(1 for x in best_of if x[0])
    answerable = len(best_of) - impossible
    grid = [round(0.05 * i, 2) for i in range(1, 20)]

    def score(t: float) -> float:
        cited = sum(1 for imp, right, p in best_of if not imp and right and p >= t)
        abstained = sum(1 for imp, _, p in best_of if imp and p < t)
        parts = [cited / max(answerable, 1)] + ([abstained / impossible] if impossible else [])
        return sum(parts) / len(parts)

    best = max(grid, key=score)
    return best, round(score(best), 4)


def evaluate(answerer: Any, cases: Sequence[tuple[Question, list[Any], int]]) -> dict[str, Any]:
    """``answerer`` is an ExtractiveChat. Answerable questions: answered with the right
    citation (the first sentence cites the paragraph holding the answer) and, stricter,
    with the answer's own sentence; impossible ones: abstained."""
    from charter.core.chat import ChatMessage, ChatRequest

    cited = exact = answerable = abstained = impossible = 0
    for q, passages, gold in cases:
        picked = answerer.compose(ChatRequest([ChatMessage("user", q.text)], passages))
        if q.answer_start is None:
            impossible += 1
            abstained += not picked
            continue
        answerable += 1
        if picked and picked[0][1] == gold:
            cited += 1
            spans = [(a, b) for a, b, sentence in sentences_with_offsets(passages[gold - 1].text)
                     if sentence == picked[0][0]]
            exact += any(a <= q.answer_start < max(b, a + 1) for a, b in spans)
    return {"answered_cited": round(cited / max(answerable, 1), 4),
            "answered_exact_sentence": round(exact / max(answerable, 1), 4),
            "abstained_impossible": round(abstained / max(impossible, 1), 4) if impossible else None,
            "answerable": answerable, "impossible": impossible}


# -- training: what `charter finetune answerability` runs -------------------------------

PURPOSE = ("Decides, for the extractive composer, whether a sentence of a retrieved passage "
           "answers the question: a cross-encoder reads the question and the sentence with "
           "its document's title and heading; sentences above the threshold answer, and "
           "when none is the composer abstains.")


def train(data: Path, config: Any, *, progress: bool = True) -> tuple[Any, dict[str, Any]]:
    """(artifact, summary): trained on the training articles, stopped and thresholded on
    the validation article, measured before and after on the test articles."""
    from charter.backends.extractive import ExtractiveChat, ExtractiveOptions
    from charter.judgement import card
    from charter.judgement.artifact import Artifact, Meta
    from charter.judgement.encoder import base_id
    from charter.judgement.runtime import Scorer
    from charter.judgement.train import fit

    articles = load_squad(data)
    train_articles, validation_articles, test_articles = split(articles)
    train_pairs, validation_pairs = pairs_for(train_articles), pairs_for(validation_articles)
    tokenizer = Tokenizer(max_length=MAX_LENGTH)
    report = fit("pair", 1, train_pairs, validation_pairs, collate_with(tokenizer), metric, "ap",
                 config, progress=progress)
    meta = Meta(TASK, "pair", LABELS, config.freeze, config.depth, MAX_LENGTH, base_id(), 384,
                threshold={LABELS[0]: 0.5},
                metrics={"validation": {k: round(v, 4) for k, v in report.best.items()
                                        if k in ("ap", "auc", "f1", "loss", "epoch")}},
                training={**report.training(), "train_pairs": len(train_pairs),
                          "validation_pairs": len(validation_pairs)})
    scorer = Scorer(Artifact.of(report.model, meta))
    composer = ExtractiveChat(ExtractiveOptions(), lambda: scorer)
    threshold, balanced = choose_threshold(composer, scorer, evaluation_cases(validation_articles))
    meta = Meta(**{**meta.__dict__, "threshold": {LABELS[0]: threshold},
                   "metrics": {"validation": {**meta.metrics["validation"],
                                              "balanced_at_threshold": balanced}}})
    scorer = Scorer(Artifact.of(report.model, meta))
    cases = evaluation_cases(test_articles)
    before = evaluate(ExtractiveChat(ExtractiveOptions(answerability="overlap")), cases)
    after = evaluate(ExtractiveChat(ExtractiveOptions(), lambda: scorer), cases)
    meta = meta.with_test(before, after)
    artifact = Artifact.of(report.model, meta)
    text = card.render(
        meta, purpose=PURPOSE,
        data=(f"SQuAD 2.0 subset (`../shared/data/answerability`, 10 Wikipedia articles, "
              f"{sum(len(a.questions) for a in articles)} questions, CC BY-SA 4.0). Pairs: "
              f"the answer's sentence (positive); 3 other sentences of its paragraph, 1 of "
              f"another paragraph and 1 of another article (negatives); every sentence of an "
              f"impossible question's paragraph is a negative, and so is the answer's sentence "
              f"for the question with one of its names or numbers swapped for another of the "
              f"article's (a made-up impossible question). {len(train_pairs)} training "
              f"pairs, {len(validation_pairs)} validation pairs."),
        split=(f"By article, never by question. Training: "
               f"{', '.join(a.title for a in train_articles)}. Validation (early stopping; "
               f"the threshold that best balances answering with the right citation and "
               f"abstaining on impossible questions): {', '.join(VALIDATION)}. Test (figures below): "
               f"{', '.join(TEST)}. Test protocol: each question with its paragraph and 2 other "
               f"paragraphs of its article, shuffled, as retrieval hands passages; answered "
               f"with the right citation = the first sentence cites the paragraph with the "
               f"answer; abstained = an impossible question got no answer."),
        before_method="the word-overlap rules of the extractive composer (`answerability: "
                      "overlap`)",
        size_bytes=len(artifact.to_bytes()))
    return Artifact(meta, artifact.state, text), {"validation": meta.metrics["validation"],
                                                   "test": meta.metrics["test"],
                                                   "training": meta.training}
