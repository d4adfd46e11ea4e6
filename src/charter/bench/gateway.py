"""`charter bench gateway`: what the gateway adds over the backend call, through HTTP.

A `charter serve` process (one worker) runs on a private database with the scripted
backend behind fast, thinking and mini, and the full spine on: charter screening (PII,
one MiniLM embedding, classifier, injection check), routing, quota accounting, route log,
output screening and the audit record. A client in this process sends chat completions
with distinct questions at 1 and at 50 concurrent connections. The scripted backend
answers in microseconds (its own time is measured and subtracted), so the latency is the
gateway's overhead: HTTP, JSON, screening, routing, storage.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from charter.errors import CharterError

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


def _backend_ms() -> float:
    """Median time of one scripted completion, in-process (subtracted from latencies)."""
    from charter.backends.base import ChatMessage, ChatRequest
    from charter.backends.scripted import ScriptedChat, ScriptedOptions

    model = ScriptedChat(ScriptedOptions(replies=["ok"]))
    req = ChatRequest([ChatMessage("user", "hello")])
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        model.complete(req)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _prepare(data_dir: Path) -> str:
    """Database with scripted aliases and one unlimited user; returns its API key."""
    from charter.backends.base import AliasConfig
    from charter.config import load_settings
    from charter.runtime import Runtime

    rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": str(data_dir)}))
    try:
        for name in ("fast", "thinking", "mini", "pro"):
            rt.aliases.remove(name)
            rt.aliases.add(AliasConfig(name, "scripted", "", {"replies": ["ok"]}))
        rt.accounts.add_user("bench", roles=["user"], tier="bench")
        rt.quotas.set_limit("bench", "fast", window_s=3600, max_requests=None, max_tokens=None)
        return rt.accounts.create_key("bench")[1]
    finally:
        rt.close()


async def _load(url: str, key: str, concurrency: int, total: int, offset: int) -> tuple[list[float], float]:
    import httpx

    latencies: list[float] = []
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120,
                                 headers={"Authorization": f"Bearer {key}"}) as client:

        async def worker() -> None:
            for i in counter:
                n = offset + i
                body = {"model": "auto", "messages": [
                    {"role": "user", "content": QUESTIONS[n % len(QUESTIONS)].format(i=n)}]}
                t0 = time.perf_counter()
                r = await client.post("/v1/chat/completions", json=body)
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise CharterError(f"bench request failed: {r.status_code} {r.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


def run(requests_c1: int = 200, requests_c50: int = 1000,
        log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="charter-bench-gw-") as tmp:
        data = Path(tmp) / "data"
        key = _prepare(data)
        port = _free_port()
        env = {**os.environ, "CHARTER_DATA_DIR": str(data), "CHARTER_RATE_LIMIT_PER_MINUTE": "0",
               "CHARTER_LOG_LEVEL": "warning"}
        server = subprocess.Popen(
            [sys.executable, "-c", "from charter.cli.app import main; main()", "serve", "--port",
             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(url, key, server)
            backend = _backend_ms()
            log(f"server up on {url}; scripted backend call {backend:.3f} ms")
            asyncio.run(_load(url, key, 4, 40, 10_000_000))  # warm-up: model loads, caches
            out: dict[str, Any] = {}
            for name, conc, total, offset in (("c1", 1, requests_c1, 0),
                                              ("c50", 50, requests_c50, 1_000_000)):
                lat, seconds = asyncio.run(_load(url, key, conc, total, offset))
                over = [max(x - backend, 0.0) for x in lat]
                out[name] = {"overhead_p50_ms": round(statistics.median(over), 2),
                             "overhead_p99_ms": round(_percentile(over, 0.99), 2),
                             "rps": round(total / seconds, 1), "requests": total}
                log(f"{name}: {out[name]}")
            return out
        finally:
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
