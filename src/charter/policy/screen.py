"""The screening stages' contract, and the pass-through used when no charter applies.

``CharterScreen`` (policy/engine.py) enforces the approved charter behind the same
methods; ``PassThroughScreen`` allows everything and is what unit tests of other stages use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from charter.auth import Principal
from charter.backends.base import ChatMessage, Passage
from charter.schema import Action


@dataclass(frozen=True)
class Decision:
    action: Action = "allow"
    tier: str | None = None
    category: str | None = None
    reason: str | None = None
    alternatives: tuple[str, ...] = ()
    review_id: str | None = None
    evidence: str | None = None
    confidence: float | None = None
    policy_version: int | None = None
    safe_completion: str | None = None
    answer_with_model: bool = True


@dataclass(frozen=True)
class InputScreen:
    decision: Decision
    messages: Sequence[ChatMessage]
    redacted_question: str = ""
    pii: tuple[str, ...] = ()
    injection: str | None = None
    # The question's embedding from screening (PII neutralised), reused by routing and
    # retrieval so a request embeds its question once; with the model that made it.
    vector: Sequence[float] | None = None
    vector_model: str | None = None


@dataclass(frozen=True)
class PassageScreen:
    passages: list[Passage]
    dropped: tuple[str, ...] = ()  # passage ids, with the evidence, that were neutralised
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputScreen:
    answer: str
    label: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


class Screen(Protocol):
    def screen_input(self, principal: Principal, messages: Sequence[ChatMessage]) -> InputScreen: ...

    def screen_passages(self, passages: Sequence[Passage]) -> PassageScreen: ...

    def screen_output(self, principal: Principal, answer: str,
                      passages: Sequence[Passage]) -> OutputScreen: ...

    def redact(self, text: str) -> str: ...


class PassThroughScreen:
    """Allows everything and changes nothing."""

    def screen_input(self, principal: Principal, messages: Sequence[ChatMessage]) -> InputScreen:
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        return InputScreen(Decision(), messages, redacted_question=question)

    def screen_passages(self, passages: Sequence[Passage]) -> PassageScreen:
        return PassageScreen(list(passages))

    def screen_output(self, principal: Principal, answer: str,
                      passages: Sequence[Passage]) -> OutputScreen:
        return OutputScreen(answer)

    def redact(self, text: str) -> str:
        return text
