"""A real `charter serve` app on a free port (uvicorn in a thread) with one key per role."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from charter.core.aliases import AliasConfig
from charter.core.config import Settings
from charter.runtime import Runtime
from charter.server.app import create_app


@dataclass
class Served:
    url: str
    runtime: Runtime
    keys: dict[str, str]  # role -> secret

    def client(self, role: str | None = "user") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(settings: Settings, *, scripted: bool, rate_limit: int = 1000) -> Iterator[Served]:
    settings = settings.with_overrides(max_body_mb=0.05, rate_limit_per_minute=rate_limit)
    rt = Runtime.open(settings)
    if scripted:
        for name in ("fast", "thinking", "mini"):
            rt.aliases.remove(name)
            rt.aliases.add(AliasConfig(name, "scripted", "", {"replies": [f"Answer from {name}."]}))
    keys = {}
    for role, roles in (("user", ["user"]), ("reviewer", ["user", "reviewer"]),
                        ("admin", ["admin"])):
        rt.accounts.add_user(f"{role}@example.com", roles=roles, tier="pro",
                             clearance="confidential" if role != "user" else "internal",
                             display_name=role.title())
        keys[role] = rt.accounts.create_key(f"{role}@example.com")[1]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, rt), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # start-up loads the screening models
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the test server did not start"
    try:
        yield Served(f"http://127.0.0.1:{port}", rt, keys)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        rt.close()


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    """Scripted chat aliases: fast, deterministic answers."""
    yield from _start(settings, scripted=True)


@pytest.fixture
def served_handbook(settings: Settings) -> Iterator[Served]:
    """The offline defaults (extractive answers with citations) over the demo handbook."""
    from pathlib import Path

    from charter.knowledge.ingest import IngestOptions, Ingestor

    for served in _start(settings, scripted=False):
        handbook = Path(__file__).resolve().parents[2] / "examples" / "handbook"
        Ingestor(served.runtime.db, served.runtime.embedder()).add(
            [handbook], IngestOptions(classification="internal"))
        yield served
