"""A grounded composer: answers only with sentences taken from the given passages.

Every sentence of an answer is copied from a passage and carries that passage's
citation ``[n]``. When the passages do not cover the question's terms, and every
number and name in it, the answer is a plain statement that no source answers it.
It never writes a sentence of its own invention.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from charter.core.chat import ChatRequest, Completion, StreamChunk, Usage, approx_tokens
from charter.core.aliases import AliasConfig
from charter.backends.base import BackendOptions
from charter.core.config import Settings
from charter.core.text import content_terms, key_terms, split_sentences, stem, words

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

    def __init__(self, options: ExtractiveOptions | None = None) -> None:
        self.options = options or ExtractiveOptions()

    @classmethod
    def from_alias(cls, alias: AliasConfig, settings: Settings) -> ExtractiveChat:
        return cls(ExtractiveOptions.model_validate(alias.options))

    @property
    def model_id(self) -> str:
        return "extractive"

    def compose(self, request: ChatRequest) -> list[tuple[str, int]]:
        """The chosen (sentence, passage number) pairs; empty when nothing answers."""
        question = request.question
        q_terms = content_terms(question)
        if not request.passages or not q_terms:
            return []
        candidates: list[tuple[int, str, frozenset[str]]] = []
        passage_terms: dict[int, set[str]] = {}
        for p in request.passages:
            passage_terms[p.n] = set(content_terms(p.text)) | set(content_terms(p.document))
            for sentence in split_sentences(p.text):
                if sentence.rstrip().endswith("?") or len(sentence) < 20:
                    continue  # questions and fragments do not answer anything
                candidates.append((p.n, sentence, frozenset(content_terms(sentence))))
        if not candidates:
            return []
        # Rarer terms among the candidate sentences count for more.
        total = len(candidates)
        weight = {
            t: math.log(1 + total / (1 + sum(t in c[2] for c in candidates))) + 0.1
            for t in q_terms
        }
        q_weight = sum(weight.values())
        scored = [
            _Candidate(n, text, terms, sum(weight[t] for t in q_terms if t in terms) / q_weight, i)
            for i, (n, text, terms) in enumerate(candidates)
        ]
        scored = [c for c in scored if c.score >= self.options.min_sentence_score]
        scored.sort(key=lambda c: (-c.score, c.order))
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
