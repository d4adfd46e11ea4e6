"""`charter serve --workers 2`: spawned workers get the settings inside the app factory and
serve from the same database."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from charter.core.config import load_settings
from charter.server.launch import worker_factory
from tests.server.conftest import free_port



def _workers(pid: int) -> dict[int, float]:
    """The server's spawned worker processes and the CPU seconds each has used
    (multiprocessing's resource tracker, also a child, is left out)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if int(fields[1]) == pid and "spawn_main" in command and "resource_tracker" not in command:
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def test_each_worker_gets_its_settings_inside_the_factory(tmp_path: Path) -> None:
    settings = load_settings({"CHARTER_DATA_DIR": str(tmp_path / "elsewhere"),
                              "CHARTER_SERVER_WARMUP": "false"})
    # What a spawned worker receives: the factory, pickled, with the settings in it.
    factory = pickle.loads(pickle.dumps(worker_factory(settings)))
    app = factory()
    try:
        assert app.state.runtime.settings.data_path == tmp_path / "elsewhere"
        assert (tmp_path / "elsewhere" / "charter.db").is_file()
    finally:
        app.state.runtime.close()


@pytest.mark.slow
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
        before = _workers(server.pid)
        assert len(before) == 2, before
        # New connections each time, so that both workers accept some: users added
        # through either one are seen by the other (one database).
        for i in range(40):
            with httpx.Client(base_url=client.base_url, headers=client.headers,
                              timeout=30) as fresh:
                made = fresh.post("/api/users", json={"id": f"u{i}@example.com"})
            assert made.status_code == 200, made.text
        after = _workers(server.pid)
        assert all(after[w] > before[w] for w in before), (before, after)
        listed = {u["id"] for u in client.get("/api/users").json()}
        assert {f"u{i}@example.com" for i in range(40)} <= listed
        events = [e["event"] for e in client.get("/api/audit?event=user.added").json()]
        assert len(events) == 41  # ann from the CLI and the forty added here
        # Each worker counts the chat requests it serves; a scrape of either sums both.
        for _ in range(24):
            with httpx.Client(base_url=client.base_url, headers=client.headers,
                              timeout=60) as fresh:
                asked = fresh.post("/v1/chat/completions", json={"messages": [
                    {"role": "user", "content": "What time does the canteen open?"}]})
            assert asked.status_code == 200, asked.text
        from prometheus_client.parser import text_string_to_metric_families

        for _ in range(2):  # whichever worker answers the scrape
            with httpx.Client(base_url=client.base_url, headers=client.headers,
                              timeout=30) as fresh:
                scraped = fresh.get("/metrics")
            assert scraped.status_code == 200, scraped.text
            served = sum(s.value for f in text_string_to_metric_families(scraped.text)
                         for s in f.samples if s.name == "charter_requests_total")
            assert served == 24
        writers = {p.stem.rsplit("_", 1)[-1] for p in (tmp_path / "data" / "metrics").iterdir()
                   if p.name.startswith("counter_")}
        assert len(writers) == 2, writers  # both workers counted requests
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
