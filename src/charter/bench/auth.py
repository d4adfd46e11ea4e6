"""Bearer tokens nobody issued: what they cost the server.

Starts ``charter serve`` on a fresh data folder and sends requests with random bearer
tokens, as someone guessing keys would; reports the server's resident memory before and
after (from ``/proc``), the status codes, and requests per second. Run twice: with the
failed-sign-in limit of the settings (guesses beyond it are refused before any lookup)
and with it off (every guess costs a lookup: the read cache must not grow with them).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from charter.bench.gateway import _free_port, _prepare, _server_command, _wait, stop


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _guess(url: str, total: int, concurrency: int) -> Counter[int]:
    import httpx

    codes: Counter[int] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            queue.get_nowait()
            token = "chk_" + secrets.token_urlsafe(32)
            r = await client.get(url + "/api/me", headers={"Authorization": f"Bearer {token}"})
            codes[r.status_code] += 1

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return codes


def run(requests: int = 10_000, concurrency: int = 20,
        failures_per_minute: int | None = None) -> dict[str, Any]:
    """``{"rss_before_mb", "rss_after_mb", "codes", "rps", "requests"}`` for one server;
    ``failures_per_minute`` overrides the setting (0: every guess is looked up)."""
    with tempfile.TemporaryDirectory(prefix="charter-bench-auth-") as tmp:
        data = Path(tmp) / "data"
        key = _prepare(data, 0.0, 0.0)
        port = _free_port()
        env = {**os.environ, "CHARTER_DATA_DIR": str(data), "CHARTER_LOG_LEVEL": "error",
               "CHARTER_RATE_LIMIT_PER_MINUTE": "0"}
        if failures_per_minute is not None:
            env["CHARTER_AUTH_FAILURES_PER_MINUTE"] = str(failures_per_minute)
        server = subprocess.Popen(_server_command(port, 1, None), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(url, key, server)
            asyncio.run(_guess(url, 200, concurrency))  # warm: first requests allocate
            before = _rss_mb(server.pid)
            began = time.perf_counter()
            codes = asyncio.run(_guess(url, requests, concurrency))
            seconds = time.perf_counter() - began
            after = _rss_mb(server.pid)
        finally:
            stop(server)
    return {"requests": requests, "rss_before_mb": round(before, 1),
            "rss_after_mb": round(after, 1), "codes": dict(sorted(codes.items())),
            "rps": round(requests / seconds, 1)}
