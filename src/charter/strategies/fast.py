"""The fast strategy: one model call."""

from __future__ import annotations

from collections.abc import Iterator

from charter.backends.base import ChatModel, ChatRequest, Completion, StreamChunk


def run(model: ChatModel, request: ChatRequest) -> Completion:
    return model.complete(request)


def stream(model: ChatModel, request: ChatRequest) -> Iterator[StreamChunk]:
    return model.stream(request)
