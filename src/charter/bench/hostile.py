"""Hostile input against a running server: crafted files and a 9.9 MiB chat message.

Starts ``charter serve`` on a fresh data folder (scripted chat aliases, so a chat's
latency is Charter's own), keeps one client chatting in the background the whole time,
and for each case sends the crafted input the way an attacker or a careless admin
would: an upload through ``POST /api/documents`` or a chat message through
``/v1/chat/completions``. Reported per case: the status and error code of the answer,
the seconds to it (for a background job: to the 202, and to the job's end), the
server's peak resident memory during the case (``VmHWM``, reset before each case), and
the background chat's p50 and worst latency while the case ran, beside its p50 alone.

``server_src`` runs the server from another checkout's ``src`` folder (its data folder
prepared by that checkout's own code), so the same cases measure the code before a
change and after it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charter.bench import crafted
from charter.bench.gateway import _free_port, _percentile, _server_command, _wait, stop
from charter.core.routes import FAST

MESSAGE_MIB = 9.9


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # upload | chat
    make: Callable[[Path], Path] | None = None  # uploads: the crafted file


CASES: tuple[Case, ...] = (
    Case("2.5 KB heading line of spaces (.md)", "upload", crafted.heading_spaces),
    Case("1 KB page tree of 10,000 pages (.pdf)", "upload", crafted.pdf_page_tree),
    Case("27 KB of 3 million empty paragraphs (.docx)", "upload",
         crafted.docx_empty_paragraphs),
    Case("200 KB zip bomb, 200 MiB of one letter (.docx)", "upload", crafted.docx_one_run),
    Case("5 KB table of 2,000 vertically merged rows (.docx)", "upload",
         crafted.docx_merged_table),
    Case("100,000 nested elements (.html)", "upload", crafted.html_deep),
    Case("600,000 one-word rows (.csv)", "upload",
         lambda folder: crafted.csv_many_rows(folder, rows=600_000)),
    Case("array nested 100,000 deep (.jsonl)", "upload", crafted.jsonl_deep),
    Case(f"{MESSAGE_MIB} MiB chat message", "chat"),
)

# Run in the server's own interpreter and code: a data folder with scripted chat aliases,
# one unlimited user and one admin; prints their keys.
_PREPARE = """
import json, sys
from charter.core.aliases import AliasConfig
from charter.core.config import load_settings
from charter.runtime import Runtime
rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": sys.argv[1]}))
for name in ("fast", "thinking", "mini", "pro"):
    rt.aliases.remove(name)
    rt.aliases.add(AliasConfig(name, "scripted", "", {"replies": ["ok"]}))
rt.accounts.add_user("bench", roles=["user"], tier="bench")
rt.accounts.add_user("bench-admin", roles=["admin"], tier="bench")
for route in ("fast", "thinking", "mini", "pro"):
    rt.quotas.set_limit("bench", route, window_s=3600, max_requests=None, max_tokens=None)
print(json.dumps({"user": rt.accounts.create_key("bench")[1],
                  "admin": rt.accounts.create_key("bench-admin")[1]}))
rt.close()
"""


# Run in a fresh interpreter (the checkout's code): load and chunk one file, print the
# outcome, the seconds and the peak resident memory.
_LOAD_ONE = """
import json, sys, time
from pathlib import Path
from charter.knowledge.chunking import chunk_document
from charter.knowledge.loaders import load
began = time.perf_counter()
try:
    docs = load(Path(sys.argv[1]))
    chunks = sum(len(chunk_document(d, size=1000, overlap=150)) for d in docs)
    outcome = f"{len(docs)} document(s), {chunks} chunks"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {getattr(exc, 'message', str(exc))}"
# VmHWM, not ru_maxrss: the latter starts from the parent's size at fork.
peak = next(int(line.split()[1]) for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps({"seconds": time.perf_counter() - began, "outcome": outcome,
                  "peak_rss_mb": round(peak / 1024, 1)}))
"""

# The worst crafted file of each loader (what `loaders` measures in-process).
LOADER_CASES: tuple[tuple[str, Callable[[Path], Path]], ...] = (
    ("markdown: 9.9 MiB single line of prose", crafted.one_line_prose),
    ("text: 9.9 MiB single line of prose", lambda f: crafted.one_line_prose(f, suffix=".txt")),
    ("pdf: 1 KB page tree of 10,000 pages", crafted.pdf_page_tree),
    ("docx: 27 KB of 3 million empty paragraphs", crafted.docx_empty_paragraphs),
    ("docx: table of 2,000 vertically merged rows", crafted.docx_merged_table),
    ("html: 100,000 nested elements", crafted.html_deep),
    ("csv: 1 million one-word rows", crafted.csv_many_rows),
    ("jsonl: array nested 100,000 deep", crafted.jsonl_deep),
)


def loaders(*, server_src: Path | None = None, limit_s: float = 300.0,
            log: Callable[[str], None] = lambda _: None) -> list[dict[str, Any]]:
    """Each loader's worst crafted file loaded and chunked in a fresh process (this
    checkout's code, or ``server_src``'s): seconds, peak resident memory, outcome."""
    env = dict(os.environ)
    if server_src is not None:
        env["PYTHONPATH"] = str(server_src.resolve())
    rows = []
    with tempfile.TemporaryDirectory(prefix="charter-bench-loaders-") as tmp:
        for name, make in LOADER_CASES:
            log(f"  {name}")
            path = make(Path(tmp))
            size = path.stat().st_size
            try:
                done = subprocess.run([sys.executable, "-c", _LOAD_ONE, str(path)], env=env,
                                      capture_output=True, text=True, timeout=limit_s)
                row = json.loads(done.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                row = {"seconds": limit_s, "outcome": f"still running after {limit_s:g} s",
                       "peak_rss_mb": None}
            except (IndexError, ValueError):
                row = {"seconds": None, "outcome": f"crashed: {done.stderr.strip()[-200:]}",
                       "peak_rss_mb": None}
            path.unlink()
            rows.append({"file": name, "bytes": size, **row})
    return rows


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak(pid: int) -> None:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass  # not permitted: the peak then covers the whole run so far


@dataclass
class _Chatter:
    """One client chatting in a loop; latencies (s) with their start times."""

    url: str
    key: str
    samples: list[tuple[float, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import httpx

        body = {"model": FAST, "messages": [{"role": "user",
                                                "content": "How many days of leave carry over?"}]}
        with httpx.Client(base_url=self.url, timeout=300,
                          headers={"Authorization": f"Bearer {self.key}"}) as c:
            while not self._stop.is_set():
                began = time.perf_counter()
                c.post("/v1/chat/completions", json=body)
                self.samples.append((began, time.perf_counter() - began))
                time.sleep(0.05)

    def between(self, start: float, end: float) -> list[float]:
        """Latencies of the chats that overlapped [start, end]."""
        return [lat for t, lat in self.samples if t <= end and t + lat >= start]


def _follow_job(client: Any, url: str, limit_s: float) -> tuple[dict[str, Any], float]:
    began = time.perf_counter()
    job: dict[str, Any] = {}
    while time.perf_counter() - began < limit_s:
        job = client.get(url).json()
        if job.get("state") in ("done", "failed"):
            break
        time.sleep(0.1)
    return job, time.perf_counter() - began


def _outcome(r: Any) -> tuple[int, str]:
    try:
        body = r.json()
    except ValueError:
        return r.status_code, r.text[:80]
    if isinstance(body, dict) and "error" in body:
        return r.status_code, f"{body['error'].get('code')}: {body['error'].get('message')}"
    return r.status_code, "ok"


def run(*, server_src: Path | None = None, cases: tuple[Case, ...] = CASES,
        job_limit_s: float = 120.0, log: Callable[[str], None] = lambda _: None
        ) -> dict[str, Any]:
    """``{"alone_p50_ms", "cases": [...]}``: one row per case (see the module's text)."""
    import httpx

    env = {**os.environ, "CHARTER_LOG_LEVEL": "error", "CHARTER_RATE_LIMIT_PER_MINUTE": "0",
           "CHARTER_AUTH_FAILURES_PER_MINUTE": "0"}
    if server_src is not None:
        env["PYTHONPATH"] = str(server_src.resolve())
    with tempfile.TemporaryDirectory(prefix="charter-bench-hostile-") as tmp:
        data = Path(tmp) / "data"
        env["CHARTER_DATA_DIR"] = str(data)
        keys = json.loads(subprocess.run([sys.executable, "-c", _PREPARE, str(data)], env=env,
                                         capture_output=True, text=True, check=True)
                          .stdout.strip().splitlines()[-1])
        port = _free_port()
        server = subprocess.Popen(_server_command(port, 1, None), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        chatter = _Chatter(url, keys["user"])
        rows: list[dict[str, Any]] = []
        alone: list[float] = []
        try:
            _wait(url, keys["user"], server)
            thread = threading.Thread(target=chatter.run, daemon=True)
            thread.start()
            time.sleep(3.0)
            alone = [lat for _, lat in chatter.samples[5:]]
            folder = Path(tmp) / "files"
            folder.mkdir()
            with httpx.Client(base_url=url, timeout=900,
                              headers={"Authorization": f"Bearer {keys['admin']}"}) as admin:
                for case in cases:
                    log(f"  {case.name}")
                    # The input is made before the clock starts: making it holds this
                    # process's GIL, and the background chat's client runs here too.
                    if case.kind == "upload":
                        assert case.make is not None
                        path = case.make(folder)
                        payload = path.read_bytes()
                        path.unlink()
                        target = ("/api/documents", {"filename": path.name}, {})
                    else:
                        text = "Please summarise this. " * int(MESSAGE_MIB * (1 << 20) / 23)
                        payload = json.dumps({"messages": [{"role": "user",
                                                            "content": text}]}).encode()
                        target = ("/v1/chat/completions", {},
                                  {"Content-Type": "application/json"})
                    row: dict[str, Any] = {"case": case.name, "bytes": len(payload)}
                    _reset_peak(server.pid)
                    start = time.perf_counter()
                    r = admin.post(target[0], params=target[1], headers=target[2],
                                   content=payload)
                    seconds = time.perf_counter() - start
                    row["status"], row["answer"] = _outcome(r)
                    row["seconds"] = round(seconds, 3)
                    if r.status_code == 202:
                        job, waited = _follow_job(admin, r.json()["url"], job_limit_s)
                        row["job_state"] = job.get("state", "?")
                        row["job_seconds"] = round(seconds + waited, 3)
                        if job.get("error"):
                            row["answer"] = (f"{job['error']['error']['code']}: "
                                             f"{job['error']['error']['message']}")
                    end = time.perf_counter()
                    during = chatter.between(start, end)  # empty: no chat overlapped
                    row["peak_rss_mb"] = round(_peak_mb(server.pid), 1)
                    row["chat_p50_ms"] = round(_percentile(during, 0.5) * 1000, 1) \
                        if during else None
                    row["chat_max_ms"] = round(max(during) * 1000, 1) if during else None
                    rows.append(row)
                    time.sleep(0.5)
        finally:
            chatter._stop.set()
            stop(server)
    return {"alone_p50_ms": round(_percentile(alone, 0.5) * 1000, 1) if alone else None,
            "cases": rows}
