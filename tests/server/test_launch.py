"""`charter serve --workers 2`: spawned workers get the settings inside the app factory and
serve from the same database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import free_port

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_two_workers_serve_the_same_database(tmp_path: Path, onnx_cache: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    env.update(CHARTER_DATA_DIR=str(tmp_path / "data"), CHARTER_ONNX_CACHE_DIR=str(onnx_cache),
               CHARTER_LOG_LEVEL="warning")
    charter = [sys.executable, "-c", "from charter.cli.app import main; main()"]
    added = subprocess.run([*charter, "users", "add", "ann@example.com", "--roles", "admin"],
                           env=env, capture_output=True, text=True, check=True)
    key = re.search(r"chk_\S+", added.stdout).group(0)
    port = free_port()
    server = subprocess.Popen([*charter, "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                          headers={"Authorization": f"Bearer {key}"})
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            try:
                if client.get("/api/me").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the server did not answer within 180 s")
        assert len(_children(server.pid)) >= 2  # the supervisor's spawned workers
        # Users added through either worker are seen by the other: one database.
        for i in range(6):
            made = client.post("/api/users", json={"id": f"u{i}@example.com"})
            assert made.status_code == 200, made.text
        listed = {u["id"] for u in client.get("/api/users").json()}
        assert {f"u{i}@example.com" for i in range(6)} <= listed
        events = [e["event"] for e in client.get("/api/audit?event=user.added").json()]
        assert len(events) == 7  # ann from the CLI and the six added here
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
