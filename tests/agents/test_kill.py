"""kill -9 at random points of runs that pay through an irreversible tool: every run
completes on restart, and each paid exactly once (the effects file, outside every
process, is the counter)."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from charter.agents import runs as R
from charter.agents.runs import RunRepository
from charter.core.principal import local_admin
from charter.runtime import Runtime
from charter.services import agents
from tests.agents.conftest import scripted

CHILD = str(Path(__file__).with_name("kill_child.py"))
MIN_RUNS, MIN_KILLS, KILLS_PER_RUN = 3, 20, 8


def spawn(rt: Runtime, effects: Path, *args: str) -> subprocess.Popen[str]:
    logs = effects.parent / f"child-{time.monotonic_ns()}.log"
    env = {**os.environ, "CHARTER_DATA_DIR": rt.settings.values["data_dir"],
           "CHARTER_ONNX_CACHE_DIR": rt.settings.values["onnx_cache_dir"],
           "EFFECTS_FILE": str(effects), "PYTHONPATH": str(Path(__file__).parents[2])}
    with logs.open("w") as out:  # a file, not a pipe: a chatty child never blocks on it
        proc = subprocess.Popen([sys.executable, CHILD, *args], env=env, text=True,
                                stdout=out, stderr=subprocess.STDOUT)
    proc.log = logs  # type: ignore[attr-defined]
    return proc


def executing(rt: Runtime, proc: subprocess.Popen[str]) -> str | None:
    """The run this child works on, once it works on it."""
    me = f"{socket.gethostname()}:{proc.pid}"
    for run in RunRepository(rt.db).list(None, 50):
        if run.executor == me and run.status in (R.RUNNING, R.AWAITING_APPROVAL):
            return run.id
    return None


@pytest.mark.integration
@pytest.mark.timeout(1200)
def test_kill_9_at_random_points_every_run_completes_and_pays_once(
        rt: Runtime, tmp_path: Path) -> None:
    scripted(rt, "payer-model", ['CALL pay {"to": "ACME"}', "Paid."], delay=0.3)
    effects = tmp_path / "effects.txt"
    rng = random.Random(20261204)
    kills = 0
    finished: list[str] = []
    while len(finished) < MIN_RUNS or kills < MIN_KILLS:
        proc = spawn(rt, effects, "start")
        run_id: str | None = None
        killed_here = 0
        while True:
            deadline = time.monotonic() + 120
            while executing(rt, proc) is None and proc.poll() is None:
                assert time.monotonic() < deadline, "the child never started the run"
                time.sleep(0.05)
            run_id = run_id or executing(rt, proc)
            assert run_id is not None, proc.log.read_text()[-3000:]
            if killed_here < KILLS_PER_RUN and proc.poll() is None:
                time.sleep(rng.uniform(0.0, 1.2))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
                    killed_here += 1
            try:
                proc.wait(timeout=150)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError("a child hung: " + proc.log.read_text()[-3000:]) from None
            assert proc.returncode in (0, -signal.SIGKILL), proc.log.read_text()[-3000:]
            run = RunRepository(rt.db).get(run_id)
            if run.status == R.COMPLETED:
                break
            assert run.status in R.ACTIVE, (run.status, run.note)
            if run.status == R.AWAITING_APPROVAL and run.waiting \
                    and not run.waiting.get("decided"):
                # A reviewer decides while no process works the run; the next one goes on.
                agents.approve(rt, local_admin(), run_id, approve=True, then="later")
            proc = spawn(rt, effects, "resume", run_id)
        finished.append(run_id)
    assert kills >= MIN_KILLS
    settled = sum(1 for r in finished for st in agents.steps(rt, local_admin(), r)
                  if st.get("reconciled"))
    trace = effects.with_suffix(".trace").read_text().split("\n")
    inside = sum(1 for a, b in zip(trace, trace[1:]) if a.startswith(("begin", "effect"))
                 and not b.startswith(("effect", "end")))
    print(f"\n{kills} kills over {len(finished)} runs; {inside} inside the irreversible "
          f"call; {settled} calls settled by asking the tool after its effect")
    paid = Counter(line.split(":")[0] for line in effects.read_text().split())
    assert {r: paid[r] for r in finished} == {r: 1 for r in finished}, paid
