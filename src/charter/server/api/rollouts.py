"""/api/rollouts: canary rollouts of charter drafts, router versions and aliases (admin)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import Field

from charter.core.errors import InvalidInputError
from charter.core.principal import Principal
from charter.server.deps import MAX_INT, Strict, caller, runtime
from charter.services import rollouts as service

router = APIRouter(prefix="/api/rollouts", tags=["rollouts"])


class StartBody(Strict):
    kind: Literal["charter", "router", "alias"] = Field(description="What is rolled out.")
    version: int | None = Field(None, ge=1, le=MAX_INT, description="The challenger of a "
                                "charter or router rollout: a charter draft or a router "
                                "version.")
    alias: str | None = Field(None, min_length=1, max_length=100, description="An alias "
                              "rollout's alias (e.g. fast).")
    to: str | None = Field(None, min_length=1, max_length=100, description="An alias "
                           "rollout's challenger: the alias that serves in its place.")
    share: float | None = Field(None, gt=0, lt=1, description="Part of the users served "
                                "the challenger (default: setting rollout_share).")
    margin: float | None = Field(None, ge=0, le=1, description="Tolerated difference in "
                                 "abstention and negative-feedback rates (default: "
                                 "rollout_margin).")
    strict_margin: float | None = Field(None, ge=0, le=1, description="The same for "
                                        "errors, refusals and holds (default: "
                                        "rollout_strict_margin).")
    alpha: float | None = Field(None, ge=1e-6, le=0.5)
    min_requests: int | None = Field(None, ge=1, le=MAX_INT)
    promote_after: int | None = Field(None, ge=1, le=MAX_INT)
    min_users: int | None = Field(None, ge=1, le=MAX_INT)
    per_user_cap: int | None = Field(None, ge=1, le=MAX_INT)


class StopBody(Strict):
    reason: str = Field("", max_length=500)


@router.get("", summary="Rollouts, newest first, with both arms' rates (admin)")
def list_rollouts(request: Request, limit: int = Query(50, ge=1, le=500),
                  p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    rt = runtime(request)
    return [service.as_dict(rt, r) for r in service.list_rollouts(rt, p, limit)]


@router.post("", summary="Start a rollout (admin)")
def start(body: StartBody, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    rule = body.model_dump(exclude={"kind", "version", "share", "alias", "to"})
    if body.kind == "alias":
        if body.alias is None or body.version is not None:
            raise InvalidInputError("an alias rollout names alias and to, not a version")
        target: int | str = body.alias
    else:
        if body.version is None or body.alias is not None:
            raise InvalidInputError(f"a {body.kind} rollout names its challenger version")
        target = body.version
    return service.as_dict(rt, service.start(rt, p, body.kind, target, to=body.to,
                                             share=body.share, **rule))


RolloutId = PathParam(min_length=1, max_length=40, description="The rollout id (ro_...).")


@router.get("/{rid}", summary="One rollout, its arms and its verdict so far (admin)")
def get(request: Request, rid: str = RolloutId,
        p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    return service.as_dict(rt, service.get(rt, p, rid))


@router.post("/{rid}/stop", summary="Stop a rollout: everyone gets the champion (admin)")
def stop(request: Request, body: StopBody | None = None, rid: str = RolloutId,
         p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    return service.as_dict(rt, service.stop(rt, p, rid, body.reason if body else ""))


@router.post("/{rid}/promote", summary="Promote the challenger now (admin)")
def promote(request: Request, rid: str = RolloutId,
            p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    return service.as_dict(rt, service.promote(rt, p, rid))
