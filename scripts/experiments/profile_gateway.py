"""Profile Charter's server on the gateway bench's real path with py-spy.

Starts the mock model, prepares the bench database (demo handbook, openai_compat, finite
quota), runs `charter serve` under `py-spy record` (raw collapsed stacks), sends warm-up
and then N requests from one client, and prints where the server's samples went: by
stage (the first Charter frame under the request handler that matches a stage) and the
top self-time frames. py-spy is a bench tool, not a dependency (`pip install py-spy`).

    python scripts/experiments/profile_gateway.py [--requests 300] [--out profile.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import subprocess
import tempfile
import time
from pathlib import Path

from charter.bench import gateway as bench
from charter.bench.mock_model import delay_ms

STAGES = (  # (label, frame substring), first match from the leaf's side wins
    ("screen input: PII model", "pii_model.py"),
    ("screen input: PII patterns", "presidio"),
    ("screen input: charter model", "judgement/runtime.py"),
    ("screen input: embedding", "onnx_encoder.py"),
    ("screen input: other", "policy/"),
    ("retrieval", "knowledge/"),
    ("backend call (openai client, httpx)", "backends/openai_compat.py"),
    ("audit + final writes", "spine/record.py"),
    ("audit + final writes", "audit.py"),
    ("storage (SQLAlchemy, sqlite)", "sqlalchemy"),
    ("routing", "router/"),
    ("quota", "usage.py"),
    ("prompt", "prompt.py"),
    ("spine: other", "spine/"),
    ("HTTP edge (FastAPI, pydantic, JSON)", "fastapi"),
    ("HTTP edge (FastAPI, pydantic, JSON)", "starlette"),
    ("HTTP edge (FastAPI, pydantic, JSON)", "server/"),
    ("ASGI server (uvicorn)", "uvicorn"),
)


def stage_of(stack: str) -> str:
    frames = stack.split(";")
    for label, needle in STAGES:
        if any(needle in f for f in frames):
            return label
    return "other (event loop, threads, idle)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--out", type=Path, default=Path("profile.txt"))
    ap.add_argument("--rate", type=int, default=250)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mock = bench._start_mock(bench.MOCK_MS, 0.2)
        try:
            data = Path(tmp) / "data"
            key = bench._prepare(data, mock_url=mock.url + "/v1")
            server = bench.Server.charter(data, 1, None)
            port = bench._free_port()
            proc = subprocess.Popen(server.command(port), env=server.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}"
            bench._wait(url, key, proc)
            model = lambda q: delay_ms(q, bench.MOCK_MS, 0.2)  # noqa: E731
            asyncio.run(bench._load(url, key, 4, 100, 10_000, questions=bench.WORKPLACE,
                                    model_ms=model))
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(proc.pid), "--format", "raw",
                                    "--rate", str(args.rate), "--output", str(args.out),
                                    "--nonblocking"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            asyncio.run(bench._load(url, key, 1, args.requests, 0, questions=bench.WORKPLACE,
                                    model_ms=model))
            spy.send_signal(2)
            spy.wait(timeout=60)
            bench.stop(proc)
        finally:
            bench.stop(mock.process)
    samples: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in args.out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        if "idle" in stack.lower() or stack.endswith(("select (selectors.py)",
                                                      "wait (threading.py)",
                                                      "_worker (concurrent/futures/thread.py)")):
            continue  # py-spy without --idle leaves most waiting out already
        total += n
        samples[stage_of(stack)] += n
        leaves[stack.split(";")[-1]] += n
    print(f"{total} busy samples over {args.requests} requests at {args.rate} Hz "
          f"({total / args.rate * 1000 / args.requests:.1f} ms of busy thread time per request)")
    for label, n in samples.most_common():
        print(f"  {label:40s} {100 * n / total:5.1f} %  {n / args.rate * 1000 / args.requests:6.2f} ms")
    print("top self-time frames:")
    for frame, n in leaves.most_common(15):
        print(f"  {100 * n / total:5.1f} %  {frame[:110]}")


if __name__ == "__main__":
    main()
