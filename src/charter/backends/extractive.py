"""A grounded composer: answers only with sentences taken from the given passages.

Every sentence of an answer is copied from a passage and carries that passage's
citation ``[n]``; it never writes a sentence of its own invention. Which sentences answer
is decided by the answerability model (``charter finetune answerability``: a
cross-encoder that reads the question and each candidate sentence with its document's
title and heading): the passages' sentences are ranked by weighted word overlap with the
question, the best ``candidates`` of them are scored by the model, and those above its
threshold (chosen on held-out articles) answer. When none is, the answer is a plain
statement that no source answers the question.

``answerability: overlap`` (or no model installed) decides by word overlap alone, as
before the model: the chosen sentences must cover enough of the question's terms and
every number and name in it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from charter.core.chat import ChatRequest, Completion, StreamChunk, Usage, approx_tokens
from charter.core.aliases import AliasConfig
from charter.backends.base import BackendOptions
from charter.core.config import Settings
from charter.core.text import content_terms, key_terms, split_sentences, stem, words

if TYPE_CHECKING:
    from charter.judgement.runtime import Scorer

ANSWERABILITY = "answerability"


def context_text(sentence: str, where: str = "") -> str:
    """What the answerability model reads for a candidate: the sentence, then where it
    stands (its document's title and heading). Training builds its pairs the same way."""
    return f"{sentence} [SEP] {where}" if where else sentence

NO_SOURCES = "I have no sources to answer this from."
# Words that frame a question rather than name its subject; a source need not contain them.
FRAMING = frozenset(stem(w) for w in """policy policies rule rules allowed allow need needs
    required require requirement company employee employees staff someone anyone able okay
    happen happens use used using do does done make made must ok get gets take taken
    possible permitted anything something way ways kind type advance time times amount
    long much many far soon often late early number rate included include includes covered
    daily short minimum maximum limit exactly""".split())
NOT_FOUND = "The available sources do not answer this question."


class ExtractiveOptions(BackendOptions):
    max_sentences: int = 3
    min_coverage: float = 0.5
    min_sentence_score: float = 0.25
    # "model": the answerability model decides; "overlap": word overlap alone.
    answerability: Literal["model", "overlap"] = "model"
    candidates: int = Field(6, ge=1, le=64)  # sentences the model scores per question
    # The model's threshold (None: the one chosen on validation data).
    min_probability: float | None = Field(None, ge=0.0, le=1.0)
    # A further sentence joins the best one only when this close to its probability.
    margin: float = Field(0.15, ge=0.0, le=1.0)


@dataclass(frozen=True)
class _Candidate:
    n: int
    text: str
    terms: frozenset[str]
    score: float
    order: int


class ExtractiveChat:
    """Chat model that composes answers from the passages' own sentences."""

    backend_name: ClassVar[str] = "extractive"
    Options: ClassVar[type[BackendOptions]] = ExtractiveOptions
    generates_in_process: ClassVar[bool] = False  # it selects sentences: nothing to stop

    def __init__(self, options: ExtractiveOptions | None = None,
                 scorer: Callable[[], Scorer | None] | None = None) -> None:
        self.options = options or ExtractiveOptions()
        self._scorer_factory = scorer

    @classmethod
    def from_alias(cls, alias: AliasConfig, settings: Settings) -> ExtractiveChat:
        options = ExtractiveOptions.model_validate(alias.options)
        if options.answerability == "overlap":
            return cls(options)
        from charter.judgement import serving

        return cls(options, lambda: serving.scorer(ANSWERABILITY, settings))

    @property
    def context_window(self) -> int | None:
        return self.options.context_window

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    @property
    def model_id(self) -> str:
        scorer = self._scorer()
        return f"extractive+{scorer.id}" if scorer is not None else "extractive"

    def _scorer(self) -> Scorer | None:
        return self._scorer_factory() if self._scorer_factory is not None else None

    def _candidates(self, request: ChatRequest) -> tuple[
            list[_Candidate], dict[int, set[str]], list[str], dict[str, float]]:
        """Every sentence of the passages, scored by weighted overlap with the question
        and ranked best first; with each passage's terms, the question's terms and their
        weights."""
        question = request.question
        q_terms = content_terms(question)
        raw: list[tuple[int, str, frozenset[str]]] = []
        passage_terms: dict[int, set[str]] = {}
        for p in request.passages:
            passage_terms[p.n] = set(content_terms(p.text)) | set(content_terms(p.document))
            for sentence in split_sentences(p.text):
                if sentence.rstrip().endswith("?") or len(sentence) < 20:
                    continue  # questions and fragments do not answer anything
                raw.append((p.n, sentence, frozenset(content_terms(sentence))))
        if not raw or not q_terms:
            return [], passage_terms, q_terms, {}
        # Rarer terms among the candidate sentences count for more.
        total = len(raw)
        weight = {
            t: math.log(1 + total / (1 + sum(t in c[2] for c in raw))) + 0.1
            for t in q_terms
        }
        q_weight = sum(weight.values())
        scored = [
            _Candidate(n, text, terms, sum(weight[t] for t in q_terms if t in terms) / q_weight, i)
            for i, (n, text, terms) in enumerate(raw)
        ]
        scored.sort(key=lambda c: (-c.score, c.order))
        return scored, passage_terms, q_terms, weight

    def compose(self, request: ChatRequest) -> list[tuple[str, int]]:
        """The chosen (sentence, passage number) pairs; empty when nothing answers."""
        if not request.passages:
            return []
        scorer = self._scorer()
        if scorer is not None:
            return self._compose_with(scorer, request)
        return self._compose_overlap(request)

    def ranked(self, scorer: Scorer, request: ChatRequest) -> list[tuple[str, int, float]]:
        """The model's candidates, best first: (sentence, passage number, probability)."""
        ranked = self._candidates(request)[0]
        if not ranked:  # a question of stop words only: fall back to every sentence
            ranked = [_Candidate(p.n, s, frozenset(), 0.0, i) for i, (p, s) in enumerate(
                (p, s) for p in request.passages for s in split_sentences(p.text)
                if len(s) >= 20 and not s.rstrip().endswith("?"))]
        pool = ranked[:self.options.candidates]
        if not pool:
            return []
        where = {p.n: " > ".join(x for x in (p.document, p.heading) if x)
                 for p in request.passages}
        probs = scorer.probabilities([request.question] * len(pool),
                                     [context_text(c.text, where.get(c.n, "")) for c in pool])
        probs = probs.reshape(len(pool), -1)[:, 0]
        order = sorted(range(len(pool)), key=lambda i: (-probs[i], pool[i].order))
        return [(pool[i].text, pool[i].n, float(probs[i])) for i in order]

    def _compose_with(self, scorer: Scorer, request: ChatRequest) -> list[tuple[str, int]]:
        ranked = self.ranked(scorer, request)
        limit = self.options.min_probability
        limit = scorer.threshold() if limit is None else limit
        if not ranked or ranked[0][2] < limit:
            return []
        floor = max(limit, ranked[0][2] - self.options.margin)
        chosen = [(text, n) for text, n, prob in ranked if prob >= floor]
        return chosen[:self.options.max_sentences]

    def _compose_overlap(self, request: ChatRequest) -> list[tuple[str, int]]:
        question = request.question
        scored, passage_terms, q_terms, weight = self._candidates(request)
        if not scored:
            return []
        q_weight = sum(weight.values())
        scored = [c for c in scored if c.score >= self.options.min_sentence_score]
        chosen: list[_Candidate] = []
        covered: set[str] = set()
        for cand in scored:
            if len(chosen) >= self.options.max_sentences:
                break
            if chosen and not (cand.terms & set(q_terms)) - covered and cand.score < chosen[0].score:
                continue  # adds nothing the answer does not already say
            chosen.append(cand)
            covered |= cand.terms & set(q_terms)
        coverage = sum(weight[t] for t in covered) / q_weight if chosen else 0.0
        if coverage < self.options.min_coverage or not self._keys_covered(question, chosen):
            return []
        # Every subject word of the question must appear in a passage the answer quotes:
        # a question about something those passages never mention is not answered by them.
        quoted = set().union(*(passage_terms[c.n] for c in chosen))
        if any(t not in quoted and t not in FRAMING for t in q_terms):
            return []
        return [(c.text, c.n) for c in chosen]

    @staticmethod
    def _keys_covered(question: str, chosen: list[_Candidate]) -> bool:
        text = " ".join(c.text for c in chosen)
        tokens = {w.lower() for w in words(text)}
        stems = {stem(w) for w in tokens}
        for key in key_terms(question):
            if key not in tokens and stem(key) not in stems:
                return False
        return True

    def _answer(self, request: ChatRequest) -> list[str]:
        picked = self.compose(request)
        if not picked:
            return [NO_SOURCES if not request.passages else NOT_FOUND]
        return [f"{sentence} [{n}]" for sentence, n in picked]

    def _usage(self, request: ChatRequest, text: str) -> Usage:
        prompt = approx_tokens(request.question) + sum(approx_tokens(p.text) for p in request.passages)
        return Usage(prompt, approx_tokens(text))

    def complete(self, request: ChatRequest) -> Completion:
        text = " ".join(self._answer(request))
        return Completion(text=text, usage=self._usage(request, text), model=self.model_id)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        parts = self._answer(request)
        for i, part in enumerate(parts):
            yield StreamChunk(text=part if i == 0 else " " + part)
        yield StreamChunk(usage=self._usage(request, " ".join(parts)), finish_reason="stop")
