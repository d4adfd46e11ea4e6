"""The audit record of one chat request, typed, built from what the stages returned.

The field names are the audit trail's JSON (``charter audit list --json``, the
dashboard and the review console read them); ``ChatRecord.payload()`` is what is
hashed into the chain. Personal data is redacted before anything reaches this record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage, Passage
from charter.core.principal import Principal
from charter.core.result import Decision, Result
from charter.core.routes import RouteDecision


@dataclass(frozen=True, slots=True)
class PrincipalRecord:
    id: str
    roles: list[str]
    tier: str


@dataclass(frozen=True, slots=True)
class PromptRecord:
    redacted: str
    sha256: str  # of the question, as the route log hashes it
    chars: int  # of the question
    messages: int
    conversation_sha256: str  # of every message the client sent, roles included
    pii: list[str]
    injection: str | None


@dataclass(frozen=True, slots=True)
class QuotaRecord:
    tier: str
    route: str
    exhausted: bool


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    action: str
    tier: str | None
    category: str | None
    confidence: float | None
    evidence: str | None
    policy_version: int | None
    review_id: str | None

    @classmethod
    def of(cls, d: Decision) -> DecisionRecord:
        return cls(action=d.action, tier=d.tier, category=d.category, confidence=d.confidence,
                   evidence=d.evidence, policy_version=d.policy_version, review_id=d.review_id)


@dataclass(frozen=True, slots=True)
class RouteRecord:
    name: str
    reason: str
    score: float | None
    router_version: int | None

    @classmethod
    def of(cls, r: RouteDecision) -> RouteRecord:
        return cls(name=r.name, reason=r.reason, score=r.score, router_version=r.router_version)


@dataclass(frozen=True, slots=True)
class ModelRecord:
    alias: str
    alias_version: int
    backend: str
    model: str


@dataclass(frozen=True, slots=True)
class RetrievalRecord:
    passages: list[str]
    neutralised: list[str]


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    code: str
    message: str


def _fields(obj: Any) -> dict[str, Any]:
    """A flat record as a dict (one level: the parts of a record hold no records)."""
    return {name: getattr(obj, name) for name in obj.__slots__}


@dataclass(frozen=True, slots=True)
class ChatRecord:
    principal: PrincipalRecord
    prompt: PromptRecord
    quota: QuotaRecord
    decision: DecisionRecord
    use_case: str | None
    approved_review: str | None
    route: RouteRecord
    model: ModelRecord | None
    retrieval: RetrievalRecord
    stream: bool
    strategy: str | None
    latency_ms: float
    backend_ms: float
    status: Literal["ok", "error"]
    citations: list[int] | None = None
    usage: dict[str, int] | None = None
    label: str | None = None
    error: ErrorRecord | None = None
    origin: str | None = None  # an agent run's step, when the request is one
    tool_calls: list[str] | None = None  # the tools the model asked to call, by name

    def payload(self) -> dict[str, Any]:
        """The JSON the audit chain stores: an answered request has citations, usage and
        label; a failed one has the error instead. (Built by hand: this runs on every
        request, and a generic serialiser costed a visible share of its CPU.)"""
        out: dict[str, Any] = {
            "principal": _fields(self.principal), "prompt": _fields(self.prompt),
            "quota": _fields(self.quota), "decision": _fields(self.decision),
            "use_case": self.use_case, "approved_review": self.approved_review,
            "route": _fields(self.route),
            "model": _fields(self.model) if self.model is not None else None,
            "retrieval": _fields(self.retrieval), "stream": self.stream,
            "strategy": self.strategy, "latency_ms": self.latency_ms,
            "backend_ms": self.backend_ms, "status": self.status}
        if self.error is None:
            out.update(citations=self.citations, usage=self.usage, label=self.label)
        else:
            out["error"] = _fields(self.error)
        if self.origin is not None:
            out["origin"] = self.origin
        if self.tool_calls:
            out["tool_calls"] = self.tool_calls
        return out


def question_sha256(question: str) -> str:
    """The question's hash, the same in the route log and the audit record."""
    return hashlib.sha256(question.strip().encode()).hexdigest()


def conversation_sha256(messages: Sequence[ChatMessage]) -> str:
    """The hash of a whole conversation as the client sent it (role and text of each)."""
    body = json.dumps([[m.role, m.content] for m in messages], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def model_record(alias: AliasConfig | None, model_id: str | None) -> ModelRecord | None:
    if alias is None or model_id is None:
        return None
    return ModelRecord(alias=alias.name, alias_version=alias.version, backend=alias.backend,
                       model=model_id)


def chat_record(*, principal: Principal, question: str, redacted: str,
                messages: Sequence[ChatMessage],
                pii: Sequence[str], injection: str | None, quota_tier: str, quota_route: str,
                quota_exhausted: bool, decision: Decision, use_case: str | None,
                approved_review: str | None, route: RouteDecision, model: ModelRecord | None,
                passages: Sequence[Passage], dropped: Sequence[str], stream: bool,
                strategy: str | None, latency_ms: float, backend_ms: float,
                result: Result | None = None, error: ErrorRecord | None = None,
                origin: str | None = None) -> ChatRecord:
    return ChatRecord(
        principal=PrincipalRecord(id=principal.id, roles=sorted(principal.roles),
                                  tier=principal.tier),
        prompt=PromptRecord(redacted=redacted, sha256=question_sha256(question),
                            chars=len(question.strip()), messages=len(messages),
                            conversation_sha256=conversation_sha256(messages), pii=list(pii),
                            injection=injection),
        quota=QuotaRecord(tier=quota_tier, route=quota_route, exhausted=quota_exhausted),
        decision=DecisionRecord.of(decision), use_case=use_case,
        approved_review=approved_review, route=RouteRecord.of(route), model=model,
        retrieval=RetrievalRecord(passages=[p.passage_id or str(p.n) for p in passages],
                                  neutralised=list(dropped)),
        stream=stream, strategy=strategy, latency_ms=round(latency_ms, 2),
        backend_ms=round(backend_ms, 2), status="ok" if error is None else "error",
        citations=[c.n for c in result.citations] if result is not None else None,
        usage=result.usage.model_dump() if result is not None else None,
        label=result.label if result is not None else None, error=error, origin=origin,
        tool_calls=[c.name for c in result.tool_calls] if result is not None else None)
