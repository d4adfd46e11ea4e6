"""/api/me: the caller, and their personality and custom instructions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from charter.core.principal import Principal
from charter.server.deps import Strict, caller, plain, runtime
from charter.services import accounts, profiles

router = APIRouter(prefix="/api", tags=["me"])


@router.get("/me", summary="The caller: roles, clearance, groups, tier, profile")
def me(request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return accounts.me(runtime(request), p)


class ProfileIn(Strict):
    personality: str | None = None
    instructions: str | None = Field(None, max_length=5000)


@router.put("/me/profile", summary="Set your personality and custom instructions")
def set_profile(body: ProfileIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(profiles.set_profile(runtime(request), p, personality=body.personality,
                                      instructions=body.instructions))
