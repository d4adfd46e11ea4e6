"""/api/policy: the charter's versions, proposals and approvals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path as PathParam, Request
from pydantic import Field

from charter.core.principal import Principal
from charter.server.deps import MAX_INT, Strict, caller, plain, runtime
from charter.services import policies

router = APIRouter(prefix="/api", tags=["policy"])


@router.get("/policy/versions", summary="Charter versions")
def policy_versions(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [{k: v for k, v in plain(v).items() if k != "yaml"}
            for v in policies.versions(runtime(request), p)]


@router.get("/policy/versions/{number}", summary="One charter version with its YAML")
def policy_version(request: Request, number: int = PathParam(ge=1, le=MAX_INT),
                   p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(policies.get(runtime(request), p, number))


class ProposalIn(Strict):
    yaml: str = Field(min_length=1, max_length=500_000)
    note: str = Field(min_length=1, max_length=2000)


@router.post("/policy/versions", summary="Propose a new charter version (admin)")
def propose(body: ProposalIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(policies.propose(runtime(request), p, body.yaml, body.note))


@router.post("/policy/versions/{number}/approve",
             summary="Enforce a draft version; not by its author (admin)")
def approve(request: Request, number: int = PathParam(ge=1, le=MAX_INT),
            p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(policies.approve(runtime(request), p, number))
