"""What the router sees of a request: its embedding plus cheap text features.

Everything here comes from the request as it arrives in live traffic (never from file
names or dataset labels). The embedding is the one input screening already computed, so
routing adds no model call.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

_CODE = re.compile(r"```|^[ \t]{4,}\S|\b(def|class|return|import|function|SELECT|public|void)\b|[{};][ \t]*$",
                   re.MULTILINE)
_MATH = re.compile(r"[=+\-*/^]|\\frac|\$|\b(solve|calculate|compute|prove|integral|derivative|"
                   r"probability|equation|sum|product|matrix|theorem)\b", re.IGNORECASE)
_CONSTRAINT = re.compile(r"\b(must|should|at least|at most|exactly|without|only|do not|don't|"
                         r"never|always|no more than|in \d+ words)\b", re.IGNORECASE)
_LIST_LINE = re.compile(r"^[ \t]*(?:[-*•]|\d+[.)]|[A-H][.)])[ \t]+", re.MULTILINE)
_REASONING = re.compile(r"\b(why|explain|compare|analy[sz]e|derive|evaluate|justify|"
                        r"trade-?offs?|design|plan|strategy|implications?)\b", re.IGNORECASE)
_RETRIEVAL = re.compile(r"\b(our|policy|handbook|document|according to|latest|source|cite)\b",
                        re.IGNORECASE)
_INTENT = re.compile(r"\b(think (?:hard|carefully|deeply|long)|take your time|step[- ]by[- ]step|"
                     r"reason (?:carefully|it through)|think it through|think harder)\b",
                     re.IGNORECASE)

NAMES = ("log_chars", "log_words", "lines", "code", "math", "digits", "constraints",
         "list_lines", "questions", "reasoning", "retrieval", "turns")


@dataclass(frozen=True)
class TextSignals:
    """Cheap, human-readable signals; also the fallback when no router is trained."""

    chars: int
    words: int
    lines: int
    code: int
    math: int
    digits: float
    constraints: int
    list_lines: int
    questions: int
    reasoning: int
    retrieval: int
    turns: int

    def vector(self) -> np.ndarray:
        return np.array([math.log1p(self.chars), math.log1p(self.words), math.log1p(self.lines),
                         min(self.code, 10), min(self.math, 30) / 3, self.digits * 10,
                         min(self.constraints, 10), min(self.list_lines, 20) / 2,
                         min(self.questions, 5), min(self.reasoning, 5), min(self.retrieval, 5),
                         math.log1p(self.turns)], dtype=np.float32)


def signals(text: str, turns: int = 1) -> TextSignals:
    chars = len(text)
    return TextSignals(
        chars=chars, words=len(text.split()), lines=text.count("\n") + 1,
        code=len(_CODE.findall(text)), math=len(_MATH.findall(text)),
        digits=sum(c.isdigit() for c in text) / chars if chars else 0.0,
        constraints=len(_CONSTRAINT.findall(text)), list_lines=len(_LIST_LINE.findall(text)),
        questions=text.count("?"), reasoning=len(_REASONING.findall(text)),
        retrieval=len(_RETRIEVAL.findall(text)), turns=turns)


def explicit_intent(text: str) -> str | None:
    """The phrase asking for deeper thought ("think hard", "step by step"), if any."""
    m = _INTENT.search(text)
    return m.group(0) if m else None


def feature_matrix(vectors: np.ndarray, texts: list[str], turns: list[int] | None = None) -> np.ndarray:
    """Rows of [embedding, text signals]; text signals are scaled later by the model."""
    turns = turns or [1] * len(texts)
    cheap = np.stack([signals(t, n).vector() for t, n in zip(texts, turns, strict=True)]) \
        if texts else np.zeros((0, len(NAMES)), dtype=np.float32)
    return np.hstack([np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1), cheap])
