"""The screening stages' contract, and the pass-through used when no charter applies.

``CharterScreen`` (policy/engine.py) enforces the approved charter behind the same
methods; ``PassThroughScreen`` allows everything and is what unit tests of other stages use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from charter.core.principal import Principal
from charter.core.chat import ChatMessage, ChatRequest, Passage, question_of
from charter.core.result import Decision


@dataclass(frozen=True)
class InputScreen:
    decision: Decision
    messages: Sequence[ChatMessage]
    redacted_question: str = ""
    pii: tuple[str, ...] = ()
    injection: str | None = None
    # The question's embedding from screening (PII neutralised), reused by routing and
    # retrieval so a request embeds its question once; with the model that made it. When
    # personal details were replaced the model id ends in NEUTRALISED: the vector is then
    # not of the question as asked, and retrieval embeds the question itself.
    vector: Sequence[float] | None = None
    vector_model: str | None = None


NEUTRALISED = "#neutralised"


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
    def screen_input(self, principal: Principal, messages: Sequence[ChatMessage], *,
                     instructions: str = "", version: int | None = None) -> InputScreen:
        """The conversation against the enforced charter, or against charter ``version``
        (a rollout's challenger)."""
        ...

    def screen_passages(self, passages: Sequence[Passage]) -> PassageScreen: ...

    def screen_output(self, principal: Principal, answer: str,
                      passages: Sequence[Passage]) -> OutputScreen: ...

    def redact(self, text: str) -> str: ...

    def answer_hold(self) -> int:
        """Characters of a streamed answer to hold back so that output screening sees
        whole what it changes (0 when it changes nothing but citation markers)."""
        ...

    def for_backend(self, request: ChatRequest, *, external: bool) -> ChatRequest: ...

    def for_external(self, text: str) -> str:
        """``text`` as it may leave for a model outside the organisation (an external
        chat or embedding backend): redacted when the charter asks for it."""
        ...


def redacted_request(request: ChatRequest, redact: Callable[[str], str]) -> ChatRequest:
    """``request`` with ``redact`` applied to every message and passage text."""
    return replace(
        request,
        messages=[ChatMessage(m.role, redact(m.content)) for m in request.messages],
        passages=[replace(p, text=redact(p.text)) for p in request.passages])


class PassThroughScreen:
    """Allows everything and changes nothing."""

    def answer_hold(self) -> int:
        return 0

    def screen_input(self, principal: Principal, messages: Sequence[ChatMessage], *,
                     instructions: str = "", version: int | None = None) -> InputScreen:
        return InputScreen(Decision(), messages, redacted_question=question_of(messages))

    def screen_passages(self, passages: Sequence[Passage]) -> PassageScreen:
        return PassageScreen(list(passages))

    def screen_output(self, principal: Principal, answer: str,
                      passages: Sequence[Passage]) -> OutputScreen:
        return OutputScreen(answer)

    def redact(self, text: str) -> str:
        return text

    def for_backend(self, request: ChatRequest, *, external: bool) -> ChatRequest:
        return request

    def for_external(self, text: str) -> str:
        return text
