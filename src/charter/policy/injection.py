"""Prompt-injection screening for user input and retrieved passages.

Two signals: rules for the well-known shapes of injected instructions (including text
hidden in HTML comments), and a logistic regression over the packaged MiniLM embeddings,
trained with `charter policy train-injection` on labelled data and shipped as a small
weights file. A text is flagged when a rule fires or the model's probability passes the
threshold.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np

from charter.backends.base import Embedder
from charter.core.chat import PassageCheck

WEIGHTS = "injection_lr.npz"
# Raise when the code that turns a text into a verdict changes (normalisation, how rules
# and the classifier combine): stored verdicts then count as stale and are screened again.
VERDICT_REVISION = 1

RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE | re.DOTALL)) for name, pattern in (
        ("ignore-instructions", r"\b(ignore|disregard|forget|override|skip)\b.{0,40}\b(previous|prior|above|earlier|all|any|your|the)\b.{0,20}\b(instructions?|prompts?|rules|tasks?|directions|guidelines|context)\b"),
        ("new-instructions", r"\b(new|updated|real|actual)\s+(instructions?|task|orders)\s*[:\-]"),
        ("reveal-prompt", r"\b(reveal|print|show|output|repeat|leak)\b.{0,30}\b(system|hidden|initial|original|your)\s+(prompt|instructions?|message)s?\b"),
        ("role-override", r"\b(you are now|from now on,? you (are|will)|act as|pretend (to be|you are)|roleplay as)\b.{0,60}\b(unrestricted|no (rules|restrictions|filters|limits)|dan|jailbr\w+|evil|without (any )?(rules|restrictions|filters))\b"),
        ("jailbreak-name", r"\b(DAN|do anything now|developer mode|jailbreak(ed)?)\b"),
        ("hidden-comment", r"<!--.{0,400}?\b(ignore|instruction|assistant|system|prompt|you must|do not tell)\b.{0,400}?-->"),
        ("addressed-to-model", r"\b(ai|assistant|chatbot|language model|llm)\s*[,:]\s*(please\s+)?(ignore|disregard|forget|reveal|send|tell|output|do not)\b"),
        ("german-ignore", r"\b(vergiss|ignoriere|missachte)\b.{0,40}\b(alle|vorherigen?|bisherigen?|obigen?)\b.{0,30}\b(anweisungen|aufgaben|instruktionen|befehle|regeln)\b"),
    )
)


@dataclass(frozen=True)
class InjectionVerdict:
    flagged: bool
    score: float
    evidence: str


def rule_hits(text: str) -> list[str]:
    return [name for name, pattern in RULES if pattern.search(text)]


class InjectionDetector:
    """Rules plus an embedding classifier; ``check`` and ``check_many``."""

    #: User input looks like the training data; retrieved passages do not (long, declarative,
    #: full of "must"), so the classifier needs more certainty there and rules carry more.
    INPUT_THRESHOLD = 0.8
    PASSAGE_THRESHOLD = 0.95

    def __init__(self, embedder: Embedder | None, *, threshold: float = INPUT_THRESHOLD,
                 weights: Path | None = None) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self._w: np.ndarray | None = None
        self._b = 0.0
        path = weights or Path(str(files("charter.policy").joinpath("models", WEIGHTS)))
        self._weights_digest = "none"
        if embedder is not None and path.is_file():
            raw = path.read_bytes()
            self._weights_digest = hashlib.sha256(raw).hexdigest()
            data = np.load(path)
            self._w, self._b = data["coef"].astype(np.float32), float(data["intercept"])
        self._version: str | None = None

    @property
    def version(self) -> str:
        """Names what a passage verdict depends on: the rules, the classifier's weights,
        the passage threshold and the embedding model. A verdict stored at ingest is used
        only while this is unchanged; otherwise the chunk is screened again."""
        if self._version is None:
            digest = hashlib.sha256(f"revision {VERDICT_REVISION}\n".encode())
            for name, pattern in RULES:
                digest.update(f"{name}\0{pattern.pattern}\0{pattern.flags}\n".encode())
            embedder = self.embedder.query_model_id if self.embedder is not None else "none"
            digest.update(f"{self._weights_digest}\0{self.PASSAGE_THRESHOLD}\0{embedder}".encode())
            self._version = "inj-" + digest.hexdigest()[:16]
        return self._version

    @property
    def has_model(self) -> bool:
        return self._w is not None

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        if self._w is None or self.embedder is None or not texts:
            return [0.0] * len(texts)
        x = np.asarray(self.embedder.embed_queries(list(texts)), dtype=np.float32)
        z = x @ self._w + self._b
        return [float(p) for p in 1.0 / (1.0 + np.exp(-z))]

    def check_many(self, texts: Sequence[str], threshold: float | None = None) -> list[InjectionVerdict]:
        limit = self.threshold if threshold is None else threshold
        probs = self.probabilities(texts)
        out = []
        for text, p in zip(texts, probs, strict=True):
            hits = rule_hits(text)
            if hits:
                out.append(InjectionVerdict(True, 1.0, "rule " + ",".join(hits)))
            elif p >= limit:
                out.append(InjectionVerdict(True, p, f"classifier p={p:.2f}"))
            else:
                out.append(InjectionVerdict(False, p, ""))
        return out

    def check_vector(self, text: str, vector: Sequence[float] | None,
                     threshold: float | None = None) -> InjectionVerdict:
        """Like ``check`` with the text's embedding already computed (saves a model call)."""
        hits = rule_hits(text)
        if hits:
            return InjectionVerdict(True, 1.0, "rule " + ",".join(hits))
        if self._w is None or vector is None:
            return InjectionVerdict(False, 0.0, "")
        z = float(np.asarray(vector, dtype=np.float32) @ self._w + self._b)
        p = 1.0 / (1.0 + float(np.exp(-z)))
        limit = self.threshold if threshold is None else threshold
        if p >= limit:
            return InjectionVerdict(True, p, f"classifier p={p:.2f}")
        return InjectionVerdict(False, p, "")

    def check(self, text: str, threshold: float | None = None) -> InjectionVerdict:
        return self.check_many([text], threshold)[0]

    def check_passages(self, texts: Sequence[str]) -> list[PassageCheck]:
        """Retrieved-passage verdicts (the passage threshold), stamped with ``version``:
        what ingestion stores per chunk and what a passage without a current verdict
        gets when it is retrieved."""
        version = self.version
        return [PassageCheck(version, v.flagged, round(v.score, 4), v.evidence)
                for v in self.check_many(texts, self.PASSAGE_THRESHOLD)]
