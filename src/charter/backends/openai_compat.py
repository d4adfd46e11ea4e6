"""Any OpenAI-compatible server: vLLM, Ollama, llama.cpp's server, hosted APIs.

Calls share one deadline (``timeout``, default ``request_timeout``): retries of 429,
5xx and connection failures back off exponentially (a ``Retry-After`` header wins)
but never run past it, so an unreachable server fails within the configured time,
with an error that names the URL. The API key is read from the environment variable
the alias names (``api_key_env``); the key itself is never stored.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

import httpx
import openai
from pydantic import BaseModel, ConfigDict, field_validator

from charter.core.chat import FunctionCall, ChatRequest, Completion, StreamChunk, Usage, approx_tokens
from charter.core.aliases import AliasConfig
from charter.backends.base import BackendOptions
from charter.core.config import Settings
from charter.core.errors import (
    BackendAuthError,
    BackendError,
    BackendRateLimitError,
    BackendUnavailableError,
    CharterError,
    ConfigError,
    ContextOverflowError,
)

T = TypeVar("T")


def _check_url(url: str) -> str:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("must be an http(s) URL such as http://localhost:8000/v1")
    return url.rstrip("/")


class ConnectionOptions(BaseModel):
    """How to reach the server; shared by chat and embeddings."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    api_key_env: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    # The server is outside the organisation: PII is redacted before text is sent (policy).
    external: bool = False

    _url = field_validator("base_url")(lambda cls, v: _check_url(v))


class OpenAICompatOptions(BackendOptions, ConnectionOptions):
    model_config = ConfigDict(extra="forbid")

    stream_usage: bool = True


class OpenAICompatEmbedOptions(ConnectionOptions):
    batch_size: int = 64
    dimension: int | None = None


class _Caller:
    """One server's client plus the retry-with-deadline loop."""

    def __init__(self, opts: ConnectionOptions, settings: Settings, alias: str) -> None:
        self.base_url = opts.base_url
        self.alias = alias
        self.api_key_env = opts.api_key_env
        self.timeout = opts.timeout if opts.timeout is not None else settings.request_timeout
        self.max_retries = opts.max_retries if opts.max_retries is not None else settings.max_retries
        self.backoff = settings.retry_backoff
        self._client: openai.OpenAI | None = None

    def client(self) -> openai.OpenAI:
        if self._client is None:
            key = "not-needed"
            if self.api_key_env:
                key = os.environ.get(self.api_key_env, "")
                if not key:
                    raise ConfigError(
                        f"environment variable {self.api_key_env} (the API key for alias "
                        f"'{self.alias}') is not set; export it before starting Charter"
                    )
            self._client = openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0,
                                         timeout=self.timeout)
        return self._client

    def call(self, fn: Callable[[openai.OpenAI, float], T]) -> T:
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timed_out()
            try:
                return fn(self.client(), remaining)
            except CharterError:
                raise
            except openai.APITimeoutError:
                raise self._timed_out() from None
            except openai.APIConnectionError as exc:
                error: CharterError = BackendUnavailableError(
                    f"cannot reach the model server at {self.base_url} ({_cause(exc)}) after "
                    f"{attempt + 1} attempt(s); check the base URL and that the server is running"
                )
                retry_after = None
            except openai.APIStatusError as exc:
                error = self._status_error(exc, attempt + 1)
                if exc.status_code != 429 and exc.status_code < 500:
                    raise error from None
                retry_after = _retry_after(exc.response)
            except openai.APIError as exc:  # a body that is not an OpenAI response
                raise BackendError(
                    f"the server at {self.base_url} did not answer like an OpenAI-compatible "
                    f"API ({exc.message}); check that the base URL ends in /v1"
                ) from None
            if attempt >= self.max_retries:
                raise error from None
            wait = retry_after if retry_after is not None else self.backoff * (2 ** attempt)
            if time.monotonic() + wait >= deadline:
                raise error from None
            time.sleep(wait)
            attempt += 1

    def _timed_out(self) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"the model server at {self.base_url} did not answer within {self.timeout:g}s; "
            "check that it is running, or raise the alias's timeout / CHARTER_REQUEST_TIMEOUT"
        )

    def _status_error(self, exc: openai.APIStatusError, attempts: int) -> CharterError:
        status = exc.status_code
        detail = _detail(exc)
        if status in (401, 403):
            fix = (f"set {self.api_key_env} to a valid key" if self.api_key_env else
                   f"store the key's variable name with `charter models add {self.alias} "
                   "--replace --api-key-env NAME ...`")
            return BackendAuthError(
                f"the model server at {self.base_url} refused the API key (HTTP {status}: "
                f"{detail}); {fix}"
            )
        if status == 429:
            return BackendRateLimitError(
                f"the model server at {self.base_url} is rate limiting (HTTP 429) after "
                f"{attempts} attempt(s); retry later or lower the request rate"
            )
        if status >= 500:
            return BackendError(
                f"the model server at {self.base_url} failed with HTTP {status} after "
                f"{attempts} attempt(s): {detail}"
            )
        if status == 404:
            return BackendError(
                f"the model server at {self.base_url} answered 404 ({detail}); check the base "
                "URL (it usually ends in /v1) and the model name"
            )
        if status == 400 and ("context" in detail.lower() or "too long" in detail.lower()):
            # The caller's conversation is too long for the model: theirs to fix, a 400.
            return ContextOverflowError(
                f"the conversation is longer than model alias {self.alias!r} can read; "
                "shorten it or start a new conversation")
        return BackendError(f"the model server at {self.base_url} rejected the request "
                            f"(HTTP {status}: {detail})")


def _cause(exc: BaseException) -> str:
    root: BaseException = exc
    while root.__cause__ is not None:
        root = root.__cause__
    return str(root) or type(root).__name__


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error")
        msg = err.get("message") if isinstance(err, dict) else (body.get("message") or err)
        if msg:
            return str(msg)[:300]
    return (exc.response.text or exc.message or "")[:300]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class OpenAICompatChat:
    """Chat through an OpenAI-compatible ``/v1/chat/completions``."""

    backend_name: ClassVar[str] = "openai_compat"
    Options: ClassVar[type[BackendOptions]] = OpenAICompatOptions
    generates_in_process: ClassVar[bool] = False

    def __init__(self, model: str, options: OpenAICompatOptions, settings: Settings,
                 alias: str = "") -> None:
        self.model = model
        self.options = options
        self.default_max_tokens = settings.max_tokens
        self._caller = _Caller(options, settings, alias or model)

    @classmethod
    def from_alias(cls, alias: AliasConfig, settings: Settings) -> OpenAICompatChat:
        return cls(alias.model, OpenAICompatOptions.model_validate(alias.options), settings,
                   alias.name)

    @property
    def model_id(self) -> str:
        return f"{self.options.base_url}#{self.model}"

    @property
    def context_window(self) -> int | None:
        return self.options.context_window

    def count_tokens(self, text: str) -> int:
        # No tokenizer for a remote model: an estimate (4/3 tokens a word, what BPE
        # tokenizers average on English prose, and one per line break); the server
        # refuses what still does not fit, and that refusal is a 400 too.
        return approx_tokens(text) + text.count("\n")

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens or self.options.max_tokens or self.default_max_tokens,
        }
        temperature = request.temperature if request.temperature is not None else self.options.temperature
        if temperature is not None:
            params["temperature"] = temperature
        if request.seed is not None:
            params["seed"] = request.seed
        if request.stop:
            params["stop"] = list(request.stop)
        if request.tools:
            params["tools"] = [{"type": "function", "function": {
                "name": t.name, "description": t.description,
                "parameters": dict(t.parameters)}} for t in request.tools]
            params["tool_choice"] = request.tool_choice
        return params

    def complete(self, request: ChatRequest) -> Completion:
        params = self._params(request)
        resp = self._caller.call(
            lambda c, t: c.chat.completions.create(**params, timeout=t)
        )
        if not getattr(resp, "choices", None):
            raise BackendError(f"the model server at {self.options.base_url} returned no choices")
        choice = resp.choices[0]
        text = choice.message.content or ""
        calls = tuple(FunctionCall(c.function.name, c.function.arguments or "{}")
                      for c in (getattr(choice.message, "tool_calls", None) or [])
                      if getattr(c, "function", None) is not None and c.function.name)
        usage = Usage(resp.usage.prompt_tokens, resp.usage.completion_tokens) if resp.usage else \
            Usage(sum(approx_tokens(m["content"]) for m in params["messages"]), approx_tokens(text))
        return Completion(text=text, usage=usage, finish_reason=choice.finish_reason or "stop",
                          model=resp.model or self.model, tool_calls=calls)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        params = self._params(request)
        if self.options.stream_usage:
            params["stream_options"] = {"include_usage": True}
        stream = self._caller.call(
            lambda c, t: c.chat.completions.create(**params, stream=True, timeout=t)
        )
        pieces: list[str] = []
        usage: Usage | None = None
        finish = "stop"
        try:
            for chunk in stream:
                if chunk.usage:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices or []:
                    if choice.delta and choice.delta.content:
                        pieces.append(choice.delta.content)
                        yield StreamChunk(text=choice.delta.content)
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except openai.APIError as exc:
            raise BackendError(
                f"the stream from {self.options.base_url} broke off: {exc.message}"
            ) from None
        except httpx.HTTPError as exc:
            raise BackendUnavailableError(
                f"the stream from {self.options.base_url} broke off: {exc}"
            ) from None
        finally:
            stream.close()
        if usage is None:
            usage = Usage(sum(approx_tokens(m["content"]) for m in params["messages"]),
                          approx_tokens("".join(pieces)))
        yield StreamChunk(usage=usage, finish_reason=finish)


def _pool(embedding: Any) -> list[float]:
    """One vector per text: servers running a model without pooling (llama.cpp with a
    generative GGUF) send one vector per token, which are averaged here."""
    if embedding and isinstance(embedding[0], list):
        width = len(embedding[0])
        return [sum(tok[i] for tok in embedding) / len(embedding) for i in range(width)]
    return [float(x) for x in embedding]


class OpenAICompatEmbedder:
    """Embeddings through an OpenAI-compatible ``/v1/embeddings``, batched, L2-normalised."""

    backend_name: ClassVar[str] = "openai_compat"
    Options: ClassVar[type[BaseModel]] = OpenAICompatEmbedOptions

    def __init__(self, model: str, options: OpenAICompatEmbedOptions, settings: Settings,
                 alias: str = "") -> None:
        self.model = model
        self.options = options
        self._dimension = options.dimension
        self._caller = _Caller(options, settings, alias or model)

    @classmethod
    def from_alias(cls, alias: AliasConfig, settings: Settings) -> OpenAICompatEmbedder:
        return cls(alias.model, OpenAICompatEmbedOptions.model_validate(alias.options), settings,
                   alias.name)

    @property
    def model_id(self) -> str:
        return f"{self.options.base_url}#{self.model}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = len(self.embed(["dimension probe"])[0])
        return self._dimension

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed(texts)  # the server decides how it runs its model

    @property
    def query_model_id(self) -> str:
        return self.model_id

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        size = self.options.batch_size
        for start in range(0, len(texts), size):
            batch = list(texts[start:start + size])
            resp = self._caller.call(
                lambda c, t, b=batch: c.embeddings.create(model=self.model, input=b,
                                                   encoding_format="float", timeout=t)
            )
            rows = sorted(resp.data, key=lambda d: d.index)
            if len(rows) != len(batch):
                raise BackendError(
                    f"the embedding server at {self.options.base_url} returned {len(rows)} "
                    f"vectors for {len(batch)} texts"
                )
            for row in rows:
                vec = _pool(row.embedding)
                norm = math.sqrt(sum(x * x for x in vec)) or 1.0
                out.append([x / norm for x in vec])
        if out and self._dimension is None:
            self._dimension = len(out[0])
        return out
