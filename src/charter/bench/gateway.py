"""`charter bench gateway`: what the gateway adds over the backend call, through HTTP.

The default (``backend="mock"``) is the path ordinary requests take: a mock
OpenAI-compatible model server (``bench/mock_model.py``, 150 ms per answer give or take
the jitter) behind ``openai_compat`` aliases, the demo handbook ingested (its HR part
confidential to group hr, so the bench user's searches run filtered), a finite quota and
workplace questions that retrieve. The overhead of a request is its latency at the client
minus the mock's time for that question, which the client computes itself
(``mock_model.delay_ms``), so that a peer proxy in front of the same mock
(``peer="litellm"``) is measured the same way. Server CPU per request is the server's
process tree's CPU over a load level divided by its requests (``bench/process.py``).

``backend="scripted"`` is the floor described below.

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
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from charter.bench.mock_model import delay_ms
from charter.bench.pg import postgres
from charter.bench.process import cpu_seconds, peak_rss_mb
from charter.core.errors import CharterError, InvalidInputError
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

# The mock backend's questions: about the demo handbook, so that each one retrieves.
WORKPLACE = ["How many days of annual leave do I get in year {i}?",
             "What is the hotel limit per night for trip {i}?",
             "How do I file expense claim {i}?",
             "Is a doctor's note needed for sick leave case {i}?",
             "Which trains may I book for journey {i}?",
             "What is the mileage rate for drive {i}?",
             "How much parental leave applies to request {i}?",
             "Can I work remotely from abroad for week {i}?"]
MOCK_MS = 150.0  # the mock model's time per answer, as in the measurement
BACKENDS = ("mock", "scripted")
PEERS = ("litellm",)
DATABASES = ("sqlite", "postgres")
PEER_KEY = "sk-charter-bench-peer"
UNMONITORED = "charter unmonitored"  # the same server with metrics and drift off
HANDBOOK = Path(__file__).resolve().parents[3] / "examples" / "handbook"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _prepare(data_dir: Path, delay_s: float = 0.0, jitter: float = 0.0,
             mock_url: str | None = None, database_url: str = "") -> str:
    """Database with the bench's aliases and one user; returns its API key.

    Scripted: aliases that answer in-process, no documents, no quota limit (the floor).
    Mock (``mock_url``): ``openai_compat`` aliases to the mock server, the demo handbook
    ingested as `make demo` does, and a finite quota counted on every request."""
    from charter.core.aliases import AliasConfig
    from charter.core.config import load_settings
    from charter.core.principal import local_admin
    from charter.knowledge.ingest import IngestOptions
    from charter.runtime import Runtime
    from charter.services import documents

    rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": str(data_dir),
                                     "CHARTER_DATABASE_URL": database_url}))
    try:
        for name in ROUTES:
            rt.aliases.remove(name)
            if mock_url is None:
                rt.aliases.add(AliasConfig(name, "scripted", "", {
                    "replies": ["ok"], "delay": delay_s, "delay_jitter": jitter}))
            else:
                rt.aliases.add(AliasConfig(name, "openai_compat", "mock", {
                    "base_url": mock_url, "context_window": 8192}))
        rt.accounts.add_user("bench", roles=["user"], tier="bench")
        if mock_url is None:
            rt.quotas.set_limit("bench", FAST, window_s=3600, max_requests=None, max_tokens=None)
        else:
            admin = local_admin()
            documents.add(rt, admin, [HANDBOOK / "hr"], IngestOptions(
                classification="confidential", groups=("hr",)))
            documents.sync(rt, admin, HANDBOOK, IngestOptions())
            for route in ROUTES:  # finite: every request is counted against it
                rt.quotas.set_limit("bench", route, window_s=86400, max_requests=10_000_000,
                                    max_tokens=None)
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


async def _load(url: str | list[str], key: str, concurrency: int, total: int, offset: int,
                stagger_s: float = 0.0, questions: list[str] | None = None,
                model_ms: Callable[[str], float] | None = None,
                ) -> tuple[list[float], list[float], float, list[float]]:
    """(latency ms, overhead ms, seconds, gateway ms) of ``total`` requests over
    ``concurrency`` connections; gateway ms is the server's own ``charter`` time (0 from
    a server that does not report it). The overhead is the latency minus ``model_ms`` of
    the question when given, else minus the backend time the server reports."""
    questions = questions or QUESTIONS
    urls = [url] if isinstance(url, str) else url  # clients take the servers in turn
    latencies: list[float] = []
    overheads: list[float] = []
    inside: list[float] = []
    counter = iter(range(total))

    async def worker(k: int) -> None:
        host, port = urls[k % len(urls)].removeprefix("http://").split(":")
        conn = _Connection(host, int(port), key)
        # Clients start spread over one model call, as independent users would.
        await asyncio.sleep(stagger_s * k / concurrency)
        try:
            for i in counter:
                n = offset + i
                question = questions[n % len(questions)].format(i=n)
                body = {"model": AUTO, "messages": [{"role": "user", "content": question}]}
                t0 = time.perf_counter()
                status, headers, data = await conn.post("/v1/chat/completions", body)
                took = (time.perf_counter() - t0) * 1000
                if status != 200:
                    raise CharterError(f"bench request failed: {status} {data[:200]!r}")
                latencies.append(took)
                model = model_ms(question) if model_ms is not None else backend_ms(headers)
                overheads.append(max(took - model, 0.0))
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


def run(requests_c1: int = 200, requests_c50: int = 1000, *, backend: str = "mock",
        backend_ms: float | None = None, workers: int = 1, jitter: float = DEFAULT_JITTER,
        floors: bool = False, peer: str | None = None, peer_python: Path | None = None,
        rounds: int = 1, database: str = "sqlite", servers: int = 1,
        unmonitored: bool = False,
        log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Charter's figures per load level (``{"c1": S, "c50": S}``, the median over
    ``rounds``), each round's in ``"rounds"``, and with ``peer`` the peer's beside them in
    ``"peers"``; Charter and the peer alternate within each round. ``floors`` (scripted
    backend only) adds ``{"floors": {name: {"c1": S, "c50": S}}}``. ``servers`` Charter
    processes (each with ``workers`` workers) share one database, ``database``: sqlite (a
    file) or postgres (a PostgreSQL 16 started from the pgserver package); the clients
    take them in turn, and the peer then runs ``servers * workers`` workers.
    ``unmonitored`` (mock backend) also runs the same server with metrics and drift
    collection off in each round, alternating, and adds ``{"monitoring": {"unmonitored":
    S}}``: the cost of monitoring is the difference."""
    if database not in DATABASES:
        raise InvalidInputError(f"database must be one of {', '.join(DATABASES)}, not {database!r}")
    if backend not in BACKENDS:
        raise InvalidInputError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if peer is not None and peer not in PEERS:
        raise InvalidInputError(f"peer must be one of {', '.join(PEERS)}, not {peer!r}")
    if peer is not None and backend != "mock":
        raise InvalidInputError("a peer is measured against the mock backend; drop --scripted")
    if backend == "scripted" and (database != "sqlite" or servers != 1):
        raise InvalidInputError("--database and --servers measure the real path; drop --scripted")
    if servers < 1:
        raise InvalidInputError("servers must be at least 1")
    if unmonitored and backend != "mock":
        raise InvalidInputError("--unmonitored compares the real path; drop --scripted")
    if floors and backend != "scripted":
        raise InvalidInputError("the floors are reference servers for the scripted backend; add "
                           "--scripted")
    peer_bin = _peer_bin(peer_python) if peer else None
    ms = backend_ms if backend_ms is not None else (MOCK_MS if backend == "mock" else
                                                    DEFAULT_BACKEND_MS)
    with tempfile.TemporaryDirectory(prefix="charter-bench-gw-") as tmp:
        data = Path(tmp) / "data"
        if backend == "scripted":
            key = _prepare(data, ms / 1000, jitter)
            load = Load(requests_c1, requests_c50, ms, jitter, QUESTIONS, None)
            out = _measure(Server.charter(data, workers, None), key, load, log)
            if floors:
                out["floors"] = {name: _measure(Server.charter(data, workers, name), key, load,
                                                log) for name in FLOORS}
            return out
        mock = _start_mock(ms, jitter)
        stack = contextlib.ExitStack()
        try:
            url = stack.enter_context(_database(database, Path(tmp)))
            key = _prepare(data, mock_url=mock.url + "/v1", database_url=url)
            load = Load(requests_c1, requests_c50, ms, jitter, WORKPLACE,
                        lambda q: delay_ms(q, ms, jitter))
            log(f"mock model on {mock.url}: {ms:g} ms +-{jitter * 100:g} % per answer; demo "
                "handbook ingested")
            per_round: list[dict[str, Any]] = []
            for r in range(rounds):
                got: dict[str, Any] = {"charter": _measure(
                    Server.charter(data, workers, None, url), key, load, log,
                    f"round {r + 1}", copies=servers)}
                if unmonitored:
                    got[UNMONITORED] = _measure(
                        Server.charter(data, workers, None, url, monitored=False), key, load,
                        log, f"round {r + 1}", copies=servers)
                if peer_bin is not None:
                    got[peer] = _measure(Server.litellm(peer_bin, Path(tmp), mock.url + "/v1",
                                                        workers * servers), PEER_KEY, load,
                                         log, f"round {r + 1}")
                per_round.append(got)
            out = {"backend": backend, "backend_ms": ms, "workers": workers,
                   "servers": servers, "database": database,
                   **_median([g["charter"] for g in per_round]), "rounds": per_round}
            if peer is not None:
                out["peers"] = {peer: _median([g[peer] for g in per_round])}
            if unmonitored:
                out["monitoring"] = {"unmonitored": _median([g[UNMONITORED]
                                                             for g in per_round])}
            return out
        finally:
            stack.close()
            stop(mock.process)


@contextlib.contextmanager
def _database(kind: str, work: Path) -> Iterator[str]:
    """The bench database's URL ("": the data folder's SQLite file)."""
    if kind == "sqlite":
        yield ""
        return
    with postgres(work) as url:
        yield url


@dataclass(frozen=True)
class Load:
    """What each server is sent: requests per level, questions, the model's time."""

    requests_c1: int
    requests_c50: int
    backend_ms: float
    jitter: float
    questions: list[str]
    model_ms: Callable[[str], float] | None  # per question; None: Server-Timing's backend


@dataclass(frozen=True)
class Server:
    """A server the bench starts: its command, environment and readiness check."""

    label: str
    command: Callable[[int], list[str]]  # for a port
    env: dict[str, str]
    ready_path: str

    @classmethod
    def charter(cls, data: Path, workers: int, floor: str | None,
                database_url: str = "", monitored: bool = True) -> Server:
        env = {**os.environ, "CHARTER_DATA_DIR": str(data), "CHARTER_RATE_LIMIT_PER_MINUTE": "0",
               "CHARTER_LOG_LEVEL": "warning", "CHARTER_DATABASE_URL": database_url}
        if not monitored:  # no Prometheus counting, no drift samples or checks
            env.update(CHARTER_METRICS="false", CHARTER_DRIFT="false")
        label = f"floor {floor}" if floor else "charter" if monitored else UNMONITORED
        return cls(label, lambda port: _server_command(port, workers, floor), env, "/api/me")

    @classmethod
    def litellm(cls, binary: Path, work: Path, mock_v1: str, workers: int) -> Server:
        config = work / "litellm.yaml"
        config.write_text(
            "model_list:\n"
            f"  - model_name: {AUTO}\n"
            "    litellm_params:\n"
            "      model: openai/mock\n"
            f"      api_base: {mock_v1}\n"
            "      api_key: not-needed\n"
            "general_settings:\n"
            f"  master_key: {PEER_KEY}\n"
            "litellm_settings:\n"
            "  telemetry: false\n")
        # Offline: the model price list ships inside the package; nothing is fetched.
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
               "LITELLM_TELEMETRY": "False", "NO_DOCS": "True"}
        return cls("litellm", lambda port: [
            str(binary), "--config", str(config), "--host", "127.0.0.1", "--num_workers",
            str(workers), "--port", str(port)], env, "/v1/models")


def _peer_bin(python: Path | None) -> Path:
    """The peer's ``litellm`` command, beside ``python`` (default: .bench-peer/bin)."""
    folder = (python.parent if python is not None else
              Path(__file__).resolve().parents[3] / ".bench-peer" / "bin")
    binary = folder / "litellm"
    if not binary.is_file():
        raise InvalidInputError(
            f"LiteLLM's proxy is not installed at {binary}; run scripts/bench-peer.sh (it "
            "installs litellm[proxy] into .bench-peer, apart from Charter) or pass "
            "--peer-python PATH to that environment's python")
    return binary


def _median(levels: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over rounds, per load level (and the peak memory)."""
    out: dict[str, Any] = {}
    for name in ("c1", "c50"):
        out[name] = {k: round(statistics.median(r[name][k] for r in levels), 2)
                     for k in levels[0][name]}
    out["peak_rss_mb"] = round(statistics.median(r["peak_rss_mb"] for r in levels), 1)
    return out


@dataclass(frozen=True)
class _Mock:
    url: str
    process: subprocess.Popen[bytes]


def _start_mock(ms: float, jitter: float) -> _Mock:
    port = _free_port()
    process = spawn(
        [sys.executable, "-c", "import sys; from charter.bench.mock_model import serve; "
         "serve(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]))",
         str(port), str(ms), str(jitter)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CharterError(f"the mock model server exited: {stderr_tail(process)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return _Mock(url, process)
        except OSError:
            time.sleep(0.1)
    stop(process)
    raise CharterError("the mock model server did not start within 30 s")


def _measure(server: Server, key: str, load: Load, log: Callable[[str], None],
             tag: str = "", copies: int = 1) -> dict[str, Any]:
    """One server's figures per load level; ``copies`` processes of it side by side,
    their CPU and memory summed."""
    ports = [_free_port() for _ in range(copies)]
    processes = [spawn(server.command(port), server.env) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    url: str | list[str] = urls[0] if copies == 1 else urls
    label = f"{server.label} ({tag})" if tag else server.label
    if copies > 1:
        label += f" x{copies}"

    def cpu() -> float:
        return sum(cpu_seconds(p.pid) for p in processes)

    try:
        for u, p in zip(urls, processes, strict=True):
            _wait(u, key, p, server.ready_path)
        spread = f" +-{load.jitter * 100:g} %" if load.backend_ms and load.jitter else ""
        log(f"{label}: up on {', '.join(urls)}; the model takes {load.backend_ms:g} ms{spread} per call")
        # Every question is distinct (numbered), so no answer or screening is reused.
        warm = load.requests_c1 + load.requests_c50
        asyncio.run(_load(url, key, 8, 200, warm, questions=load.questions,
                          model_ms=load.model_ms))  # warm-up: model loads, caches
        out: dict[str, Any] = {}
        for name, conc, total, offset in (("c1", 1, load.requests_c1, 0),
                                          ("c50", 50, load.requests_c50, load.requests_c1)):
            cpu0 = cpu()
            lat, over, seconds, inside = asyncio.run(_load(
                url, key, conc, total, offset, load.backend_ms / 1000, load.questions,
                load.model_ms))
            spent = cpu() - cpu0
            out[name] = {"overhead_p50_ms": round(statistics.median(over), 2),
                         "overhead_p99_ms": round(_percentile(over, 0.99), 2),
                         "rps": round(total / seconds, 1), "requests": total,
                         "latency_p50_ms": round(statistics.median(lat), 2),
                         # The server's own time (spine, minus the backend), without HTTP
                         # or waiting for a thread: what proxies such as LiteLLM report.
                         "gateway_p50_ms": round(statistics.median(inside), 2),
                         "gateway_p99_ms": round(_percentile(inside, 0.99), 2),
                         "cpu_ms_per_request": round(spent * 1000 / total, 2)}
            log(f"{label} {name}: {out[name]}")
        out["peak_rss_mb"] = round(sum(peak_rss_mb(p.pid) for p in processes), 1)
        return out
    finally:
        for p in processes:
            stop(p)


# Each started process's error output goes to a file, never to a pipe nobody reads (a
# full pipe would block the server mid-run); read back when a process fails to start.
_stderr: dict[int, IO[bytes]] = {}


def spawn(command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    _stderr[process.pid] = log
    return process


def stderr_tail(process: subprocess.Popen[bytes]) -> str:
    log = _stderr.get(process.pid)
    if log is None:
        return ""
    log.seek(0)
    return log.read().decode(errors="replace").strip()[-500:]


def stop(server: subprocess.Popen[bytes]) -> None:
    """End a bench server: politely, then for good after 15 s."""
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log = _stderr.pop(server.pid, None)
    if log is not None:
        log.close()


def _wait(url: str, key: str, server: subprocess.Popen[bytes], path: str = "/api/me") -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CharterError(f"the bench server exited: {stderr_tail(server)}")
        try:
            if httpx.get(url + path, headers={"Authorization": f"Bearer {key}"},
                         timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise CharterError("the bench server did not start within 120 s")
