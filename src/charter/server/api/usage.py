"""/api/usage: what principals used, and the tier limits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from charter.core.principal import Principal
from charter.server.deps import MAX_INT, Strict, caller, plain, runtime
from charter.services import usage as usage_service

router = APIRouter(prefix="/api", tags=["usage"])


@router.get("/usage", summary="Usage per route and window (yours; admins: anyone's)")
def usage(request: Request, user: str | None = None,
          p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [plain(u) for u in usage_service.usage(runtime(request), p, user)]


@router.get("/usage/limits", summary="Tier limits")
def usage_limits(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [plain(x) for x in usage_service.limits(runtime(request), p)]


class LimitIn(Strict):
    window_s: int = Field(3 * 3600, ge=1, le=MAX_INT)
    max_requests: int | None = Field(None, ge=0, le=MAX_INT)
    max_tokens: int | None = Field(None, ge=0, le=MAX_INT)


@router.put("/usage/limits/{tier}/{route}", summary="Set a tier's limit for a route (admin)")
def set_limit(tier: str, route: str, body: LimitIn, request: Request,
              p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(usage_service.set_limit(runtime(request), p, tier, route,
                                         window_s=body.window_s, max_requests=body.max_requests,
                                         max_tokens=body.max_tokens))
