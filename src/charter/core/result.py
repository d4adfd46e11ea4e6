"""The one result schema: ``charter ask --json`` and the ``charter`` object of API responses.

Fields a stage has not filled yet are null or empty; later stages fill them without
renaming anything.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, Field

from charter.core.chat import Usage
from charter.core.routes import RouteDecision

Action = Literal["allow", "safe_complete", "refuse", "hold_for_review"]


@dataclass(frozen=True)
class Decision:
    """What the charter decided about a request: the one shape, from which the result's
    ``decision`` (``info()``) and the audit record's decision are both projected."""

    action: Action = "allow"
    tier: str | None = None
    category: str | None = None
    reason: str | None = None
    alternatives: tuple[str, ...] = ()
    review_id: str | None = None
    evidence: str | None = None
    confidence: float | None = None
    policy_version: int | None = None
    safe_completion: str | None = None
    answer_with_model: bool = True

    def with_review(self, review_id: str) -> Decision:
        return replace(self, review_id=review_id)

    def info(self) -> DecisionInfo:
        """What the asker is shown."""
        return DecisionInfo(action=self.action, tier=self.tier, category=self.category,
                            reason=self.reason, alternatives=list(self.alternatives),
                            review_id=self.review_id)


class RouteInfo(BaseModel):
    name: str
    reason: str
    score: float | None = None  # the learned router's score, when it decided
    router_version: int | None = None
    quota_exhausted: bool = False  # the wanted route was over quota, so mini served

    @classmethod
    def of(cls, route: RouteDecision) -> RouteInfo:
        return cls(name=route.name, reason=route.reason, score=route.score,
                   router_version=route.router_version, quota_exhausted=route.quota_exhausted)


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


class ToolCallInfo(BaseModel):
    """A function call the model asked for: the tool and its arguments as JSON text."""

    name: str
    arguments: str


class UsageInfo(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @classmethod
    def of(cls, usage: Usage) -> UsageInfo:
        return cls(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)


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
    # "length" when the answer stopped at max_tokens (the OpenAI field's meaning).
    finish_reason: str = "stop"
    tool_calls: list[ToolCallInfo] = Field(default_factory=list)  # when the request had tools
