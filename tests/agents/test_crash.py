"""A run whose process dies mid-run resumes from its last completed step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from charter.agents import runs as R
from charter.agents.runs import RunRepository
from charter.core.principal import local_admin
from charter.runtime import Runtime
from charter.services import agents
from tests.agents.conftest import scripted

CHILD = str(Path(__file__).with_name("crash_child.py"))


def child(rt: Runtime, *args: str, crash: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHARTER_DATA_DIR": rt.settings.values["data_dir"],
           "CHARTER_ONNX_CACHE_DIR": rt.settings.values["onnx_cache_dir"],
           "CRASH": "1" if crash else "0",
           "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.run([sys.executable, CHILD, *args], env=env, capture_output=True,
                          text=True, timeout=240)


def test_a_run_killed_inside_a_step_resumes_without_repeating_completed_steps(
        rt: Runtime) -> None:
    scripted(rt, "crashy", ["CALL flaky {}", "finished with the flaky result"])
    first = child(rt, "start", crash=True)
    assert first.returncode == 9, first.stderr[-2000:]
    (run,) = RunRepository(rt.db).list()
    assert run.status == R.RUNNING
    (before,) = rt.audit.records(event="chat")  # the model step done before the crash
    second = child(rt, "resume", run.id, crash=False)
    assert second.returncode == 0, second.stderr[-2000:]
    out = json.loads(second.stdout.strip().splitlines()[-1])
    assert out["status"] == R.COMPLETED
    assert out["answer"] == "finished with the flaky result"
    steps = agents.steps(rt, local_admin(), run.id)
    models = [s for s in steps if s["kind"] == "model"]
    # The first step is the one made before the crash, replayed from DBOS: every model
    # call made in either process is one stored step, none made twice.
    assert models[0]["request_id"] == before.request_id
    chats = rt.audit.records(event="chat")
    assert sorted(c.request_id for c in chats) == sorted(m["request_id"] for m in models)
    tools = [s for s in steps if s["kind"] == "tool"]
    assert len(tools) == 1 and tools[0]["result"] == "flaky result"
