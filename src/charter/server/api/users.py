"""/api/users: accounts (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from charter.core.principal import Principal
from charter.core.routes import TIER_FREE
from charter.server.deps import Strict, caller, plain, runtime
from charter.services import accounts

router = APIRouter(prefix="/api", tags=["users"])


class UserIn(Strict):
    id: str = Field(min_length=1, max_length=200)
    display_name: str = Field("", max_length=200)
    roles: list[str] = Field(default_factory=lambda: ["user"], min_length=1, max_length=3)
    clearance: str = "internal"
    groups: list[str] = Field(default_factory=list, max_length=50)
    tier: str = TIER_FREE


@router.get("/users", summary="Users (admin)")
def users(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [plain(u) for u in accounts.list_users(runtime(request), p)]


@router.post("/users", summary="Add a user (admin)")
def add_user(body: UserIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(accounts.add_user(runtime(request), p, body.id, roles=body.roles,
                                   clearance=body.clearance, groups=body.groups,
                                   tier=body.tier, display_name=body.display_name))


@router.post("/users/{user_id}/disable", summary="Disable a user (admin)")
def disable_user(user_id: str, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(accounts.set_disabled(runtime(request), p, user_id, True))


@router.post("/users/{user_id}/enable", summary="Enable a disabled user again (admin)")
def enable_user(user_id: str, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(accounts.set_disabled(runtime(request), p, user_id, False))
