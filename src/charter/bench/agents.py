"""`charter bench agents`: what a run costs as it grows.

A single agent calls the calculator ``n - 1`` times and then answers, for growing ``n``,
on a scripted model (no generation time, so what is timed is Charter's): tokens per model
step against the step count (windowed context keeps it flat, so a run's tokens grow
linearly, not with the square of its steps), and the engine's overhead per step (the
run's time less the time inside model calls and tools: DBOS's step records, the run
row, budget checks, the charter's screening of each tool call and result). Each model
call is still a full governed chat request (screening, routing, audit); its time is
reported beside the overhead. The span timed is from the first step's start to the last
step's end as DBOS recorded them, so the client's polling for the end is left out.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from charter.agents import engine
from charter.core.aliases import AliasConfig
from charter.core.config import Settings
from charter.core.principal import local_admin


def _team(n: int) -> dict[str, Any]:
    return {"agents": {"counter": {"role": "Counter", "tools": ["calculator"],
                                   "model": "bench-agent"}},
            "teams": {"count": {"members": ["counter"],
                                "budget": {"steps": n, "tool_calls": n, "tokens": 5_000_000,
                                           "wall_seconds": 86_400.0}}}}


def run(settings: Settings, sizes: tuple[int, ...] = (4, 8, 16, 32)) -> dict[str, Any]:
    from charter.runtime import Runtime
    from charter.services import agents, setup

    rows = []
    with tempfile.TemporaryDirectory(prefix="charter-bench-agents-") as tmp:
        rt = Runtime.open(settings.with_overrides(data_dir=str(Path(tmp) / "data")))
        try:
            setup.warm_up(rt)
            for n in sizes:
                replies = [f'CALL calculator {{"expression": "{i} * 7919"}}'
                           for i in range(1, n)] + ["Done."]
                rt.aliases.add(AliasConfig("bench-agent", "scripted", "", {"replies": replies}),
                               replace=True)
                started = time.perf_counter()
                run_ = agents.start(rt, local_admin(), "count", "Count in steps.",
                                    team_spec=_team(n))
                done = agents.wait(rt, local_admin(), run_.id)
                wall = time.perf_counter() - started
                steps = agents.steps(rt, local_admin(), done.id)
                model = [s for s in steps if s["kind"] == "model"]
                inside = sum(s.get("seconds", 0.0) for s in steps
                             if s["kind"] in ("model", "tool"))
                per_step = [s["tokens"] for s in model]
                # From the first step's start to the last one's end, as DBOS recorded them
                # (the waiting client's polling is not the engine's).
                span = (max(s["completed_ms"] for s in steps) -
                        min(s["started_ms"] for s in steps)) / 1000
                rows.append({
                    "steps": len(model), "status": done.status,
                    "tokens": sum(per_step), "tokens_first_step": per_step[0],
                    "tokens_last_step": per_step[-1],
                    "tokens_per_step_p50": statistics.median(per_step),
                    "model_call_ms_p50": round(statistics.median(
                        s["seconds"] for s in model) * 1000, 1),
                    "engine_overhead_ms_per_step": round((span - inside) / len(model) * 1000,
                                                         1),
                    "wall_s": round(wall, 2)})
        finally:
            engine.shutdown()
            rt.close()
    growth = [{"from": a["steps"], "to": b["steps"],
               "tokens_ratio": round(b["tokens"] / a["tokens"], 2),
               "steps_ratio": round(b["steps"] / a["steps"], 2)}
              for a, b in zip(rows, rows[1:])]
    return {"runs": rows, "growth": growth}
