"""/api/feedback: votes, corrections and evaluations of answers."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from charter.core.principal import Principal
from charter.server.deps import Strict, caller, plain, runtime
from charter.services import feedback as feedback_service

router = APIRouter(prefix="/api", tags=["feedback"])


class FeedbackIn(Strict):
    request_id: str = Field(min_length=1, max_length=64)
    kind: Literal["vote", "correction", "eval"]
    value: str = Field(min_length=1, max_length=5000)
    note: str = Field("", max_length=2000)


@router.post("/feedback", summary="Vote, correct or evaluate an answer")
def feedback(body: FeedbackIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return plain(feedback_service.record(runtime(request), p, body.request_id, body.kind,
                                         body.value, body.note))
