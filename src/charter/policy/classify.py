"""Classifying a request against the charter, in layers.

1. Patterns: each category's regular expressions (strong, explainable evidence).
2. Allow patterns: known benign phrasings with alarming words ("kill a process") stop
   here as allowed, before the softer layer below can over-refuse them.
3. Embeddings: the nearest of the charter's example requests (and of its benign
   examples) under the packaged MiniLM; a category wins when it is close enough and
   clearly closer than any benign example.
4. Judge (optional): when a capable model is configured and the embedding layer is
   unsure, the model picks a category id or "none".

Each result names the layer and the evidence (rule id or nearest example).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from charter.core.chat import ChatMessage, ChatRequest
from charter.backends.base import ChatModel, Embedder
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


class PolicyClassifier:
    """Layered classifier for one charter version."""

    def __init__(self, charter: Charter, embedder: Embedder | None, *,
                 judge: ChatModel | None = None, threshold: float = 0.4, margin: float = 0.03,
                 judge_band: float = 0.1, extra_examples: Sequence[tuple[str, str]] = ()) -> None:
        self.charter = charter
        self.embedder = embedder
        self.judge = judge
        self.threshold = threshold
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
        if self.embedder is None:
            return self.result_for(None, 0.5, "none", "no embedding layer configured")
        q = np.asarray(vector if vector is not None else self.embedder.embed_queries([text])[0],
                       dtype=np.float32)
        sims = self._examples() @ q
        benign = self._benign_mask()
        harm_i = int(np.argmax(np.where(benign, -np.inf, sims))) if not benign.all() else -1
        benign_i = int(np.argmax(np.where(benign, sims, -np.inf))) if benign.any() else -1
        best_harm = max(float(sims[harm_i]), -1.0) if harm_i >= 0 else -1.0
        best_benign = max(float(sims[benign_i]), -1.0) if benign_i >= 0 else -1.0
        nearest = f'nearest example "{self._texts[harm_i]}" (similarity {best_harm:.2f})'
        if best_harm >= self.threshold and best_harm - best_benign >= self.margin:
            return self.result_for(self._labels[harm_i], best_harm, "embedding", nearest)
        if self.judge is not None and best_harm >= self.threshold - self.judge_band:
            verdict = self._ask_judge(text)
            if verdict is not None:
                return verdict
        evidence = (f'nearest benign example "{self._texts[benign_i]}" ({best_benign:.2f})'
                    if best_benign >= best_harm and benign_i >= 0 else
                    f"no example within the threshold; {nearest}")
        return self.result_for(None, 1.0 - max(best_harm, 0.0), "embedding", evidence)

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
