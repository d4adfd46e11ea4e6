"""The fast strategy: one model call."""

from __future__ import annotations

from collections.abc import Iterator

from charter.backends.base import ChatModel
from charter.core.aliases import AliasConfig
from charter.core.chat import ChatRequest, Completion, StreamChunk
from charter.core.routes import FAST
from charter.strategies.base import AnsweringModel


class FastStrategy(AnsweringModel):
    name = FAST

    def __init__(self, model: ChatModel, alias: AliasConfig) -> None:
        self.model = model
        self.alias = alias

    @property
    def generates_in_process(self) -> bool:
        return self.model.generates_in_process

    def complete(self, request: ChatRequest) -> Completion:
        return self.model.complete(request)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        return self.model.stream(request)
