"""The Strategy conformance suite. Each strategy's tests subclass it and provide
``strategy`` (built on scripted models, so answers are deterministic)."""

from __future__ import annotations

import pytest

from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage, ChatRequest, Completion, StreamChunk
from charter.core.errors import CharterError
from charter.strategies import Strategy


class StrategyConformance:
    @pytest.fixture
    def strategy(self) -> Strategy:  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.fixture
    def failing(self) -> Strategy:  # pragma: no cover - overridden
        """The same strategy over a backend that always fails."""
        raise NotImplementedError

    def request(self) -> ChatRequest:
        return ChatRequest([ChatMessage("system", "Be brief."),
                            ChatMessage("user", "Name one benefit of audit trails.")], seed=3)

    def test_meets_the_protocol(self, strategy: Strategy) -> None:
        assert isinstance(strategy, Strategy)
        assert strategy.name and strategy.model_id
        assert strategy.aliases and all(isinstance(a, AliasConfig) for a in strategy.aliases)

    def test_complete_returns_text_and_usage(self, strategy: Strategy) -> None:
        done = strategy.complete(self.request())
        assert isinstance(done, Completion) and done.text.strip()
        assert done.usage.prompt_tokens > 0 and done.usage.completion_tokens > 0

    def test_stream_joined_equals_complete_and_ends_with_usage(self, strategy: Strategy) -> None:
        chunks = list(strategy.stream(self.request()))
        assert all(isinstance(c, StreamChunk) for c in chunks)
        *body, last = chunks
        assert body and all(c.usage is None for c in body)
        assert last.usage is not None and last.usage.completion_tokens > 0
        done = strategy.complete(self.request())
        assert "".join(c.text for c in chunks).strip() == done.text.strip()
        assert last.note == done.note

    def test_backend_failures_surface_as_charter_errors(self, failing: Strategy) -> None:
        with pytest.raises(CharterError):
            failing.complete(self.request())
        with pytest.raises(CharterError):
            list(failing.stream(self.request()))
