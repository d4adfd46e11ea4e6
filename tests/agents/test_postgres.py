"""Runs on PostgreSQL: DBOS keeps its steps in a schema of Charter's own database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from charter.agents import engine
from charter.agents import runs as R
from charter.backends import registry
from charter.core.config import Settings
from charter.core.principal import local_admin
from charter.runtime import Runtime
from charter.services import agents
from tests.agents.conftest import scripted, team


@pytest.fixture
def pg_rt(settings: Settings, pg_url: str) -> Iterator[Runtime]:
    rt = Runtime.open(settings.with_overrides(database_url=pg_url))
    yield rt
    engine.shutdown()
    rt.close()
    registry.clear_cache()


def test_a_run_on_postgresql_completes_and_resumes_from_its_stored_steps(
        pg_rt: Runtime) -> None:
    scripted(pg_rt, "pg-agent", ['CALL calculator {"expression": "6 * 7"}', "It is 42.",
                                 "unused"])
    spec = team("pg", "sequential", {"solo": {"tools": ["calculator"], "model": "pg-agent"}},
                budget={"steps": 1})
    run = agents.start(pg_rt, local_admin(), "pg", "What is 6 times 7?", team_spec=spec)
    stopped = agents.wait(pg_rt, local_admin(), run.id, timeout=60)
    assert stopped.status == R.BUDGET_EXHAUSTED
    agents.resume(pg_rt, local_admin(), run.id, budget={"steps": 4})
    done = agents.wait(pg_rt, local_admin(), run.id, timeout=60)
    assert done.status == R.COMPLETED and done.answer == "It is 42."
    assert pg_rt.db.workflow_url().startswith("postgresql")
    kinds = [s["kind"] for s in agents.steps(pg_rt, local_admin(), run.id)
             if s["kind"] in ("model", "tool")]
    assert kinds == ["model", "tool", "model"]
    assert len(pg_rt.audit.records(event="chat")) == 2  # the first step was not made again


def test_two_server_processes_share_queued_runs_without_running_one_twice(
        pg_rt: Runtime, pg_url: str, tmp_path) -> None:  # noqa: ANN001
    import os
    import subprocess
    import sys
    import time
    from collections import Counter
    from pathlib import Path

    scripted(pg_rt, "pg-agent", ["Answer one.", "Answer two."], delay=0.2)
    child = str(Path(__file__).with_name("worker_child.py"))
    env = {**os.environ, "CHARTER_DATA_DIR": pg_rt.settings.values["data_dir"],
           "CHARTER_ONNX_CACHE_DIR": pg_rt.settings.values["onnx_cache_dir"],
           "PYTHONPATH": str(Path(__file__).parents[2])}
    workers = [subprocess.Popen([sys.executable, child, pg_url, str(tmp_path), str(i)],
                                env=env, stdout=subprocess.DEVNULL,
                                stderr=open(tmp_path / f"worker-{i}.log", "w"))
               for i in range(2)]
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready-{i}").exists() for i in range(2)):
            assert time.monotonic() < deadline, (tmp_path / "worker-0.log").read_text()[-2000:]
            time.sleep(0.2)
        # This process only enqueues: its engine does not work the queue.
        engine.launch(agents.RuntimePorts(pg_rt), database_url=pg_rt.db.workflow_url(),
                      listen=False)
        spec = team("pg", "sequential", {"one": {"model": "pg-agent"},
                                         "two": {"model": "pg-agent"}})
        pg_rt.settings.values["agents_max_active"] = 50
        ids = [agents.start(pg_rt, local_admin(), "pg", f"Task {i}.", team_spec=spec,
                            background=True).id for i in range(8)]
        done = [agents.wait(pg_rt, local_admin(), i, timeout=120) for i in ids]
    finally:
        (tmp_path / "stop").write_text("stop")
        for w in workers:
            w.wait(timeout=60)
    assert [d.status for d in done] == [R.COMPLETED] * 8
    made = Counter(r.payload["origin"].split(":")[0] for r in pg_rt.audit.records(event="chat"))
    assert made == {i: 2 for i in ids}  # each run's two steps, each made once
    executors = {d.executor for d in done}
    assert len(executors) == 2, executors  # both servers took runs
