"""/api/stats: the dashboard's figures per day (reviewer)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from charter.core.principal import Principal
from charter.server.deps import caller, runtime
from charter.services.dashboard import dashboard

router = APIRouter(prefix="/api", tags=["stats"])


@router.get("/stats", summary="Dashboard figures per day (reviewer)")
def stats(request: Request, days: int = Query(14, ge=1, le=365),
          p: Principal = Depends(caller)) -> dict[str, Any]:
    return dashboard(runtime(request), p, days)
