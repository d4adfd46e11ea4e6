"""A mock OpenAI-compatible model server for the gateway bench: a fixed time per answer.

Each chat completion sleeps (no CPU) for ``base_ms`` give or take ``jitter``, and the time
is a function of the request's last user message (``delay_ms``), so a client that knows
the question it sent knows the model's share of the latency without trusting any gateway's
own report of it: the overhead of Charter and of a peer proxy is then measured the same
way. It answers with one sentence that cites source [1] when the prompt numbers sources.
A plain asyncio HTTP/1.1 server with keep-alive: it shares the machine's cores with the
gateway and the load generator, so it spends as little CPU as it can.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

ANSWER = "The handbook sets this out in its policy section [1]."
PLAIN = "There is no handbook section on this."


def delay_ms(question: str, base_ms: float, jitter: float) -> float:
    """The model's time for a question: ``base_ms`` +- ``jitter`` (a fraction), spread
    evenly by a hash of the question."""
    u = int.from_bytes(hashlib.blake2s(question.encode(), digest_size=4).digest(), "big") / 2**32
    return base_ms * (1.0 + jitter * (2.0 * u - 1.0))


def _question(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            content = m.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def completion(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages") or []
    cites = any("[1]" in str(m.get("content", "")) for m in messages if m.get("role") == "system")
    text = ANSWER if cites else PLAIN
    prompt = sum(len(str(m.get("content", ""))) for m in messages) // 4
    return {"id": "chatcmpl-mock", "object": "chat.completion", "created": 0,
            "model": body.get("model", "mock"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": 12,
                      "total_tokens": prompt + 12}}


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  base_ms: float, jitter: float) -> None:
    try:
        while line := await reader.readline():
            method, path, _ = line.decode("latin-1").split(" ", 2)
            length = 0
            while (header := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = header.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            raw = await reader.readexactly(length) if length else b""
            status, payload = 200, b""
            if method == "POST" and path.rstrip("/").endswith("/chat/completions"):
                body = json.loads(raw or b"{}")
                if body.get("stream"):
                    status, payload = 400, b'{"error": {"message": "the mock does not stream"}}'
                else:
                    await asyncio.sleep(delay_ms(_question(body.get("messages") or []),
                                                 base_ms, jitter) / 1000)
                    payload = json.dumps(completion(body)).encode()
            elif method == "GET" and path.rstrip("/").endswith("/models"):
                payload = b'{"object": "list", "data": [{"id": "mock", "object": "model"}]}'
            else:
                status, payload = 404, b'{"error": {"message": "not found"}}'
            reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
            writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


def serve(port: int, base_ms: float, jitter: float) -> None:
    """Run the mock on 127.0.0.1:``port`` until killed."""

    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _handle(r, w, base_ms, jitter), "127.0.0.1", port, backlog=512)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(main())
