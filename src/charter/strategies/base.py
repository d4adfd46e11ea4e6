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

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from charter.core.aliases import AliasConfig
from charter.core.chat import ChatRequest, Completion, StreamChunk


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
