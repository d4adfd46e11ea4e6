"""The ChatModel conformance suite. Each backend's tests subclass it and provide ``model``."""

from __future__ import annotations

import threading

import pytest

from charter.backends import registry
from charter.core.chat import ChatMessage, ChatRequest, Completion, StreamChunk
from charter.backends.base import ChatModel


class ChatModelConformance:
    #: Same request, same answer (greedy decoding or a scripted reply).
    deterministic = True

    @pytest.fixture
    def model(self) -> ChatModel:  # pragma: no cover - overridden
        raise NotImplementedError

    def request(self) -> ChatRequest:
        return ChatRequest([ChatMessage("user", "Write one sentence about audit trails.")],
                           max_tokens=16, temperature=0.0, seed=7)

    def test_meets_the_protocol_and_is_registered(self, model: ChatModel) -> None:
        assert isinstance(model, ChatModel)
        assert isinstance(model.model_id, str) and model.model_id
        assert registry.backend_class(model.backend_name) is type(model)

    def test_complete_returns_text_and_token_usage(self, model: ChatModel) -> None:
        out = model.complete(self.request())
        assert isinstance(out, Completion)
        assert out.text.strip()
        assert out.usage.prompt_tokens > 0
        assert out.usage.completion_tokens > 0

    def test_stream_yields_text_then_one_final_usage_chunk(self, model: ChatModel) -> None:
        chunks = list(model.stream(self.request()))
        assert all(isinstance(c, StreamChunk) for c in chunks)
        *body, last = chunks
        assert body and all(c.usage is None for c in body)
        assert last.usage is not None and last.finish_reason
        assert last.usage.completion_tokens > 0
        if self.deterministic:
            streamed = "".join(c.text for c in chunks).strip()
            assert streamed == model.complete(self.request()).text.strip()

    def test_concurrent_calls_are_safe(self, model: ChatModel) -> None:
        results: list[str] = []
        errors: list[BaseException] = []

        def call() -> None:
            try:
                results.append(model.complete(self.request()).text)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert errors == [] and len(results) == 4
        if self.deterministic:
            assert len(set(results)) == 1

    def test_an_abandoned_stream_does_not_block_later_calls(self, model: ChatModel) -> None:
        stream = model.stream(self.request())
        next(stream)
        stream.close()
        done: list[Completion] = []
        t = threading.Thread(target=lambda: done.append(model.complete(self.request())))
        t.start()
        t.join(timeout=120)
        assert done, "a call after an abandoned stream hung"
