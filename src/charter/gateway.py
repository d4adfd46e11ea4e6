"""The spine: one request, one straight path through the stages.

principal -> screen input -> route -> quota -> retrieve -> screen passages -> strategy
-> screen output -> route log, token count -> audit

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

from sqlalchemy import Connection

from charter.audit import AuditLog
from charter.auth import Principal
from charter.backends import registry
from charter.backends.base import (AliasConfig, ChatMessage, ChatModel, ChatRequest, Completion,
                                   Passage, Usage)
from charter.config import Settings
from charter.errors import CharterError, ConflictError, InvalidInputError
from charter.knowledge.citations import drop_unsupported_markers, resolve_citations
from charter.knowledge.retrieve import NoRetrieval, Retriever
from charter.policy.screen import Decision, InputScreen, PassThroughScreen, Screen
from charter.profiles import ProfileRepository, system_prompt
from charter.router.log import RouteLog
from charter.router.rules import RouteDecision, choose_route
from charter.router.versions import RouterRepository
from charter.schema import DecisionInfo, Result, RouteInfo, TimingInfo, UsageInfo
from charter.store.aliases import AliasRepository
from charter.store.db import Database
from charter.strategies import fast, pro
from charter.usage import MINI, QuotaState, Quotas, check_quota

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
    # Per-request overrides of the user's stored profile (None: use the profile).
    personality: str | None = None
    instructions: str | None = None

    def to_json(self) -> dict[str, Any]:
        p = self.principal
        return {"messages": [{"role": m.role, "content": m.content} for m in self.messages],
                "principal": {"id": p.id, "roles": sorted(p.roles), "clearance": p.clearance,
                              "groups": sorted(p.groups), "tier": p.tier},
                "model": self.model, "max_tokens": self.max_tokens,
                "temperature": self.temperature, "seed": self.seed, "use_case": self.use_case,
                "personality": self.personality, "instructions": self.instructions}

    @classmethod
    def from_json(cls, data: dict[str, Any], **overrides: Any) -> AskRequest:
        p = data["principal"]
        principal = Principal(p["id"], frozenset(p["roles"]), p["clearance"],
                              frozenset(p["groups"]), p["tier"])
        fields: dict[str, Any] = {
            "messages": [ChatMessage(m["role"], m["content"]) for m in data["messages"]],
            "principal": principal, "model": data["model"], "max_tokens": data["max_tokens"],
            "temperature": data["temperature"], "seed": data["seed"],
            "use_case": data["use_case"], "personality": data.get("personality"),
            "instructions": data.get("instructions")}
        fields.update(overrides)
        return cls(**fields)


@dataclass(frozen=True)
class Delta:
    """A piece of streamed answer text."""

    text: str
    request_id: str = ""  # the same id the final Result carries


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
    judge: ChatModel | None = None  # the pro strategy's judge
    strategy_note: str | None = None  # e.g. which pro draft the judge picked
    backend_s: float = 0.0  # time spent inside model calls


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
                 use_cases: Any = None, quotas: Quotas | None = None,
                 routers: RouterRepository | None = None) -> None:
        self.settings = settings
        self.db = db
        self.aliases = AliasRepository(db)
        self.audit = AuditLog(db)
        self.retriever = retriever or NoRetrieval()
        self.screen = screen or PassThroughScreen()
        self.on_hold = on_hold
        self.use_cases = use_cases
        self.quotas = quotas
        self.routers = routers
        self.profiles = ProfileRepository(db)
        self.route_log = RouteLog(db)

    # -- stages before the model -----------------------------------------------------

    def _prepare(self, req: AskRequest) -> _Prepared:
        if not req.messages or not any(m.role == "user" and m.content.strip() for m in req.messages):
            raise InvalidInputError("the request has no question: send at least one non-empty "
                                    "user message")
        started = time.perf_counter()
        request_id = new_request_id()
        screened = self.screen.screen_input(req.principal, req.messages)
        decision = self._use_case_gate(req, screened.decision)
        p = _Prepared(request_id, started, req, check_quota(req.principal), screened, decision,
                      RouteDecision("none", "not routed"))

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

        question = next(m.content for m in reversed(screened.messages) if m.role == "user")
        turns = sum(1 for m in req.messages if m.role == "user")
        router = self.routers.active() if self.routers is not None else None
        route = choose_route(req.model, question, self.settings.default_route,
                             vector=screened.vector, turns=turns, router=router)
        # The alias must exist before anything is counted against the user's quota.
        p.alias = self.aliases.get(route.name, kind="chat")
        if self.quotas is not None:
            p.quota = self.quotas.reserve(req.principal, route.name)
            if p.quota.exhausted:
                route = RouteDecision(MINI, f"{p.quota.reason}: served by {MINI} instead of "
                                      f"{route.name}", route.score, route.router_version,
                                      quota_exhausted=True)
                p.alias = self.aliases.get(MINI, kind="chat")
        p.route = route
        p.model = cast(ChatModel, registry.build(p.alias, self.settings))
        if route.name == "pro":
            p.judge = cast(ChatModel, registry.build(self.aliases.get("thinking", kind="chat"),
                                                     self.settings))
        passages = self.retriever.retrieve(req.principal, question, vector=screened.vector,
                                           vector_model=screened.vector_model)
        checked = self.screen.screen_passages(passages)
        p.passages, p.dropped, p.notes = checked.passages, checked.dropped, checked.notes
        messages = [m for m in screened.messages if m.role != "system"]
        system = [m.content for m in screened.messages if m.role == "system"]
        profile = self.profiles.get(req.principal.id)
        personality = req.personality if req.personality is not None else profile.personality
        instructions = req.instructions if req.instructions is not None else profile.instructions
        layered = system_prompt(decision.policy_version, personality, instructions)
        if decision.action == "safe_complete" and decision.safe_completion:
            layered += "\n\nAnswer at a safe level only. " + decision.safe_completion
        # The charter layer is always first; a client's own system text comes after it.
        messages.insert(0, ChatMessage("system", "\n\n".join([layered, *system])))
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
            route=RouteInfo(name=p.route.name, reason=p.route.reason, score=p.route.score,
                            router_version=p.route.router_version,
                            quota_exhausted=p.route.quota_exhausted),
            decision=DecisionInfo(action=d.action, tier=d.tier, category=d.category,
                                  reason=d.reason, alternatives=list(d.alternatives),
                                  review_id=d.review_id),
            citations=citations,
            label=out.label,
            usage=UsageInfo(prompt_tokens=usage.prompt_tokens,
                            completion_tokens=usage.completion_tokens),
        )
        question = next((m.content for m in reversed(p.request.messages) if m.role == "user"), "")
        prompt_sha = hashlib.sha256(question.strip().encode()).hexdigest()

        def writes(conn: Connection) -> None:
            if self.quotas is not None:
                self.quotas.add_tokens(p.request.principal.id, p.quota,
                                       usage.prompt_tokens + usage.completion_tokens, conn=conn)
            self.route_log.record(p.request_id, p.request.principal.id, prompt_sha,
                                  p.screen.redacted_question, p.request.model, p.route, conn=conn)
            self._record(p, streamed=streamed, result=result, conn=conn)

        # Tokens, the route log and the audit record land together, committed (with other
        # requests' final writes, see GroupCommit) before the answer is returned.
        self.db.writes.run(writes)
        result.timing = TimingInfo(total_ms=round((time.perf_counter() - p.started) * 1000, 3),
                                   backend_ms=round(p.backend_s * 1000, 3))
        return result

    def _record(self, p: _Prepared, *, streamed: bool, result: Result | None = None,
                error: CharterError | None = None, conn: Connection | None = None) -> None:
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
            "quota": {"tier": p.quota.tier, "route": p.quota.route,
                      "exhausted": p.quota.exhausted},
            "decision": {"action": d.action, "tier": d.tier, "category": d.category,
                         "confidence": d.confidence, "evidence": d.evidence,
                         "policy_version": d.policy_version, "review_id": d.review_id},
            "use_case": p.request.use_case,
            "approved_review": p.request.approved_review,
            "route": {"name": p.route.name, "reason": p.route.reason, "score": p.route.score,
                      "router_version": p.route.router_version},
            "model": ({"alias": p.alias.name, "alias_version": p.alias.version,
                       "backend": p.alias.backend, "model": p.model.model_id}
                      if p.alias and p.model else None),
            "retrieval": {"passages": [x.passage_id or str(x.n) for x in p.passages],
                          "neutralised": list(p.dropped)},
            "stream": streamed,
            "strategy": p.strategy_note,
            "latency_ms": round((time.perf_counter() - p.started) * 1000, 2),
            "backend_ms": round(p.backend_s * 1000, 2),
        }
        if result is not None:
            payload["status"] = "ok"
            payload["citations"] = [c.n for c in result.citations]
            payload["usage"] = result.usage.model_dump()
            payload["label"] = result.label
        if error is not None:
            payload["status"] = "error"
            payload["error"] = {"code": error.code, "message": error.message}
        if conn is not None:
            self.audit.append(p.request_id, p.request.principal.id, "chat", payload, conn=conn)
            return

        def writes(own: Connection) -> None:
            if self.quotas is not None:  # a failed request still counts on a deferred route
                self.quotas.add_tokens(p.request.principal.id, p.quota, 0, conn=own)
            self.audit.append(p.request_id, p.request.principal.id, "chat", payload, conn=own)

        self.db.writes.run(writes)

    # -- public ------------------------------------------------------------------------

    def ask(self, req: AskRequest) -> Result:
        p = self._prepare(req)
        if p.final is not None:
            return self._finish(p, p.final, Usage(), streamed=False)
        assert p.model is not None and p.chat is not None
        try:
            completion = self._complete(p)
        except CharterError as exc:
            self._record(p, streamed=False, error=exc)
            raise
        return self._finish(p, completion.text, completion.usage, streamed=False)

    def _complete(self, p: _Prepared) -> Completion:
        assert p.model is not None and p.chat is not None
        began = time.perf_counter()
        try:
            if p.judge is not None:
                outcome = pro.run(p.model, p.judge, p.chat, drafts=self.settings.pro_drafts)
                p.strategy_note = outcome.note
                return outcome.completion
            return fast.run(p.model, p.chat)
        finally:
            p.backend_s += time.perf_counter() - began

    def ask_stream(self, req: AskRequest) -> Iterator[Delta | Result]:
        """Yields ``Delta`` pieces as the model produces them, then the final ``Result``.

        Input checks and routing happen before this returns, so their errors are raised
        here, not halfway through a stream.
        """
        p = self._prepare(req)
        return self._stream(p)

    def _stream(self, p: _Prepared) -> Iterator[Delta | Result]:
        if p.final is not None:
            yield Delta(p.final, p.request_id)
            yield self._finish(p, p.final, Usage(), streamed=True)
            return
        assert p.model is not None and p.chat is not None
        pieces: list[str] = []
        usage = Usage()
        if p.judge is not None:
            # Drafts are judged whole, so the pro path streams its chosen answer at once.
            try:
                completion = self._complete(p)
            except CharterError as exc:
                self._record(p, streamed=True, error=exc)
                raise
            yield Delta(completion.text, p.request_id)
            yield self._finish(p, completion.text.strip(), completion.usage, streamed=True)
            return
        source = iter(fast.stream(p.model, p.chat))
        try:
            while True:
                began = time.perf_counter()
                chunk = next(source, None)
                p.backend_s += time.perf_counter() - began
                if chunk is None:
                    break
                if chunk.text:
                    pieces.append(chunk.text)
                    yield Delta(chunk.text, p.request_id)
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
