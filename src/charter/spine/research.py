"""The ``Research`` port the gateway gives a strategy that searches on its own.

Bound to one admitted request: searches run as its principal (document access applies
to every search), retrieved passages pass the same injection screening as the
gateway's own, and every prompt is the request's conversation (screened already) with
its last question replaced by the part asked, built by ``charter.prompt`` with the
request's charter version, personality, instructions and safe-completion layer, fitted
to the model's window and redacted when the strategy's backend is external. Passages
screening neutralised, and its notes, are collected for the audit record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from charter import prompt
from charter.core.chat import ChatMessage, ChatRequest, Passage
from charter.knowledge.retrieve import Retriever
from charter.policy import gates
from charter.policy.screen import Screen
from charter.spine import context

if TYPE_CHECKING:
    from charter.spine.gateway import Admitted


@dataclass
class GatewayResearch:
    retriever: Retriever
    screen: Screen
    admitted: Admitted
    alias_name: str
    default_max_tokens: int
    external: bool
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def search(self, query: str) -> list[Passage]:
        req = self.admitted.request
        checked = self.screen.screen_passages(self.retriever.retrieve(req.principal, query))
        self.dropped.extend(checked.dropped)
        self.notes.extend(n for n in checked.notes if n not in self.notes)
        return list(checked.passages)

    def prompt(self, ask: str, passages: Sequence[Passage], *, window: int | None,
               count: Callable[[str], int]) -> ChatRequest:
        a = self.admitted
        req = a.request
        messages = list(a.screen.messages)
        last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        if last is None:
            messages.append(ChatMessage("user", ask))
        else:
            messages[last] = ChatMessage("user", ask)
        decision = a.decision

        def build(chosen: Sequence[Passage]) -> ChatRequest:
            return prompt.build(
                messages, policy_version=decision.policy_version,
                personality=a.personality,
                instructions=a.instructions,
                safe_completion=gates.safe_completion_instruction(decision),
                passages=chosen, max_tokens=req.max_tokens, temperature=req.temperature,
                seed=req.seed)

        fitted = context.fit(build, passages, window=window, count=count,
                             requested=req.max_tokens, default=self.default_max_tokens,
                             alias=self.alias_name)
        return self.screen.for_backend(fitted.request, external=self.external)
