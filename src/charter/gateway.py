"""The spine: one request, one straight path through the stages.

principal -> quota -> screen input -> route -> retrieve -> strategy -> screen output -> audit

The gateway composes the stages in order and holds no policy, routing or retrieval
logic itself. Streaming goes through the same stages: everything before the strategy
runs before the first token; output screening and the audit record follow the stream.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from charter.audit import AuditLog
from charter.auth import Principal
from charter.backends import registry
from charter.backends.base import AliasConfig, ChatMessage, ChatModel, ChatRequest, Passage, Usage
from charter.config import Settings
from charter.errors import CharterError, InvalidInputError
from charter.knowledge.citations import drop_unsupported_markers, resolve_citations
from charter.knowledge.retrieve import NoRetrieval, Retriever
from charter.policy.screen import InputScreen, PassThroughScreen, Screen
from charter.router.rules import RouteDecision, choose_route
from charter.schema import DecisionInfo, Result, RouteInfo, UsageInfo
from charter.store.aliases import AliasRepository
from charter.store.db import Database
from charter.strategies import fast
from charter.usage import QuotaState, check_quota


@dataclass(frozen=True)
class AskRequest:
    """A request as it enters the spine."""

    messages: Sequence[ChatMessage]
    principal: Principal
    model: str = "auto"
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None


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
    route: RouteDecision
    alias: AliasConfig
    model: ChatModel
    passages: list[Passage]
    chat: ChatRequest
    extra: dict[str, Any] = field(default_factory=dict)


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


class Gateway:
    """Runs requests through the stages; one instance serves many requests and threads."""

    def __init__(self, settings: Settings, db: Database, *, retriever: Retriever | None = None,
                 screen: Screen | None = None) -> None:
        self.settings = settings
        self.aliases = AliasRepository(db)
        self.audit = AuditLog(db)
        self.retriever = retriever or NoRetrieval()
        self.screen = screen or PassThroughScreen()

    # -- stages before the model -----------------------------------------------------

    def _prepare(self, req: AskRequest) -> _Prepared:
        if not req.messages or not any(m.role == "user" and m.content.strip() for m in req.messages):
            raise InvalidInputError("the request has no question: send at least one non-empty "
                                    "user message")
        started = time.perf_counter()
        request_id = new_request_id()
        quota = check_quota(req.principal)
        screened = self.screen.screen_input(req.principal, req.messages)
        route = choose_route(req.model, quota, self.settings.default_route)
        alias = self.aliases.get(route.name, kind="chat")
        model = registry.build(alias, self.settings)
        assert isinstance(model, ChatModel)
        question = next(m.content for m in reversed(screened.messages) if m.role == "user")
        passages = self.retriever.retrieve(req.principal, question)
        chat = ChatRequest(messages=screened.messages, passages=passages,
                           max_tokens=req.max_tokens, temperature=req.temperature, seed=req.seed)
        return _Prepared(request_id, started, req, quota, screened, route, alias, model,
                         passages, chat)

    # -- after the model -----------------------------------------------------------------

    def _finish(self, p: _Prepared, text: str, usage: Usage, *, streamed: bool) -> Result:
        text = drop_unsupported_markers(text, p.passages)
        out = self.screen.screen_output(p.request.principal, text, p.passages)
        citations = resolve_citations(out.answer, p.passages)
        d = p.screen.decision
        result = Result(
            request_id=p.request_id,
            answer=out.answer,
            model=p.alias.name,
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
        payload: dict[str, Any] = {
            "principal": {"id": p.request.principal.id, "roles": sorted(p.request.principal.roles),
                          "tier": p.request.principal.tier},
            # The prompt itself is not stored until PII redaction exists; its hash links
            # the record to the request without keeping personal data.
            "prompt": {"sha256": hashlib.sha256(question.encode()).hexdigest(),
                       "chars": len(question), "messages": len(p.request.messages)},
            "quota": {"tier": p.quota.tier, "exhausted": p.quota.exhausted},
            "decision": {"action": p.screen.decision.action, "tier": p.screen.decision.tier,
                         "category": p.screen.decision.category,
                         "evidence": p.screen.decision.evidence},
            "route": {"name": p.route.name, "reason": p.route.reason},
            "model": {"alias": p.alias.name, "alias_version": p.alias.version,
                      "backend": p.alias.backend, "model": p.model.model_id},
            "retrieval": {"passages": [x.passage_id or str(x.n) for x in p.passages]},
            "stream": streamed,
            "latency_ms": round((time.perf_counter() - p.started) * 1000, 2),
        }
        if result is not None:
            payload["status"] = "ok"
            payload["citations"] = [c.n for c in result.citations]
            payload["usage"] = result.usage.model_dump()
        if error is not None:
            payload["status"] = "error"
            payload["error"] = {"code": error.code, "message": error.message}
        self.audit.append(p.request_id, p.request.principal.id, "chat", payload)

    # -- public ------------------------------------------------------------------------

    def ask(self, req: AskRequest) -> Result:
        p = self._prepare(req)
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

