"""openai_compat against a real peer (llama-cpp-python's server) and against failing servers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from charter.backends import registry
from charter.core.chat import ChatMessage, ChatRequest
from charter.core.aliases import AliasConfig
from charter.backends.openai_compat import (
    OpenAICompatChat,
    OpenAICompatEmbedder,
    OpenAICompatEmbedOptions,
    OpenAICompatOptions,
)
from charter.core.config import load_settings
from charter.core.errors import (
    BackendAuthError,
    BackendError,
    BackendRateLimitError,
    BackendUnavailableError,
    ConfigError,
    InvalidInputError,
)
from tests.backends.chat_conformance import ChatModelConformance
from tests.backends.conftest import free_port
from tests.backends.embedder_conformance import EmbedderConformance

SETTINGS = load_settings({"CHARTER_RETRY_BACKOFF": "0.05"})
OK_BODY = {
    "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


@pytest.mark.integration
@pytest.mark.slow
class TestAgainstLlamaCppServer(ChatModelConformance):
    @pytest.fixture
    def model(self, llama_server: str) -> OpenAICompatChat:
        return OpenAICompatChat("gemma", OpenAICompatOptions(base_url=llama_server), SETTINGS)


@pytest.mark.integration
@pytest.mark.slow
class TestEmbeddingsAgainstLlamaCppServer(EmbedderConformance):
    # A generative GGUF, mean-pooled by Charter: not a sentence embedder. The peer gives
    # different per-token vectors for a text sent alone or in a batch (seen with
    # llama-cpp-python 0.3.36), so Charter sends one text per request here.
    semantic = False

    @pytest.fixture
    def embedder(self, llama_server: str) -> OpenAICompatEmbedder:
        return OpenAICompatEmbedder("gemma", OpenAICompatEmbedOptions(base_url=llama_server,
                                                                      batch_size=1), SETTINGS)


class FakeServer:
    """Answers each request with the next scripted (status, body, headers); counts requests."""

    def __init__(self, responses: list[tuple[int, object, dict[str, str]]]) -> None:
        self.responses = responses
        self.requests = 0
        self.bodies: list[object] = []  # the JSON of each request
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    outer.bodies.append(json.loads(raw))
                except ValueError:
                    outer.bodies.append(raw)
                index = min(outer.requests, len(outer.responses) - 1)
                outer.requests += 1
                status, body, headers = outer.responses[index]
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "text/html" if isinstance(body, str)
                                 else "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[type[FakeServer]]:
    servers: list[FakeServer] = []

    def make(responses):  # type: ignore[no-untyped-def]
        server = FakeServer(responses)
        servers.append(server)
        return server

    yield make  # type: ignore[misc]
    for s in servers:
        s.close()


def chat(url: str, **opts: object) -> OpenAICompatChat:
    return OpenAICompatChat("m", OpenAICompatOptions(base_url=url, **opts), SETTINGS, "remote")


def ask(model: OpenAICompatChat) -> str:
    return model.complete(ChatRequest([ChatMessage("user", "hi")])).text


def error(status: int, message: str = "nope") -> tuple[int, object, dict[str, str]]:
    return (status, {"error": {"message": message, "type": "x", "code": None}}, {})


def test_401_is_not_retried_and_names_the_key_variable(fake, monkeypatch) -> None:
    monkeypatch.setenv("REMOTE_KEY", "sk-wrong-123")
    server = fake([error(401, "invalid api key")])
    with pytest.raises(BackendAuthError) as info:
        ask(chat(server.url, api_key_env="REMOTE_KEY"))
    assert server.requests == 1
    assert "REMOTE_KEY" in info.value.message and server.url in info.value.message
    assert "sk-wrong-123" not in info.value.message


def test_429_is_retried_then_reported(fake) -> None:
    server = fake([error(429)])
    with pytest.raises(BackendRateLimitError, match=r"429\) after 3 attempt"):
        ask(chat(server.url, max_retries=2))
    assert server.requests == 3


def test_500_is_retried_then_reported(fake) -> None:
    server = fake([error(500, "boom")])
    with pytest.raises(BackendError, match="HTTP 500 after 2 attempt.*boom"):
        ask(chat(server.url, max_retries=1))
    assert server.requests == 2


def test_a_retry_that_succeeds_returns_the_answer(fake) -> None:
    server = fake([error(503), (429, {"error": {"message": "slow down"}}, {"retry-after": "0.1"}),
                   (200, OK_BODY, {})])
    assert ask(chat(server.url, max_retries=3)) == "fine"
    assert server.requests == 3


def test_wrong_base_url_404(fake) -> None:
    server = fake([error(404, "no route")])
    with pytest.raises(BackendError, match="404.*ends in /v1"):
        ask(chat(server.url))


def test_server_that_is_not_openai_compatible(fake) -> None:
    server = fake([(200, "<html>welcome</html>", {})])
    with pytest.raises(BackendError):
        ask(chat(server.url))


def test_unreachable_url_fails_fast_and_names_it() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        ask(chat(url, timeout=5, max_retries=2))
    assert time.monotonic() - t0 < 5
    assert url in info.value.message


def test_silent_server_times_out_within_the_configured_timeout() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    try:
        t0 = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="did not answer within 1s") as info:
            ask(chat(url, timeout=1.0, max_retries=3))
        elapsed = time.monotonic() - t0
        assert elapsed < 2.5, f"took {elapsed:.1f}s against a 1s timeout"
        assert url in info.value.message
    finally:
        listener.close()


def test_missing_api_key_variable(monkeypatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE"):
        ask(chat("http://127.0.0.1:9/v1", api_key_env="NOT_SET_ANYWHERE"))


def test_bad_options_are_rejected_when_the_alias_is_added() -> None:
    with pytest.raises(InvalidInputError, match="base_url"):
        registry.check_alias(AliasConfig("r", "openai_compat", "m", {"base_url": "localhost:8000"}))
    with pytest.raises(InvalidInputError, match="base_url"):
        registry.check_alias(AliasConfig("r", "openai_compat", "m", {}))
    with pytest.raises(InvalidInputError, match="allowed options"):
        registry.check_alias(AliasConfig("r", "openai_compat", "m",
                                         {"base_url": "http://x/v1", "temprature": 1}))


def tool_call_body(name: str, arguments: str) -> dict[str, object]:
    return {**OK_BODY, "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": name, "arguments": arguments}}]}}]}


def test_tools_are_offered_as_functions_and_calls_come_back(fake) -> None:
    from charter.core.chat import FunctionCall, ToolSpec

    server = fake([(200, tool_call_body("calculator", '{"expression": "6 * 7"}'), {})])
    schema = {"type": "object", "properties": {"expression": {"type": "string"}},
              "required": ["expression"]}
    done = chat(server.url).complete(ChatRequest(
        [ChatMessage("user", "6 times 7?")], tools=[ToolSpec("calculator", "Compute.", schema)],
        tool_choice="required"))
    assert done.tool_calls == (FunctionCall("calculator", '{"expression": "6 * 7"}'),)
    assert done.text == ""
    sent = server.bodies[0]
    assert sent["tool_choice"] == "required"
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "calculator", "description": "Compute.", "parameters": schema}}]
    plain = fake([(200, OK_BODY, {})])
    assert chat(plain.url).complete(ChatRequest([ChatMessage("user", "hi")])).tool_calls == ()
    assert "tools" not in plain.bodies[0]
