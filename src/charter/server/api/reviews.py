"""/api/reviews: the queue of held requests and the decisions on them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from charter.core.principal import Principal
from charter.server.deps import Strict, caller, runtime
from charter.services import reviews as review_service

router = APIRouter(prefix="/api", tags=["reviews"])


@router.get("/reviews", summary="Held requests (reviewer)")
def reviews(request: Request, state: str | None = Query("pending"),
            p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [review_service.public(r, p)
            for r in review_service.list_reviews(runtime(request), p, state)]


@router.get("/reviews/mine", summary="Your own held requests and their answers")
def my_reviews(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [review_service.public(r, p) for r in review_service.mine(runtime(request), p)]


class DecisionIn(Strict):
    note: str = Field(min_length=1, max_length=2000)


@router.post("/reviews/{review_id}/approve", summary="Approve: the request is answered (reviewer)")
async def approve(review_id: str, body: DecisionIn, request: Request,
                  p: Principal = Depends(caller)) -> dict[str, Any]:
    r = await run_in_threadpool(review_service.decide, runtime(request), p, review_id,
                                approve=True, note=body.note)
    return review_service.public(r, p)


@router.post("/reviews/{review_id}/reject", summary="Reject: never answered (reviewer)")
def reject(review_id: str, body: DecisionIn, request: Request,
           p: Principal = Depends(caller)) -> dict[str, Any]:
    r = review_service.decide(runtime(request), p, review_id, approve=False, note=body.note)
    return review_service.public(r, p)
