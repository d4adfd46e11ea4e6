"""/api/eval: evaluation suites, runs started as background jobs, stored runs, comparisons."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import Field

from charter import evaluation
from charter.core.principal import Principal, require
from charter.server.deps import Strict, caller, runtime
from charter.services import evaluation as service

router = APIRouter(prefix="/api/eval", tags=["evaluation"])


class RunBody(Strict):
    suite: str = Field(min_length=1, max_length=80, description="A built-in suite.")
    target: str = Field("", max_length=200, description="What to measure (as `charter "
                        "eval run --target`); empty: what is served.")
    gate: dict[str, dict[str, float]] | None = Field(
        None, description="Thresholds {metric: {min: x, max: y}}; the job's result says "
        "which failed.")


@router.get("/suites", summary="The built-in suites (reviewer)")
def suites(p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    require(p, "reviewer")
    return [{"name": s.name, "scorer": s.scorer, "description": s.description,
             "data": s.data, "kb": s.kb} for s in evaluation.suites()]


@router.post("/runs", status_code=202,
             summary="Run a suite as a background job; poll /api/jobs/{id} (admin)")
def start(body: RunBody, request: Request, p: Principal = Depends(caller)) -> JSONResponse:
    job = evaluation.start(runtime(request), p, body.suite, body.target, body.gate)
    return JSONResponse(status_code=202, content={"job": job.to_dict(),
                                                  "url": f"/api/jobs/{job.id}"})


@router.get("/runs", summary="Stored runs, newest first (reviewer)")
def runs(request: Request, suite: str | None = Query(None, max_length=80),
         limit: int = Query(50, ge=1, le=500),
         p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [r.__dict__ for r in service.list_runs(runtime(request), p, suite, limit)]


@router.get("/runs/{run_id}", summary="One run: metrics and the versions measured (reviewer)")
def run(request: Request, run_id: str = PathParam(min_length=1, max_length=64),
        p: Principal = Depends(caller)) -> dict[str, Any]:
    return service.get(runtime(request), p, run_id).__dict__


@router.get("/compare", summary="Each metric of two runs of one suite (reviewer)")
def compare(request: Request, first: str = Query(min_length=1, max_length=64),
            second: str = Query(min_length=1, max_length=64),
            p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return service.compare(runtime(request), p, first, second)
