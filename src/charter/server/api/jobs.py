"""/api/jobs: background jobs (large uploads) and their progress (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from charter.core.principal import Principal
from charter.server.deps import caller, runtime
from charter.services import jobs

router = APIRouter(prefix="/api", tags=["jobs"])


@router.get("/jobs/{job_id}", summary="One background job: state, progress, result or error")
def get_job(job_id: str, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return jobs.get(runtime(request), p, job_id).to_dict()
