"""The spine: one request, one straight path through the stages.

principal -> quota -> screen input -> route -> retrieve -> screen passages -> strategy
-> screen output -> audit

The gateway composes the stages in order and holds no policy, routing or retrieval
logic itself. Streaming goes through the same stages: everything before the strategy
runs before the first token; output screening and the audit record follow the stream.
A request the charter refuses or holds never reaches a model.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from charter.audit import AuditLog
from charter.auth import Principal
from charter.backends import registry
from charter.backends.base import AliasConfig, ChatMessage, ChatModel, ChatRequest, Passage, Usage
from charter.config import Settings
from charter.errors import CharterError, ConflictError, InvalidInputError
from charter.knowledge.citations import drop_unsupported_markers, resolve_citations
from charter.knowledge.retrieve import NoRetrieval, Retriever
from charter.policy.screen import Decision, InputScreen, PassThroughScreen, Screen
from charter.router.rules import RouteDecision, choose_route
from charter.schema import DecisionInfo, Result, RouteInfo, UsageInfo
from charter.store.aliases import AliasRepository
from charter.store.db import Database
from charter.strategies import fast
from charter.usage import QuotaState, check_quota

HeldHook = Callable[["AskRequest", str, InputScreen], str]


@dataclass(frozen=True)
class AskRequest:
    """A request as it enters the spine."""

    messages: Sequence[ChatMessage]
    principal: Principal
    model: str = "auto"
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    use_case: str | None = None
    # Set when a reviewer has approved this held request: serve it instead of holding it.
    approved_review: str | None = None

    def to_json(self) -> dict[str, Any]:
        p = self.principal
        return {"messages": [{"role": m.role, "content": m.content} for m in self.messages],
                "principal": {"id": p.id, "roles": sorted(p.roles), "clearance": p.clearance,
                              "groups": sorted(p.groups), "tier": p.tier},
                "model": self.model, "max_tokens": self.max_tokens,
                "temperature": self.temperature, "seed": self.seed, "use_case": self.use_case}

    @classmethod
    def from_json(cls, data: dict[str, Any], **overrides: Any) -> AskRequest:
        p = data["principal"]
        principal = Principal(p["id"], frozenset(p["roles"]), p["clearance"],
                              frozenset(p["groups"]), p["tier"])
        fields: dict[str, Any] = {
            "messages": [ChatMessage(m["role"], m["content"]) for m in data["messages"]],
            "principal": principal, "model": data["model"], "max_tokens": data["max_tokens"],
            "temperature": data["temperature"], "seed": data["seed"],
            "use_case": data["use_case"]}
        fields.update(overrides)
        return cls(**fields)


@dataclass(frozen=True)
class Delta:
    """A piece of streamed answer text."""

    text: str


@dataclass
class _Prepared:
    request_id: str
    started: float
    request: AskRequest
    quota: QuotaState
    screen: InputScreen
    decision: Decision
    route: RouteDecision
    alias: AliasConfig | None = None
    model: ChatModel | None = None
    passages: list[Passage] = field(default_factory=list)
    chat: ChatRequest | None = None
    final: str | None = None  # an answer decided without a model (refusal, hold, safe text)
    dropped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


def refusal_text(decision: Decision) -> str:
    return f"I can't help with this request. {decision.reason or ''}".strip()


def held_text(review_id: str) -> str:
    return (f"This request needs a human review before it can be answered (review "
            f"{review_id}). You will get the answer once a reviewer approves it.")


class Gateway:
    """Runs requests through the stages; one instance serves many requests and threads."""

    def __init__(self, settings: Settings, db: Database, *, retriever: Retriever | None = None,
                 screen: Screen | None = None, on_hold: HeldHook | None = None,
                 use_cases: Any = None) -> None:
        self.settings = settings
        self.aliases = AliasRepository(db)
        self.audit = AuditLog(db)
        self.retriever = retriever or NoRetrieval()
        self.screen = screen or PassThroughScreen()
        self.on_hold = on_hold
        self.use_cases = use_cases

    # -- stages before the model -----------------------------------------------------

    def _prepare(self, req: AskRequest) -> _Prepared:
        if not req.messages or not any(m.role == "user" and m.content.strip() for m in req.messages):
            raise InvalidInputError("the request has no question: send at least one non-empty "
                                    "user message")
        started = time.perf_counter()
        request_id = new_request_id()
        quota = check_quota(req.principal)
        screened = self.screen.screen_input(req.principal, req.messages)
        decision = self._use_case_gate(req, screened.decision)
        route = choose_route(req.model, quota, self.settings.default_route)
        p = _Prepared(request_id, started, req, quota, screened, decision, route)

        if decision.action == "refuse":
            p.route = RouteDecision("none", "refused by the charter: no model was called")
            p.final = refusal_text(decision)
            return p
        if decision.action == "hold_for_review" and not req.approved_review:
            if self.on_hold is None:
                raise CharterError("this request must be held for review, but no review queue "
                                   "is configured")
            review_id = self.on_hold(req, request_id, screened)
            p.decision = Decision(**{**decision.__dict__, "review_id": review_id})
            p.route = RouteDecision("none", "held for human review: no model was called")
            p.final = held_text(review_id)
            return p
        if decision.action == "safe_complete" and not decision.answer_with_model:
            p.route = RouteDecision("none", "safe completion from the charter: no model was called")
            p.final = decision.safe_completion or refusal_text(decision)
            return p

        p.alias = self.aliases.get(route.name, kind="chat")
        p.model = cast(ChatModel, registry.build(p.alias, self.settings))
        question = next(m.content for m in reversed(screened.messages) if m.role == "user")
        passages = self.retriever.retrieve(req.principal, question)
        checked = self.screen.screen_passages(passages)
        p.passages, p.dropped, p.notes = checked.passages, checked.dropped, checked.notes
        messages = list(screened.messages)
        if decision.action == "safe_complete" and decision.safe_completion:
            messages.insert(0, ChatMessage("system", "Answer at a safe level only. "
                                           + decision.safe_completion))
        if p.alias.options.get("external"):
            # Personal data never leaves for a backend marked as outside the organisation.
            messages = [ChatMessage(m.role, self.screen.redact(m.content)) for m in messages]
        p.chat = ChatRequest(messages=messages, passages=p.passages, max_tokens=req.max_tokens,
                             temperature=req.temperature, seed=req.seed)
        return p

    def _use_case_gate(self, req: AskRequest, decision: Decision) -> Decision:
        if not req.use_case or self.use_cases is None or decision.action == "refuse":
            return decision
        try:
            self.use_cases.check_servable(req.use_case)
        except ConflictError as exc:
            return Decision(action="refuse", tier=decision.tier, category="use_case_not_approved",
                            reason=exc.message, evidence=f"use case {req.use_case}",
                            policy_version=decision.policy_version)
        return decision

    # -- after the model -----------------------------------------------------------------

    def _finish(self, p: _Prepared, text: str, usage: Usage, *, streamed: bool) -> Result:
        text = drop_unsupported_markers(text, p.passages)
        out = self.screen.screen_output(p.request.principal, text, p.passages)
        answer = out.answer
        for note in (*p.notes, *out.notes):
            answer = f"{answer}\n\nNote: {note}"
        citations = resolve_citations(out.answer, p.passages)
        d = p.decision
        result = Result(
            request_id=p.request_id,
            answer=answer,
            model=p.alias.name if p.alias else "none",
            route=RouteInfo(name=p.route.name, reason=p.route.reason),
            decision=DecisionInfo(action=d.action, tier=d.tier, category=d.category,
                                  reason=d.reason, alternatives=list(d.alternatives),
                                  review_id=d.review_id),
            citations=citations,
            label=out.label,
            usage=UsageInfo(prompt_tokens=usage.prompt_tokens,
                            completion_tokens=usage.completion_tokens),
        )
        self._record(p, streamed=streamed, result=result)
        return result

    def _record(self, p: _Prepared, *, streamed: bool, result: Result | None = None,
                error: CharterError | None = None) -> None:
        question = "\n".join(m.content for m in p.request.messages if m.role == "user")
        d = p.decision
        payload: dict[str, Any] = {
            "principal": {"id": p.request.principal.id, "roles": sorted(p.request.principal.roles),
                          "tier": p.request.principal.tier},
            # PII is redacted before anything is written here.
            "prompt": {"redacted": p.screen.redacted_question,
                       "sha256": hashlib.sha256(question.encode()).hexdigest(),
                       "chars": len(question), "messages": len(p.request.messages),
                       "pii": list(p.screen.pii), "injection": p.screen.injection},
            "quota": {"tier": p.quota.tier, "exhausted": p.quota.exhausted},
            "decision": {"action": d.action, "tier": d.tier, "category": d.category,
                         "confidence": d.confidence, "evidence": d.evidence,
                         "policy_version": d.policy_version, "review_id": d.review_id},
            "use_case": p.request.use_case,
            "approved_review": p.request.approved_review,
            "route": {"name": p.route.name, "reason": p.route.reason},
            "model": ({"alias": p.alias.name, "alias_version": p.alias.version,
                       "backend": p.alias.backend, "model": p.model.model_id}
                      if p.alias and p.model else None),
            "retrieval": {"passages": [x.passage_id or str(x.n) for x in p.passages],
                          "neutralised": list(p.dropped)},
            "stream": streamed,
            "latency_ms": round((time.perf_counter() - p.started) * 1000, 2),
        }
        if result is not None:
            payload["status"] = "ok"
            payload["citations"] = [c.n for c in result.citations]
            payload["usage"] = result.usage.model_dump()
            payload["label"] = result.label
        if error is not None:
            payload["status"] = "error"
            payload["error"] = {"code": error.code, "message": error.message}
        self.audit.append(p.request_id, p.request.principal.id, "chat", payload)

    # -- public ------------------------------------------------------------------------

    def ask(self, req: AskRequest) -> Result:
        p = self._prepare(req)
        if p.final is not None:
            return self._finish(p, p.final, Usage(), streamed=False)
        assert p.model is not None and p.chat is not None
        try:
            completion = fast.run(p.model, p.chat)
        except CharterError as exc:
            self._record(p, streamed=False, error=exc)
            raise
        return self._finish(p, completion.text, completion.usage, streamed=False)

    def ask_stream(self, req: AskRequest) -> Iterator[Delta | Result]:
        """Yields ``Delta`` pieces as the model produces them, then the final ``Result``.

        Input checks and routing happen before this returns, so their errors are raised
        here, not halfway through a stream.
        """
        p = self._prepare(req)
        return self._stream(p)

    def _stream(self, p: _Prepared) -> Iterator[Delta | Result]:
        if p.final is not None:
            yield Delta(p.final)
            yield self._finish(p, p.final, Usage(), streamed=True)
            return
        assert p.model is not None and p.chat is not None
        pieces: list[str] = []
        usage = Usage()
        source = fast.stream(p.model, p.chat)
        try:
            for chunk in source:
                if chunk.text:
                    pieces.append(chunk.text)
                    yield Delta(chunk.text)
                if chunk.usage is not None:
                    usage = chunk.usage
        except CharterError as exc:
            self._record(p, streamed=True, error=exc)
            raise
        except GeneratorExit:
            # The consumer went away (client disconnect, Ctrl-C): stop the backend and
            # still leave a record of what was served.
            self._record(p, streamed=True,
                         error=CharterError("the client stopped reading the stream",
                                            code="cancelled"))
            raise
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        yield self._finish(p, "".join(pieces).strip(), usage, streamed=True)
