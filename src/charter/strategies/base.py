"""The ``Strategy`` contract: how a routed request is answered.

A strategy is built for one request's route (``charter.strategies.for_route``) and the
gateway calls it without knowing which it is. ``complete`` returns the whole answer (its
``note`` says what the strategy did beyond one call, for the audit record); ``stream``
yields text pieces and ends with one chunk carrying ``usage`` and ``finish_reason``.
Both raise only ``CharterError``. ``aliases`` names every alias the strategy may call, so
the spine can redact for any of them that runs outside the organisation;
``context_window`` and ``count_tokens`` let it fit the request to the answering model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from charter.backends.base import ChatModel
from charter.core.aliases import AliasConfig
from charter.core.chat import ChatRequest, Completion, Passage, StreamChunk


@runtime_checkable
class Research(Protocol):
    """What a strategy that searches on its own (thinking) may do for one request, inside
    that request's principal's access: ``search`` the knowledge base (passages screened
    for injected instructions, numbered from 1), and ``prompt`` a sub-question with
    chosen passages (the request's conversation, charter and instructions, fitted to
    the window, redacted for an external backend)."""

    def search(self, query: str) -> list[Passage]: ...

    def prompt(self, ask: str, passages: Sequence[Passage], *, window: int | None,
               count: Callable[[str], int]) -> ChatRequest: ...


@runtime_checkable
class Strategy(Protocol):
    name: str

    @property
    def aliases(self) -> tuple[AliasConfig, ...]: ...

    @property
    def model_id(self) -> str: ...

    @property
    def context_window(self) -> int | None:
        """Tokens the answering model reads, prompt and answer together (None: unknown)."""
        ...

    @property
    def generates_in_process(self) -> bool:
        """Whether closing ``stream`` stops generation here (a local model)."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def complete(self, request: ChatRequest) -> Completion: ...

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]: ...


class AnsweringModel:
    """What a strategy reports about the model that writes its answer (``self.model``,
    served by ``self.alias``): shared by the strategies, which add how they ask it."""

    model: ChatModel
    alias: AliasConfig

    @property
    def aliases(self) -> tuple[AliasConfig, ...]:
        return (self.alias,)

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @property
    def context_window(self) -> int | None:
        return self.model.context_window

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)
