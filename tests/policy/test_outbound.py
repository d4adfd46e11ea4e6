"""What leaves for an external embedding model: redacted, counted and audited."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from charter.core.aliases import AliasConfig
from charter.core.errors import QuotaExceededError
from charter.core.principal import Principal
from charter.policy.outbound import RedactingEmbedder
from charter.runtime import Runtime
from charter.services import models as model_service

ASKER = Principal("u1", frozenset({"user"}), "internal", ("staff",), "free")
PERSONAL = "Write to jane.doe@example.com or call +44 20 7946 0958 about the contract"


@pytest.fixture
def hosted() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for a hosted embeddings API that keeps every input it receives."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            seen.extend(inputs)
            out = json.dumps({"object": "list", "model": body["model"], "data": [
                {"object": "embedding", "index": i, "embedding": [1.0, 0.0, 0.0]}
                for i in range(len(inputs))],
                "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()


def _alias(runtime: Runtime, url: str, *, external: bool) -> str:
    name = "hosted" if external else "inhouse"
    runtime.aliases.add(AliasConfig(name, "openai_compat", "text-embed", {
        "base_url": url, "external": external, "max_retries": 0}, kind="embedding"))
    return name


def test_an_external_embedder_never_receives_personal_data(
        runtime: Runtime, hosted: tuple[str, list[str]]) -> None:
    url, seen = hosted
    name = _alias(runtime, url, external=True)
    assert isinstance(runtime.embedding_model(name), RedactingEmbedder)
    model_service.embed(runtime, ASKER, name, [PERSONAL, "annual leave"])
    runtime.embedding_model(name).embed_queries([PERSONAL])
    assert len(seen) == 3 and seen[1] == "annual leave"
    assert not any("jane.doe" in s or "7946" in s for s in seen)
    assert "<EMAIL_ADDRESS>" in seen[0]


def test_an_in_house_embedder_gets_the_text_as_written(
        runtime: Runtime, hosted: tuple[str, list[str]]) -> None:
    url, seen = hosted
    name = _alias(runtime, url, external=False)
    model_service.embed(runtime, ASKER, name, [PERSONAL])
    assert seen == [PERSONAL]


def test_embeddings_are_counted_against_the_quota_and_audited(
        runtime: Runtime, hosted: tuple[str, list[str]]) -> None:
    url, _ = hosted
    name = _alias(runtime, url, external=False)
    runtime.quotas.set_limit("free", "embeddings", window_s=3600, max_requests=2,
                             max_tokens=None)
    model_service.embed(runtime, ASKER, name, ["one"])
    model_service.embed(runtime, ASKER, name, [PERSONAL, "two"])
    with pytest.raises(QuotaExceededError, match="embeddings"):
        model_service.embed(runtime, ASKER, name, ["three"])
    created = [r for r in runtime.audit.records() if r.event == "embedding.created"]
    assert [r.payload["inputs"] for r in created] == [1, 2]
    assert created[1].payload["chars"] == len(PERSONAL) + 3 and created[1].actor == "u1"
    assert "jane.doe" not in json.dumps([r.payload for r in created])
    used = {row.route: row for row in runtime.quotas.usage("u1")}
    assert used["embeddings"].requests == 2 and used["embeddings"].tokens > 0
