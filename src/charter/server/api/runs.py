"""/api/runs: multi-agent runs, started on the shared queue and worked by the servers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from charter.agents.runs import Run
from charter.core.principal import Principal
from charter.server.deps import Strict, caller, runtime
from charter.services import agents as agent_service

router = APIRouter(prefix="/api", tags=["agents"])


class BudgetIn(Strict):
    steps: int | None = Field(None, ge=1, le=500)
    tool_calls: int | None = Field(None, ge=0, le=1000)
    tokens: int | None = Field(None, ge=100, le=5_000_000)
    cost: float | None = Field(None, ge=0.0)
    wall_seconds: float | None = Field(None, gt=0, le=86_400.0)
    repeats: int | None = Field(None, ge=0, le=10)


class RunIn(Strict):
    team: str = Field(min_length=1, max_length=40)
    task: str = Field(min_length=1, max_length=agent_service.MAX_TASK_CHARS)
    budget: BudgetIn | None = None
    # Agents and teams declared in the request itself, as in a teams file.
    spec: dict[str, Any] | None = None


class ApprovalIn(Strict):
    approve: bool
    note: str = Field("", max_length=2000)


class ResumeIn(Strict):
    budget: BudgetIn | None = None


def _budget(b: BudgetIn | None) -> dict[str, Any] | None:
    return b.model_dump(exclude_none=True) if b else None


def _out(rt: Any, p: Principal, run: Run, with_steps: bool = False) -> dict[str, Any]:
    out = run.summary()
    if with_steps:
        out["steps"] = agent_service.steps(rt, p, run.id)
    return out


@router.get("/runs/teams", summary="The teams that can be run")
def teams(request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return agent_service.teams(runtime(request)).model_dump()


@router.get("/runs/waiting", summary="Tool calls waiting for approval (reviewer)")
def waiting(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return agent_service.waiting(runtime(request), p)


@router.post("/runs", status_code=202, summary="Start a run (queued; poll GET /api/runs/{id})")
def start(body: RunIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    run = agent_service.start(rt, p, body.team, body.task, budget=_budget(body.budget),
                              team_spec=body.spec, background=True)
    return _out(rt, p, run)


@router.get("/runs", summary="Your runs (admins: all=true for everyone's)")
def list_runs(request: Request, all: bool = Query(False), limit: int = Query(50, ge=1, le=500),
              p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [r.summary() for r in agent_service.list_runs(runtime(request), p, everyone=all,
                                                          limit=limit)]


@router.get("/runs/{run_id}", summary="A run with its steps, tool calls, tokens and time")
def get(run_id: str, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    return _out(rt, p, agent_service.get(rt, p, run_id), with_steps=True)


@router.post("/runs/{run_id}/approval", summary="Approve or reject the waiting tool call "
             "(reviewer)")
def approval(run_id: str, body: ApprovalIn, request: Request,
             p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    run = agent_service.approve(rt, p, run_id, approve=body.approve, note=body.note)
    return {"id": run.id, "status": run.status, "decided": "approved" if body.approve
            else "rejected"}


@router.post("/runs/{run_id}/resume", summary="Continue from the last completed step")
def resume(run_id: str, body: ResumeIn, request: Request,
           p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    return _out(rt, p, agent_service.resume(rt, p, run_id, budget=_budget(body.budget),
                                            background=True))


@router.post("/runs/{run_id}/cancel", summary="Stop a queued, running or waiting run")
def cancel(run_id: str, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    return _out(rt, p, agent_service.cancel(rt, p, run_id))
