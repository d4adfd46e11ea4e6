"""/api/drift: drift detection's state, its checks, a check now, the reference (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from charter.core.principal import Principal
from charter.server.deps import caller, runtime
from charter.services import drift as drift_service

router = APIRouter(prefix="/api/drift", tags=["drift"])


class BaselineBody(BaseModel):
    first_id: int | None = Field(None, ge=1, description="First sample of the window.")
    last_id: int | None = Field(None, ge=1, description="Last sample (default: newest).")
    trailing: bool = Field(False, description="Unpin: the requests before the current "
                           "window again.")


@router.get("", summary="Samples kept, windows, the last check and alert (admin)")
def status(request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return drift_service.status(runtime(request), p)


@router.get("/checks", summary="Recent drift checks, newest first (admin)")
def checks(request: Request, limit: int = Query(20, ge=1, le=1000),
           p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [drift_service.check_dict(c)
            for c in drift_service.list_checks(runtime(request), p, limit)]


@router.post("/check", summary="Check the newest requests now (admin)")
def check(request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return drift_service.check_dict(drift_service.check_now(runtime(request), p))


@router.post("/baseline", summary="Pin or unpin the reference window (admin)")
def baseline(body: BaselineBody, request: Request,
             p: Principal = Depends(caller)) -> dict[str, Any]:
    b = drift_service.pin(runtime(request), p, first_id=body.first_id, last_id=body.last_id,
                          trailing=body.trailing)
    return {"first_id": b.first_id, "last_id": b.last_id, "actor": b.actor,
            "created_at": b.created_at}
