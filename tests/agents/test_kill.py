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
    env = {**os.environ, "CHARTER_DATA_DIR": rt.settings.values["data_dir"],
           "CHARTER_ONNX_CACHE_DIR": rt.settings.values["onnx_cache_dir"],
           "EFFECTS_FILE": str(effects), "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen([sys.executable, CHILD, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def approve_if_asked(rt: Runtime, run_id: str | None) -> None:
    if run_id is None:
        return
    run = RunRepository(rt.db).get(run_id)
    if run.status == R.AWAITING_APPROVAL and run.waiting and not run.waiting.get("decided"):
        agents.approve(rt, local_admin(), run_id, approve=True, note="test")


def executing(rt: Runtime, proc: subprocess.Popen[str], known: set[str]) -> str | None:
    """The run this child works on, once it works on it."""
    me = f"{socket.gethostname()}:{proc.pid}"
    for run in RunRepository(rt.db).list(None, 50):
        if run.executor == me and run.status in (R.RUNNING, R.AWAITING_APPROVAL):
            return run.id
    return None


@pytest.mark.integration
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
        known = {r.id for r in RunRepository(rt.db).list(None, 50)}
        killed_here = 0
        while True:
            deadline = time.monotonic() + 120
            while executing(rt, proc, known) is None and proc.poll() is None:
                assert time.monotonic() < deadline, "the child never started the run"
                approve_if_asked(rt, run_id)
                time.sleep(0.05)
            run_id = run_id or executing(rt, proc, known)
            if killed_here < KILLS_PER_RUN and proc.poll() is None:
                until = time.monotonic() + rng.uniform(0.0, 1.2)
                while time.monotonic() < until and proc.poll() is None:
                    approve_if_asked(rt, run_id)
                    time.sleep(0.05)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    killed_here += 1
                    if RunRepository(rt.db).get(run_id).status not in R.ACTIVE:
                        break  # it had finished; the kill landed as the process ended
                    proc = spawn(rt, effects, "resume", run_id)
                    continue
            while proc.poll() is None:
                approve_if_asked(rt, run_id)
                time.sleep(0.05)
            out, err = proc.communicate()
            assert proc.returncode == 0, err[-3000:]
            break
        run = RunRepository(rt.db).get(run_id)
        assert run.status == R.COMPLETED, (run.status, run.note)
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
