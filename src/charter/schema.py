"""The one result schema: ``charter ask --json`` and the ``charter`` object of API responses.

Fields a stage has not filled yet are null or empty; later stages fill them without
renaming anything.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Action = Literal["allow", "safe_complete", "refuse", "hold_for_review"]


class RouteInfo(BaseModel):
    name: str
    reason: str
    score: float | None = None  # the learned router's score, when it decided
    router_version: int | None = None
    quota_exhausted: bool = False  # the wanted route was over quota, so mini served


class DecisionInfo(BaseModel):
    action: Action = "allow"
    tier: str | None = None
    category: str | None = None
    reason: str | None = None
    alternatives: list[str] = Field(default_factory=list)
    review_id: str | None = None


class CitationInfo(BaseModel):
    n: int
    document: str
    location: str
    quote: str


class UsageInfo(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class TimingInfo(BaseModel):
    """Where the request's time went, in milliseconds (also sent as Server-Timing)."""

    total_ms: float = 0.0  # from entering the spine to the final record
    backend_ms: float = 0.0  # inside model calls; the rest is Charter's own


class Result(BaseModel):
    request_id: str
    answer: str
    model: str
    route: RouteInfo
    decision: DecisionInfo = Field(default_factory=DecisionInfo)
    citations: list[CitationInfo] = Field(default_factory=list)
    label: str | None = None
    usage: UsageInfo = Field(default_factory=UsageInfo)
    timing: TimingInfo = Field(default_factory=TimingInfo)
