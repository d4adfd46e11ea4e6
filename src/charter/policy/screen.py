"""Input and output screening stages.

First form: every request is allowed and output passes unchanged; the charter issue
replaces ``PassThroughScreen`` with the policy engine behind the same two methods.
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


@dataclass(frozen=True)
class InputScreen:
    decision: Decision
    messages: Sequence[ChatMessage]


@dataclass(frozen=True)
class OutputScreen:
    answer: str
    label: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


class Screen(Protocol):
    def screen_input(self, principal: Principal, messages: Sequence[ChatMessage]) -> InputScreen: ...

    def screen_output(self, principal: Principal, answer: str,
                      passages: Sequence[Passage]) -> OutputScreen: ...


class PassThroughScreen:
    """Allows everything and changes nothing."""

    def screen_input(self, principal: Principal, messages: Sequence[ChatMessage]) -> InputScreen:
        return InputScreen(Decision(), messages)

    def screen_output(self, principal: Principal, answer: str,
                      passages: Sequence[Passage]) -> OutputScreen:
        return OutputScreen(answer)
