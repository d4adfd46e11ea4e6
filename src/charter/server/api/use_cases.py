"""/api/use-cases: the use-case register."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from charter.core.principal import Principal
from charter.server.deps import Strict, caller, plain, runtime
from charter.services import usecases

router = APIRouter(prefix="/api", tags=["use cases"])


class UseCaseIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=5000)
    owner: str = Field(min_length=1, max_length=200)
    data_categories: list[str] = Field(default_factory=list, max_length=50)
    affected_people: str = Field("", max_length=2000)
    automation: str = "assistive"


@router.get("/use-cases", summary="The use-case register")
def use_cases(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [plain(u) for u in usecases.list_all(runtime(request), p)]


@router.post("/use-cases", summary="Register a use case (classified by the charter)")
def register_use_case(body: UseCaseIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(usecases.register(runtime(request), p, name=body.name, purpose=body.purpose,
                                   owner=body.owner, data_categories=body.data_categories,
                                   affected_people=body.affected_people,
                                   automation=body.automation))


class UseCaseDecisionIn(Strict):
    approve: bool
    note: str = Field(min_length=1, max_length=2000)
    role: str | None = Field(None, max_length=40)


@router.post("/use-cases/{key}/decide", summary="Approve or reject a use case (reviewer)")
def decide_use_case(key: str, body: UseCaseDecisionIn, request: Request,
                    p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(usecases.decide(runtime(request), p, key, approve=body.approve, note=body.note,
                                 role=body.role))
