"""`charter bench gateway`: what the gateway adds over the backend call, through HTTP.

A `charter serve` process runs on a private database with the scripted backend behind
fast, thinking, mini and pro, and the full spine on: charter screening (PII, one MiniLM
embedding, classifier, injection check), routing, quota accounting, route log, output
screening and the audit record, committed before each answer. A light asyncio client in
this process sends chat completions with distinct questions over 1 and over 50 keep-alive
connections. Each response's ``Server-Timing`` says how long the model call took; the
overhead of a request is its latency at the client minus that, so it covers HTTP, JSON,
screening, routing, storage and any queueing in the server.

By default the scripted model answers at once (``--backend-ms 0``), which measures the
gateway's capacity: at 50 clients the server is saturated, and by Little's law the
latency is then about 50 / requests-per-second, mostly queueing. ``--backend-ms`` makes
the model sleep (no CPU) like a real one, so that 50 clients offer a bounded load; each
call then takes that long give or take ``--backend-jitter``, and the clients start spread
over one call, the way independent users arrive.

``floors=True`` runs the same load against two reference servers, the same app with the
spine replaced: ``http`` calls the model and answers (HTTP, auth, rate limit, JSON: what
any gateway pays), ``embed`` also embeds the question once, the least that charter
screening does. They show how much of the overhead this machine leaves to the spine.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from charter.core.errors import CharterError
from charter.core.routes import AUTO, FAST, ROUTES

# The scripted model's time per call (0: at once, to measure the gateway's capacity).
DEFAULT_BACKEND_MS = 0.0
# How much that time varies from call to call (a fraction: 0.2 is +-20 %), as a real
# model's does; with a fixed time, 50 clients that started together would stay in step.
DEFAULT_JITTER = 0.2

QUESTIONS = ["What is the travel policy for trip {i}?", "How do I file expense report {i}?",
             "Summarise meeting note number {i} in two lines.",
             "Which laptop model should team {i} order?",
             "When is the deadline for project {i}?"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _prepare(data_dir: Path, delay_s: float = 0.0, jitter: float = 0.0) -> str:
    """Database with scripted aliases and one unlimited user; returns its API key."""
    from charter.core.aliases import AliasConfig
    from charter.core.config import load_settings
    from charter.runtime import Runtime

    rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": str(data_dir)}))
    try:
        for name in ROUTES:
            rt.aliases.remove(name)
            rt.aliases.add(AliasConfig(name, "scripted", "", {"replies": ["ok"], "delay": delay_s,
                                                           "delay_jitter": jitter}))
        rt.accounts.add_user("bench", roles=["user"], tier="bench")
        rt.quotas.set_limit("bench", FAST, window_s=3600, max_requests=None, max_tokens=None)
        return rt.accounts.create_key("bench")[1]
    finally:
        rt.close()


class _Connection:
    """One keep-alive HTTP/1.1 connection that posts JSON and reads the reply.

    A plain asyncio client: the load generator shares the two cores with the server, and
    a full-featured client spends several times more CPU per request than this one.
    """

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        payload = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer "
                f"{self.key}\r\nContent-Type: application/json\r\nContent-Length: "
                f"{len(payload)}\r\n\r\n").encode()
        self.writer.write(head + payload)
        status = int((await self.reader.readline()).split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        data = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def server_timing(headers: dict[str, str], metric: str) -> float:
    """One metric's duration from a ``Server-Timing`` header (0 when absent)."""
    for part in headers.get("server-timing", "").split(","):
        name, _, dur = part.strip().partition(";dur=")
        if name == metric and dur:
            return float(dur)
    return 0.0


def backend_ms(headers: dict[str, str]) -> float:
    """The backend's share of a request, as the server measured it."""
    return server_timing(headers, "backend")


async def _load(url: str, key: str, concurrency: int, total: int, offset: int,
                stagger_s: float = 0.0) -> tuple[list[float], list[float], float, list[float]]:
    """(latency ms, overhead ms, seconds, gateway ms) of ``total`` requests over
    ``concurrency`` connections; gateway ms is the server's own ``charter`` time."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    overheads: list[float] = []
    inside: list[float] = []
    counter = iter(range(total))

    async def worker(k: int) -> None:
        conn = _Connection(host, int(port), key)
        # Clients start spread over one model call, as independent users would.
        await asyncio.sleep(stagger_s * k / concurrency)
        try:
            for i in counter:
                n = offset + i
                body = {"model": AUTO, "messages": [
                    {"role": "user", "content": QUESTIONS[n % len(QUESTIONS)].format(i=n)}]}
                t0 = time.perf_counter()
                status, headers, data = await conn.post("/v1/chat/completions", body)
                took = (time.perf_counter() - t0) * 1000
                if status != 200:
                    raise CharterError(f"bench request failed: {status} {data[:200]!r}")
                latencies.append(took)
                overheads.append(max(took - backend_ms(headers), 0.0))
                inside.append(server_timing(headers, "charter"))
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return latencies, overheads, time.perf_counter() - started, inside


# Reference servers for ``floors``: what a request costs before the spine's own work.
FLOORS = ("http", "embed")


class FloorSpine:
    """A reduced spine for a reference server: the scripted model call and, for floor
    ``embed``, one embedding of the question first; no screening, routing or storage."""

    def __init__(self, floor: str, rt: Any) -> None:
        from charter.backends import registry
        from charter.backends.base import ChatModel

        if floor not in FLOORS:
            raise CharterError(f"floor must be one of {', '.join(FLOORS)}, not {floor!r}")
        self.floor = floor
        self.model = cast(ChatModel, registry.build(rt.aliases.get(FAST, kind="chat"),
                                                    rt.settings))
        self.embedder = rt.embedder() if floor == "embed" else None

    def ask(self, request: Any, cancel: Any = None) -> Any:
        from charter.core.chat import ChatRequest
        from charter.core.result import Result, RouteInfo, TimingInfo, UsageInfo

        started = time.perf_counter()
        chat = ChatRequest(request.messages)
        if self.embedder is not None:
            self.embedder.embed_queries([chat.question])
        called = time.perf_counter()
        done = self.model.complete(chat)
        backend = time.perf_counter() - called
        return Result(request_id="req_floor", answer=done.text, model=FAST,
                      route=RouteInfo(name=FAST, reason=f"floor {self.floor}"),
                      usage=UsageInfo.of(done.usage),
                      timing=TimingInfo(total_ms=(time.perf_counter() - started) * 1000,
                                        backend_ms=backend * 1000))

    def ask_stream(self, request: Any) -> Any:
        raise CharterError("the bench's reference servers do not stream")


def floor_app(floor: str, settings: Any) -> Any:
    """A reference server's app: the real app (keys, rate limit, body limit, JSON,
    Server-Timing) with ``FloorSpine`` answering chat completions."""
    from charter.runtime import Runtime
    from charter.server.app import create_app

    rt = Runtime.open(settings)
    return create_app(settings, rt, spine=FloorSpine(floor, rt))


def floor_factory(floor: str, settings: Any) -> Any:
    """What each worker of a reference server calls for its app (picklable)."""
    from functools import partial

    return partial(floor_app, floor, settings)


def serve_floor(floor: str, port: int, workers: int) -> None:
    """Run a reference server on ``port`` (settings from the environment it was started
    with); what ``_server_command`` starts for a floor."""
    from charter.core.config import load_settings
    from charter.server.launch import serve

    if floor not in FLOORS:
        raise CharterError(f"floor must be one of {', '.join(FLOORS)}, not {floor!r}")
    settings = load_settings().with_overrides(server_host="127.0.0.1", server_port=port,
                                              server_workers=workers)
    serve(settings, factory=floor_factory(floor, settings))


def _server_command(port: int, workers: int, floor: str | None) -> list[str]:
    if floor is None:
        return [sys.executable, "-c", "from charter.cli.app import main; main()", "serve",
                "--port", str(port), "--workers", str(workers)]
    return [sys.executable, "-c", "import sys; from charter.bench.gateway import serve_floor; "
            "serve_floor(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))",
            floor, str(port), str(workers)]


def run(requests_c1: int = 200, requests_c50: int = 1000, *, backend_ms: float = DEFAULT_BACKEND_MS,
        workers: int = 1, jitter: float = DEFAULT_JITTER, floors: bool = False,
        log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """``{"c1": S, "c50": S}`` for the full spine, and with ``floors`` also
    ``{"floors": {name: {"c1": S, "c50": S}}}`` for the reference servers."""
    with tempfile.TemporaryDirectory(prefix="charter-bench-gw-") as tmp:
        data = Path(tmp) / "data"
        key = _prepare(data, backend_ms / 1000, jitter)
        out = _measure(data, key, None, requests_c1, requests_c50, backend_ms, workers, jitter,
                       log)
        if floors:
            out["floors"] = {name: _measure(data, key, name, requests_c1, requests_c50,
                                            backend_ms, workers, jitter, log)
                             for name in FLOORS}
        return out


def _measure(data: Path, key: str, floor: str | None, requests_c1: int, requests_c50: int,
             backend_ms: float, workers: int, jitter: float,
             log: Callable[[str], None]) -> dict[str, Any]:
    port = _free_port()
    env = {**os.environ, "CHARTER_DATA_DIR": str(data), "CHARTER_RATE_LIMIT_PER_MINUTE": "0",
           "CHARTER_LOG_LEVEL": "warning"}
    server = subprocess.Popen(_server_command(port, workers, floor), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    label = f"floor {floor}" if floor else "full spine"
    try:
        _wait(url, key, server)
        spread = f" +-{jitter * 100:g} %" if backend_ms and jitter else ""
        log(f"{label}: server up on {url} ({workers} worker(s)); scripted backend takes "
            f"{backend_ms:g} ms{spread} per call")
        # Every question is distinct (numbered), so no answer or screening is reused.
        warm = requests_c1 + requests_c50
        asyncio.run(_load(url, key, 8, 200, warm))  # warm-up: model loads, caches
        out: dict[str, Any] = {}
        for name, conc, total, offset in (("c1", 1, requests_c1, 0),
                                          ("c50", 50, requests_c50, requests_c1)):
            lat, over, seconds, inside = asyncio.run(_load(url, key, conc, total, offset,
                                                           backend_ms / 1000))
            out[name] = {"overhead_p50_ms": round(statistics.median(over), 2),
                         "overhead_p99_ms": round(_percentile(over, 0.99), 2),
                         "rps": round(total / seconds, 1), "requests": total,
                         "latency_p50_ms": round(statistics.median(lat), 2),
                         # The server's own time (spine, minus the backend), without HTTP
                         # or waiting for a thread: what proxies such as LiteLLM report.
                         "gateway_p50_ms": round(statistics.median(inside), 2),
                         "gateway_p99_ms": round(_percentile(inside, 0.99), 2)}
            log(f"{label} {name}: {out[name]}")
        return out
    finally:
        stop(server)


def stop(server: subprocess.Popen[bytes]) -> None:
    """End a bench server: politely, then for good after 15 s."""
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()


def _wait(url: str, key: str, server: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            err = server.stderr.read().decode(errors="replace") if server.stderr else ""
            raise CharterError(f"the bench server exited: {err.strip()[-500:]}")
        try:
            if httpx.get(url + "/api/me", headers={"Authorization": f"Bearer {key}"},
                         timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise CharterError("the bench server did not start within 120 s")
