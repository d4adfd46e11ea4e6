"""The gateway benchmark's client: it reads real responses from a running server and
subtracts the backend time the server reports."""

from __future__ import annotations

import asyncio

from charter.core.aliases import AliasConfig
from charter.bench.gateway import _Connection, _load, backend_ms, server_timing
from tests.server.conftest import Served


def test_backend_time_comes_from_server_timing() -> None:
    assert backend_ms({"server-timing": "charter;dur=1.500, backend;dur=300.250"}) == 300.25
    assert backend_ms({}) == 0.0
    assert server_timing({"server-timing": "charter;dur=1.500, backend;dur=300.250"},
                         "charter") == 1.5


def test_load_subtracts_the_backend_the_server_reports(served: Served) -> None:
    rt = served.runtime
    rt.aliases.remove("fast")
    rt.aliases.add(AliasConfig("fast", "scripted", "", {"replies": ["ok"], "delay": 0.05}))
    url, key = served.url, served.keys["user"]
    latencies, overheads, seconds, inside = asyncio.run(_load(url, key, 4, 12, 0))
    assert len(latencies) == len(overheads) == len(inside) == 12 and seconds > 0
    assert all(0 < g <= o for g, o in zip(inside, overheads, strict=True))  # within the overhead
    assert min(latencies) >= 50  # the model's 50 ms are in the latency...
    assert all(o < x - 45 for o, x in zip(overheads, latencies, strict=True))  # ...not the overhead

    async def bad_key() -> int:
        host, port = url.removeprefix("http://").split(":")
        conn = _Connection(host, int(port), "wrong")
        try:
            status, _, body = await conn.post("/v1/chat/completions", {"model": "auto", "messages": [
                {"role": "user", "content": "hi"}]})
            assert b"not valid" in body
            return status
        finally:
            conn.close()

    assert asyncio.run(bad_key()) == 401


def test_clients_start_spread_over_one_model_call(served: Served) -> None:
    """With a stagger of 2 s, the last of 4 clients starts 1.5 s in, so 4 requests over
    4 clients cannot all be done sooner; without it they run side by side at once."""
    url, key = served.url, served.keys["user"]
    _, _, spread, _ = asyncio.run(_load(url, key, 4, 4, 0, stagger_s=2.0))
    _, _, together, _ = asyncio.run(_load(url, key, 4, 4, 0))
    assert spread >= 1.5 > together
