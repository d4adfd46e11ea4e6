"""/api/keys: API keys (yours; admins: anyone's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from charter.core.principal import Principal
from charter.server.deps import Strict, caller, plain, runtime
from charter.services import accounts

router = APIRouter(prefix="/api", tags=["keys"])


class KeyIn(Strict):
    user_id: str | None = Field(None, max_length=200)
    name: str = Field("", max_length=200)


@router.post("/keys", summary="Create an API key (yours; admins: anyone's); shown once")
def create_key(body: KeyIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    key, secret = accounts.create_key(runtime(request), p, body.user_id, body.name)
    return {**plain(key), "key": secret}


@router.get("/keys", summary="API keys (yours; admins: all)")
def keys(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [plain(k) for k in accounts.list_keys(runtime(request), p, None)]


@router.delete("/keys/{key_id}", summary="Revoke an API key (yours; admins: anyone's)")
def revoke_key(key_id: str, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(accounts.revoke_key(runtime(request), p, key_id))
