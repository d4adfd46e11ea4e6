"""Classifying a request against the charter, in layers.

1. Patterns: each category's regular expressions (strong, explainable evidence).
2. Allow patterns: known benign phrasings with alarming words ("kill a process") stop
   here as allowed, before the softer layer below can over-refuse them.
3. Embeddings: the nearest of the charter's example requests (and of its benign
   examples) under the packaged MiniLM; a category wins when it is close enough and
   clearly closer than any benign example (a little closer, ``MODELLED_THRESHOLD``, for
   a category the model below also decides). The charter's examples define its
   categories, so this layer's category stands whatever the model says.
4. Model (shipped; retrained with ``charter finetune charter``): a classifier trained on
   public harmful and benign requests says whether the request needs the charter at all
   (its ``flag`` output against its threshold) and which of the categories it was
   trained on it is. It adds the harmful requests no example is near; it never clears
   one an example or pattern caught.
5. Judge (optional): when a capable model is configured and the embedding layer is
   unsure, the model picks a category id or "none".

Each result names the layer and the evidence (rule id or nearest example).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from charter.backends.base import ChatModel, Embedder
from charter.core.chat import ChatMessage, ChatRequest
from charter.core.errors import CharterError
from charter.policy.schema import Charter


@dataclass(frozen=True)
class Classification:
    category: str | None
    tier: str | None
    confidence: float
    layer: str
    evidence: str


ALLOWED = "none"
FLAG = "flag"  # the model's first label: the request belongs to some category
# Below this probability the model's category output is no guide; the nearest example's
# category is taken instead.
CATEGORY_FLOOR = 0.25
# How near an example of a category the model also decides must be to stand alone (the
# others keep ``threshold``): chosen with the model's settings on the HarmBench-held-out
# fold, the lowest of 0.40-0.46 that flagged at most 3% of its benign test requests in
# that sweep (docs/judgement.md).
MODELLED_THRESHOLD = 0.43


# How strict each tier is (the stricter of two candidates wins).
TIER_RANK = {"minimal": 0, "limited": 1, "high_risk": 2, "red_line": 3}
# The model's windows over a long text: words per window (about the model's 64 tokens),
# the step between windows, and at most this many (the last one always ends the text).
WINDOW_WORDS = 40
WINDOW_STEP = 30
MAX_WINDOWS = 8


def windows(text: str) -> list[str]:
    """``text`` in overlapping windows of ``WINDOW_WORDS`` words: its start, the windows
    that follow it (at most ``MAX_WINDOWS`` in all) and always its end."""
    words = text.split()
    if len(words) <= WINDOW_WORDS:
        return [text]
    starts = list(range(0, len(words) - WINDOW_WORDS, WINDOW_STEP))[:MAX_WINDOWS - 1]
    starts.append(len(words) - WINDOW_WORDS)
    return [" ".join(words[i:i + WINDOW_WORDS]) for i in starts]


class CategoryModel(Protocol):
    """A trained request classifier (``charter.judgement.runtime.Scorer`` of the charter
    task): labels ``flag`` then category ids, one probability each."""

    id: str

    @property
    def labels(self) -> list[str]: ...

    def probabilities(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray: ...

    def threshold(self, label: str | None = None) -> float: ...


class PolicyClassifier:
    """Layered classifier for one charter version."""

    def __init__(self, charter: Charter, embedder: Embedder | None, *,
                 judge: ChatModel | None = None, threshold: float = 0.4, margin: float = 0.03,
                 judge_band: float = 0.1, extra_examples: Sequence[tuple[str, str]] = (),
                 model: CategoryModel | None = None,
                 modelled_threshold: float = MODELLED_THRESHOLD) -> None:
        self.charter = charter
        self.embedder = embedder
        self.judge = judge
        self.model = model
        ids = {c.id for c in charter.categories}
        # The categories the model decides; the embedding layer keeps the others.
        self._modelled = frozenset(ids & set(model.labels[1:])) if model is not None else \
            frozenset()
        self.threshold = threshold
        self.modelled_threshold = modelled_threshold
        self.margin = margin
        self.judge_band = judge_band
        self._patterns = [
            (c.id, i, re.compile(p, re.IGNORECASE))
            for c in charter.categories for i, p in enumerate(c.patterns)
        ]
        self._allow = [re.compile(p, re.IGNORECASE) for p in charter.allow_patterns]
        labels: list[str] = []
        texts: list[str] = []
        for c in charter.categories:
            for example in c.examples:
                labels.append(c.id)
                texts.append(example)
        for example in charter.benign_examples:
            labels.append(ALLOWED)
            texts.append(example)
        for text, label in extra_examples:  # reviewed decisions feed back in here
            labels.append(label)
            texts.append(text)
        self._labels = labels
        self._texts = texts
        self._matrix: np.ndarray | None = None
        self._benign: np.ndarray | None = None
        self._limit: np.ndarray | None = None

    def _examples(self) -> np.ndarray:
        if self._matrix is None:
            assert self.embedder is not None
            # Embedded like the questions they are compared with.
            self._matrix = np.asarray(self.embedder.embed_queries(self._texts), dtype=np.float32)
        return self._matrix

    def _benign_mask(self) -> np.ndarray:
        if self._benign is None:
            self._benign = np.array([label == ALLOWED for label in self._labels], dtype=bool)
        return self._benign

    def result_for(self, category_id: str | None, confidence: float, layer: str,
                evidence: str) -> Classification:
        if category_id is None or category_id == ALLOWED:
            return Classification(None, "minimal", confidence, layer, evidence)
        return Classification(category_id, self.charter.category(category_id).tier, confidence,
                              layer, evidence)

    def classify(self, text: str, vector: Sequence[float] | None = None) -> Classification:
        for category_id, index, pattern in self._patterns:
            if pattern.search(text):
                return self.result_for(category_id, 0.95, "pattern", f"rule {category_id}#{index}")
        for index, pattern in enumerate(self._allow):
            if pattern.search(text):
                return self.result_for(None, 0.9, "allow-pattern", f"allow rule #{index}")
        by_model, flag = (self._by_model(text, vector) if self._modelled else (None, None))
        if self.embedder is None:
            if by_model is not None:
                return by_model
            if flag is not None:
                return self._model_allows(flag)
            return self.result_for(None, 0.5, "none", "no embedding layer configured")
        q = self._query(text, vector)
        sims = self._examples() @ q
        benign = self._benign_mask()
        harm_i = int(np.argmax(np.where(benign, -np.inf, sims))) if not benign.all() else -1
        benign_i = int(np.argmax(np.where(benign, sims, -np.inf))) if benign.any() else -1
        best_harm = max(float(sims[harm_i]), -1.0) if harm_i >= 0 else -1.0
        best_benign = max(float(sims[benign_i]), -1.0) if benign_i >= 0 else -1.0
        nearest = f'nearest example "{self._texts[harm_i]}" (similarity {best_harm:.2f})'
        # The charter's own examples define its categories: when one is near (each within
        # its own limit), its category stands whatever the model says; the model adds
        # what no example is near.
        clearing = np.where(benign | (sims < self._limits()), -np.inf, sims)
        near_i = int(np.argmax(clearing))
        if np.isfinite(clearing[near_i]) and float(sims[near_i]) - best_benign >= self.margin:
            return self.result_for(self._labels[near_i], float(sims[near_i]), "embedding",
                                   f'nearest example "{self._texts[near_i]}" '
                                   f"(similarity {float(sims[near_i]):.2f})")
        if by_model is not None:
            # An example between the two limits whose category is stricter than the
            # model's: the stricter one (the model must not lower a near example's tier).
            if best_harm >= self.threshold and best_harm - best_benign >= self.margin:
                banded = self.result_for(self._labels[harm_i], best_harm, "embedding",
                                         f"{nearest}; {by_model.evidence}")
                if TIER_RANK[banded.tier] > TIER_RANK[by_model.tier]:
                    return banded
            return by_model
        if self.judge is not None and best_harm >= self.threshold - self.judge_band:
            verdict = self._ask_judge(text)
            if verdict is not None:
                return verdict
        evidence = (f'nearest benign example "{self._texts[benign_i]}" ({best_benign:.2f})'
                    if best_benign >= best_harm and benign_i >= 0 else
                    f"no example within the threshold; {nearest}")
        if flag is not None:
            evidence += "; " + self._model_allows(flag).evidence
        return self.result_for(None, 1.0 - max(best_harm, 0.0), "embedding", evidence)

    def _limits(self) -> np.ndarray:
        """Each example's similarity limit: ``modelled_threshold`` for the categories the
        model also decides, ``threshold`` for the others."""
        if self._limit is None:
            self._limit = np.array([self.modelled_threshold if label in self._modelled
                                    else self.threshold for label in self._labels],
                                   dtype=np.float32)
        return self._limit

    def _query(self, text: str, vector: Sequence[float] | None) -> np.ndarray:
        assert self.embedder is not None
        return np.asarray(vector if vector is not None else self.embedder.embed_queries([text])[0],
                          dtype=np.float32)

    def _model_scores(self, text: str) -> tuple[float, dict[str, float]]:
        assert self.model is not None
        # The model reads at most 64 tokens: a longer text is read in windows (a harmless
        # preamble must not hide the request), each output its highest over the windows.
        probs = np.max(self.model.probabilities(windows(text)), axis=0)
        labels = self.model.labels
        return float(probs[0]), {label: float(p) for label, p in
                                 zip(labels[1:], probs[1:], strict=True)}

    def _by_model(self, text: str, vector: Sequence[float] | None
                  ) -> tuple[Classification | None, float | None]:
        """The model's category when its flag clears its threshold (else None), and the
        flag's probability (None when the model has no say)."""
        assert self.model is not None
        flag, scores = self._model_scores(text)
        limit = self.model.threshold(FLAG)
        if flag < limit:
            return None, flag
        categories = {c: p for c, p in scores.items() if c in self._modelled}
        category, p = max(categories.items(), key=lambda kv: kv[1])
        if p < CATEGORY_FLOOR and max(scores.values()) >= CATEGORY_FLOOR:
            # Only categories this charter does not have (an organisation removed them)
            # stand out: the charter chose not to govern such requests, so the model has
            # no say. One of its own categories standing out too keeps the flag.
            return None, None
        how = f"{category} {p:.2f}"
        if p < CATEGORY_FLOOR and self.embedder is not None:
            # Flagged, but no category stands out: the nearest modelled example's.
            sims = self._examples() @ self._query(text, vector)
            sims = np.where(np.isin(self._labels, list(self._modelled)), sims, -np.inf)
            i = int(np.argmax(sims))
            category = self._labels[i]
            how = f'{category} by nearest example "{self._texts[i]}" ({float(sims[i]):.2f})'
        return self.result_for(category, flag, "model",
                               f"model {self.model.id}: flag {flag:.2f} >= {limit:.2f}, "
                               f"{how}"), flag

    def _model_allows(self, flag: float) -> Classification:
        assert self.model is not None
        return self.result_for(None, 1.0 - flag, "model",
                               f"model {self.model.id}: flag {flag:.2f} < "
                               f"{self.model.threshold(FLAG):.2f}")

    def _ask_judge(self, text: str) -> Classification | None:
        assert self.judge is not None
        menu = "\n".join(f"- {c.id}: {c.description}" for c in self.charter.categories)
        prompt = (
            "You check requests against an organisation's AI policy. Categories:\n"
            f"{menu}\n- none: the request fits no category above.\n\n"
            f"Request: {text}\n\nReply with exactly one category id."
        )
        try:
            reply = self.judge.complete(ChatRequest([ChatMessage("user", prompt)],
                                                    max_tokens=12, temperature=0.0)).text
        except CharterError:
            return None  # the judge is optional: its failure must not block requests
        token = re.findall(r"[a-z_]+", reply.lower())
        known = {c.id for c in self.charter.categories}
        for word in token:
            if word in known:
                return self.result_for(word, 0.7, "judge", f"judge model chose {word}")
            if word == ALLOWED:
                return self.result_for(None, 0.7, "judge", "judge model chose none")
        return None
