"""Evaluation runs: recorded with the versions they ran against, listed, compared.

Running a suite is ``charter.evaluation`` (it builds scratch knowledge bases and drives
the spine like the benchmarks); this module records what a run measured, with its audit
event, and reads runs back for the people who may see them.
"""

from __future__ import annotations

from typing import Any

from charter.core.errors import InvalidInputError
from charter.core.principal import Principal, require
from charter.runtime import Runtime
from charter.services import events
from charter.store.eval_runs import EvalRun, EvalRunRepository


def versions(rt: Runtime, charter_version: int | None = None) -> dict[str, Any]:
    """What a run measures against, as it is now: the charter (``charter_version`` when
    the run measures another than the approved one), the active router, every chat
    alias, the active judgement models and the knowledge base."""
    approved = rt.policies.active_number()
    number = approved if charter_version is None else charter_version
    charter = rt.policies.get(number)
    router = rt.routers.active_version()
    assessor = rt.screen.assessor()
    models = {"charter": assessor.model_id, "pii": assessor.pii_model_id,
              **{f"{task}_version": rt.judgement.active_version(task)
                 for task in sorted({v.task for v in rt.judgement.list()})}}
    counts = rt.documents.counts()
    return {
        "charter": {"version": number, "sha256": charter.sha256,
                    "approved": number == approved},
        "router": router,
        "aliases": {a.name: {"version": a.version, "backend": a.backend, "model": a.model}
                    for a in rt.aliases.list(kind="chat")},
        "judgement": models,
        "knowledge": {"generation": rt.documents.generation(), "documents": counts["documents"],
                      "chunks": counts["chunks"]},
    }


def record(rt: Runtime, actor: Principal, *, suite: str, scorer: str, target: str,
           run_versions: dict[str, Any], metrics: dict[str, float]) -> EvalRun:
    require(actor, "admin")
    run = EvalRunRepository(rt.db).add(suite, scorer, target, run_versions, metrics, actor.id)
    events.record(rt, actor, "eval.recorded", run.id,
                  {"suite": suite, "scorer": scorer, "target": target,
                   "metrics": len(metrics), "charter": run_versions.get("charter")})
    return run


def list_runs(rt: Runtime, actor: Principal, suite: str | None = None,
              limit: int = 50) -> list[EvalRun]:
    require(actor, "reviewer")
    return EvalRunRepository(rt.db).list(suite, limit)


def get(rt: Runtime, actor: Principal, run_id: str) -> EvalRun:
    require(actor, "reviewer")
    return EvalRunRepository(rt.db).get(run_id)


def compare(rt: Runtime, actor: Principal, first: str, second: str) -> list[dict[str, Any]]:
    """Each metric of either run: its value in both and the change (second - first)."""
    a, b = get(rt, actor, first), get(rt, actor, second)
    if a.suite != b.suite:
        raise InvalidInputError(f"runs {first} ({a.suite}) and {second} ({b.suite}) measure "
                                "different suites; compare runs of one suite")
    out = []
    for name in sorted(set(a.metrics) | set(b.metrics)):
        x, y = a.metrics.get(name), b.metrics.get(name)
        out.append({"metric": name, "first": x, "second": y,
                    "change": None if x is None or y is None else round(y - x, 6)})
    return out
