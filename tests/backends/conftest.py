"""Real peers for backend tests: llama-cpp-python's own OpenAI-compatible server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Starts ``python -m llama_cpp.server`` on the packaged Gemma; yields its /v1 base URL."""
    pytest.importorskip("llama_cpp.server")
    from charter.backends.llamacpp import packaged_model_path

    port = free_port()
    log = Path(tmp_path_factory.mktemp("llama-server")) / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(packaged_model_path()),
             "--model_alias", "gemma", "--host", "127.0.0.1", "--port", str(port),
             "--n_ctx", "1024", "--chat_format", "gemma", "--embedding", "true",
             "--n_threads", "2"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start within 120 s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
