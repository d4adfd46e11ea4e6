"""Canned replies for tests and benchmarks, registered like any other backend.

Options: ``replies`` (answered in turn, cycling), ``echo`` (answer with the question),
``native_tools`` (a reply ``{"tool": NAME, "arguments": {...}}`` to a request with tools
comes back as a function call, as from a server with function calling), ``delay`` (seconds to sleep per call, to stand in for a model's latency), ``delay_jitter``
(its spread) and ``fail`` (raise this error code instead of answering, to test error
paths).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
import time
from collections.abc import Iterator
from typing import ClassVar, Literal

from pydantic import Field

from charter.core.chat import ChatRequest, Completion, FunctionCall, StreamChunk, Usage, approx_tokens
from charter.core.aliases import AliasConfig
from charter.backends.base import BackendOptions
from charter.core.config import Settings
from charter.core.errors import BackendError, BackendRateLimitError, BackendUnavailableError


class ScriptedOptions(BackendOptions):
    replies: list[str] = ["This is a scripted reply."]
    echo: bool = False
    echo_system: bool = False  # answer with the system prompt the model was given
    delay: float = 0.0
    # Spread of ``delay``: each call sleeps delay * uniform(1 - jitter, 1 + jitter), the way a
    # real model's latency varies from call to call (seeded, so runs repeat).
    delay_jitter: float = Field(0.0, ge=0.0, le=1.0)
    token_delay: float = 0.0  # seconds between streamed pieces
    fail: Literal["unavailable", "rate_limited", "error"] | None = None
    native_tools: bool = False


_FAILURES = {
    "unavailable": BackendUnavailableError,
    "rate_limited": BackendRateLimitError,
    "error": BackendError,
}


class ScriptedChat:
    """Deterministic chat model that answers from a script."""

    backend_name: ClassVar[str] = "scripted"
    Options: ClassVar[type[BackendOptions]] = ScriptedOptions
    generates_in_process: ClassVar[bool] = True  # its delays stand in for local generation

    def __init__(self, options: ScriptedOptions, name: str = "scripted") -> None:
        self.options = options
        self._name = name
        self._cycle = itertools.cycle(options.replies or [""])
        self._lock = threading.Lock()
        self._random = random.Random(0)

    @classmethod
    def from_alias(cls, alias: AliasConfig, settings: Settings) -> ScriptedChat:
        return cls(ScriptedOptions.model_validate(alias.options), name=alias.model or alias.name)

    @property
    def model_id(self) -> str:
        return f"scripted:{self._name}"

    def _reply(self, request: ChatRequest) -> str:
        if self.options.fail:
            raise _FAILURES[self.options.fail](f"scripted backend told to fail ({self.options.fail})")
        if self.options.delay:
            spread = self.options.delay_jitter
            with self._lock:
                factor = self._random.uniform(1 - spread, 1 + spread) if spread else 1.0
            time.sleep(self.options.delay * factor)
        if self.options.echo_system:
            return "\n".join(m.content for m in request.messages if m.role == "system")
        if self.options.echo:
            return request.question
        with self._lock:
            return next(self._cycle)

    @property
    def context_window(self) -> int | None:
        return self.options.context_window

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def _capped(self, request: ChatRequest, text: str) -> tuple[str, str]:
        """The reply cut at ``max_tokens`` (a token per word, as ``approx_tokens`` counts
        about), and the finish reason."""
        cap = request.max_tokens or self.options.max_tokens
        pieces = re.findall(r"\S+\s*|\s+", text)
        if cap is None or approx_tokens(text) <= cap:
            return text, "stop"
        kept: list[str] = []
        for piece in pieces:
            if approx_tokens("".join([*kept, piece])) > cap:
                break
            kept.append(piece)
        return "".join(kept).rstrip(), "length"

    def _usage(self, request: ChatRequest, text: str) -> Usage:
        prompt = sum(approx_tokens(m.content) for m in request.messages)
        return Usage(prompt, approx_tokens(text))

    def complete(self, request: ChatRequest) -> Completion:
        text, finish = self._capped(request, self._reply(request))
        if self.options.token_delay:
            time.sleep(self.options.token_delay * len(re.findall(r"\S+\s*|\s+", text)))
        calls: tuple[FunctionCall, ...] = ()
        if self.options.native_tools and request.tools:
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):
                value = None
            if isinstance(value, dict) and isinstance(value.get("tool"), str):
                calls = (FunctionCall(value["tool"], json.dumps(value.get("arguments", {}))),)
                text = ""
        return Completion(text=text, usage=self._usage(request, text), finish_reason=finish,
                          model=self.model_id, tool_calls=calls)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        text, finish = self._capped(request, self._reply(request))
        for piece in re.findall(r"\S+\s*|\s+", text):
            if self.options.token_delay:
                time.sleep(self.options.token_delay)
            yield StreamChunk(text=piece)
        yield StreamChunk(usage=self._usage(request, text), finish_reason=finish)
