"""The gateway: one request, one straight path through the stages.

principal -> screen input -> charter gates -> route -> quota -> retrieve -> screen
passages -> prompt -> strategy -> screen output -> citations -> route log, token count,
audit record (committed together) -> result

The gateway only composes: each stage is a call into the module that owns the decision
(``policy`` for screening, gates and redaction, ``router`` for the route, ``usage`` for
quotas and the mini fallback, ``knowledge`` for passages, ``prompt`` for what the model
sees, ``strategies`` for how it is asked, ``spine.record`` for the audit record). Stage
results are immutable values handed forward. Streaming goes through the same stages:
everything before the strategy runs before the first token; output screening and the
audit record follow the stream. A request the charter refuses or holds never reaches a
model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Connection

from charter import metrics, prompt
from charter.audit import AuditLog, key_for
from charter.backends.extractive import NO_SOURCES, NOT_FOUND
from charter.core.aliases import AliasConfig
from charter.core.chat import (ChatRequest, Completion, FunctionCall, Passage, Usage,
                               approx_tokens)
from charter.core.config import Settings
from charter.core.errors import CancelledRequestError, CharterError
from charter.core.result import (Decision, Result, RouteInfo, TimingInfo, ToolCallInfo,
                                 UsageInfo)
from charter.core.routes import NONE, RouteDecision
from charter.knowledge.citations import drop_unsupported_markers, resolve_citations
from charter.knowledge.retrieve import NoRetrieval, Retriever
from charter.policy import gates
from charter.policy.reviews import ReviewQueue
from charter.policy.screen import InputScreen, PassThroughScreen, Screen
from charter.profiles import ProfileRepository
from charter.router.log import RouteLog
from charter.router.rules import choose_route
from charter.router.versions import RouterRepository
from charter.spine import context
from charter.spine.drift import DriftCollector
from charter.spine.outflow import Outflow
from charter.spine.research import GatewayResearch
from charter.spine.rollout import Assignment, Canary
from charter.spine.record import ErrorRecord, chat_record, model_record, question_sha256
from charter.spine.request import AskRequest, Delta, encode, new_request_id
from charter.store.aliases import AliasRepository
from charter.store.db import Database
from charter.strategies import Strategy, for_route
from charter.usage import Quotas, QuotaState, check_quota, served_route

__all__ = ["AskRequest", "Delta", "Gateway"]

log = logging.getLogger("charter.gateway")


@dataclass(frozen=True)
class Admitted:
    """The request after input screening and the charter's gates."""

    request_id: str
    started: float
    request: AskRequest
    screen: InputScreen
    decision: Decision
    personality: str  # the request's own, else the asker's profile's
    instructions: str
    assigned: tuple[Assignment, ...] = ()  # the request's arm in each running rollout


@dataclass(frozen=True)
class Grounding:
    """The passages the answer may use, after passage screening."""

    passages: tuple[Passage, ...] = ()
    dropped: tuple[str, ...] = ()  # neutralised passages, with the evidence
    notes: tuple[str, ...] = ()  # told to the user with the answer


@dataclass(frozen=True)
class Prepared:
    """Everything decided before a model is called."""

    admitted: Admitted
    route: RouteDecision
    quota: QuotaState
    grounding: Grounding = Grounding()
    alias: AliasConfig | None = None
    strategy: Strategy | None = None
    chat: ChatRequest | None = None
    final: str | None = None  # the answer when no model is called (refused, held, safe text)
    research: GatewayResearch | None = None  # the searches a strategy makes on its own


class Gateway:
    """Runs requests through the stages; one instance serves many requests and threads."""

    def __init__(self, settings: Settings, db: Database, *, retriever: Retriever | None = None,
                 screen: Screen | None = None, reviews: ReviewQueue | None = None,
                 use_cases: gates.UseCases | None = None, quotas: Quotas | None = None,
                 routers: RouterRepository | None = None,
                 drift: DriftCollector | None = None,
                 canary: Canary | None = None) -> None:
        self.settings = settings
        self.db = db
        self.aliases = AliasRepository(db)
        self.audit = AuditLog(db, key_for(settings))
        self.retriever = retriever or NoRetrieval()
        self.screen = screen or PassThroughScreen()
        self.reviews = reviews
        self.use_cases = use_cases
        self.quotas = quotas
        self.routers = routers
        self.profiles = ProfileRepository(db)
        self.route_log = RouteLog(db)
        self.drift = drift
        self.canary = canary

    # -- stages before the model -------------------------------------------------------

    def _admit(self, req: AskRequest) -> Admitted:
        req.check(max_messages=self.settings.max_messages,
                  max_chars=self.settings.max_conversation_chars)
        started = time.perf_counter()
        profile = self.profiles.get(req.principal.id)
        personality = req.personality if req.personality is not None else profile.personality
        instructions = req.instructions if req.instructions is not None else profile.instructions
        # A person's own requests take part in rollouts; an agent's steps are its run's.
        assigned = (self.canary.assign(req.principal.id)
                    if self.canary is not None and req.origin is None else ())
        # The whole conversation is screened, the instructions with it: they reach the model.
        screened = self.screen.screen_input(req.principal, req.messages,
                                            instructions=instructions,
                                            version=Canary.version(assigned, "charter"))
        decision = gates.use_case_gate(screened.decision, req.use_case, self.use_cases)
        return Admitted(new_request_id(), started, req, screened, decision, personality,
                        instructions, assigned)

    def _stopped(self, admitted: Admitted, stop: gates.Stop) -> Prepared:
        decision, text = admitted.decision, stop.text
        if stop.kind == "hold":
            review_id = self._hold(admitted)
            decision, text = decision.with_review(review_id), gates.held_text(review_id)
        admitted = replace(admitted, decision=decision)
        return Prepared(admitted, RouteDecision(NONE, stop.route_reason),
                        check_quota(admitted.request.principal), final=text)

    def _hold(self, admitted: Admitted) -> str:
        if self.reviews is None:
            raise CharterError("this request must be held for review, but no review queue "
                               "is configured")
        d, req = admitted.decision, admitted.request
        review = self.reviews.create(
            request_id=admitted.request_id, principal_id=req.principal.id, category=d.category,
            tier=d.tier, policy_version=d.policy_version or 0,
            question_redacted=admitted.screen.redacted_question, request=encode(req))
        return review.id

    def _route(self, admitted: Admitted) -> tuple[RouteDecision, QuotaState, AliasConfig]:
        req = admitted.request
        router = None
        if self.routers is not None:
            challenger = Canary.version(admitted.assigned, "router")
            router = (self.routers.active() if challenger is None
                      else (challenger, self.routers.model(challenger)))
        # An agent's step is one step of its run's plan already: not split again.
        route = choose_route(req.model, req.question, self.settings.default_route,
                             vector=admitted.screen.vector, turns=req.turns, router=router,
                             split=req.origin is None)
        # The alias must exist before anything is counted against the user's quota.
        alias = self.aliases.get(route.name, kind="chat")
        quota = check_quota(req.principal)
        if self.quotas is not None:
            quota = self.quotas.reserve(req.principal, route.name)
            served = served_route(route, quota)
            if served.name != route.name:
                alias = self.aliases.get(served.name, kind="chat")
            route = served
        # A rollout of this alias serves its challenger arm another alias in its place.
        stand_in = Canary.alias_for(admitted.assigned, alias.name)
        if stand_in is not None:
            found = self.aliases.find(stand_in)
            if found is not None and found.kind == "chat":
                alias = found
            else:  # removed during the rollout: the alias rolled out serves, as before
                log.warning("rollout challenger alias %r is gone; serving %r", stand_in,
                            alias.name)
        return route, quota, alias

    def _ground(self, admitted: Admitted) -> Grounding:
        req, screened = admitted.request, admitted.screen
        passages = self.retriever.retrieve(req.principal, req.question, vector=screened.vector,
                                           vector_model=screened.vector_model)
        checked = self.screen.screen_passages(passages)
        return Grounding(tuple(checked.passages), checked.dropped, checked.notes)

    def _prepare(self, req: AskRequest) -> Prepared:
        admitted = self._admit(req)
        stop = gates.stop_for(admitted.decision, approved_review=req.approved_review)
        if stop is not None:
            return self._stopped(admitted, stop)
        route, quota, alias = self._route(admitted)
        default_tokens = alias.options.get("max_tokens") or self.settings.max_tokens
        research = GatewayResearch(self.retriever, self.screen, admitted, alias.name,
                                   default_tokens, external=alias.external)
        strategy = for_route(route.name, alias,
                             lambda name: self.aliases.get(name, kind="chat"), self.settings,
                             research=research)
        grounding = self._ground(admitted)
        decision = admitted.decision

        def build(passages: Sequence[Passage]) -> ChatRequest:
            return prompt.build(
                admitted.screen.messages, policy_version=decision.policy_version,
                personality=admitted.personality, instructions=admitted.instructions,
                safe_completion=gates.safe_completion_instruction(decision),
                passages=passages, max_tokens=req.max_tokens,
                temperature=req.temperature, seed=req.seed)

        try:
            fitted = context.fit(build, grounding.passages, window=strategy.context_window,
                                 count=strategy.count_tokens, requested=req.max_tokens,
                                 default=default_tokens, alias=alias.name)
        except CharterError as exc:  # the conversation does not fit: recorded, refused
            self._record(Prepared(admitted, route, quota, grounding, alias, strategy),
                         streamed=False, backend_s=0.0, error=exc)
            exc.observed = True  # type: ignore[attr-defined]
            raise
        chat = fitted.request
        if fitted.left_out:
            grounding = replace(grounding, passages=fitted.passages, notes=(
                *grounding.notes, f"{fitted.left_out} of the retrieved passages were left out "
                "to fit the model's context window"))
        if req.tools:
            chat = replace(chat, tools=req.tools, tool_choice=req.tool_choice)
        # Personal data never leaves for a backend marked as outside the organisation.
        chat = self.screen.for_backend(chat, external=any(a.external for a in strategy.aliases))
        return Prepared(admitted, route, quota, grounding, alias, strategy, chat, research=research)

    @staticmethod
    def _researched(p: Prepared, passages: tuple[Passage, ...] | None) -> Prepared:
        """``p`` with the passages a strategy searched for itself (thinking), and what
        screening them neutralised, as the grounding the answer is checked against."""
        if passages is None or p.research is None or passages == p.grounding.passages:
            return p
        g = p.grounding
        return replace(p, grounding=Grounding(
            passages, (*g.dropped, *p.research.dropped),
            (*g.notes, *(n for n in p.research.notes if n not in g.notes))))

    # -- after the model -----------------------------------------------------------------

    def _screened(self, p: Prepared, text: str) -> str:
        """The model's text as a user may see it (the answer without the notes)."""
        passages = p.grounding.passages
        return self.screen.screen_output(p.admitted.request.principal,
                                         drop_unsupported_markers(text, passages),
                                         passages).answer

    def _result(self, p: Prepared, text: str, usage: Usage, finish_reason: str = "stop",
                tool_calls: Sequence[FunctionCall] = ()) -> Result:
        passages = p.grounding.passages
        text = drop_unsupported_markers(text, passages)
        out = self.screen.screen_output(p.admitted.request.principal, text, passages)
        answer = out.answer
        for note in (*p.grounding.notes, *out.notes):
            answer = f"{answer}\n\nNote: {note}"
        return Result(request_id=p.admitted.request_id, answer=answer,
                      model=p.alias.name if p.alias else NONE, route=RouteInfo.of(p.route),
                      decision=p.admitted.decision.info(),
                      citations=resolve_citations(out.answer, passages), label=out.label,
                      usage=UsageInfo.of(usage), finish_reason=finish_reason,
                      tool_calls=[ToolCallInfo(name=c.name, arguments=c.arguments)
                                  for c in tool_calls])

    def _finish(self, p: Prepared, text: str, usage: Usage, *, streamed: bool,
                backend_s: float = 0.0, note: str | None = None,
                finish_reason: str = "stop", tool_calls: Sequence[FunctionCall] = ()
                ) -> Result:
        result = self._result(p, text, usage, finish_reason, tool_calls)
        req = p.admitted.request

        def writes(conn: Connection) -> int | None:
            if self.quotas is not None:
                self.quotas.add_tokens(req.principal.id, p.quota,
                                       usage.prompt_tokens + usage.completion_tokens, conn=conn)
            self.route_log.record(p.admitted.request_id, req.principal.id,
                                  question_sha256(req.question),
                                  p.admitted.screen.redacted_question, req.model, p.route,
                                  conn=conn)
            self._record(p, streamed=streamed, backend_s=backend_s, note=note, result=result,
                         conn=conn)
            if self.drift is None or req.origin is not None:  # agent steps are not sampled
                return None
            return self.drift.record(conn, p.admitted.screen, p.admitted.decision.action,
                                     p.route.name)

        # Tokens, the route log, the audit record and the drift sample land together,
        # committed (with other requests' final writes, see GroupCommit) before the answer
        # is returned.
        sample = self.db.writes.run(writes)
        if self.drift is not None:
            self.drift.committed(sample)
        if self.canary is not None:
            self.canary.committed(p.admitted.assigned)
        self._observe(p, "ok", backend_s, usage, abstained=_abstained(result))
        result.timing = TimingInfo(
            total_ms=round((time.perf_counter() - p.admitted.started) * 1000, 3),
            backend_ms=round(backend_s * 1000, 3))
        return result

    def _record(self, p: Prepared, *, streamed: bool, backend_s: float, note: str | None = None,
                result: Result | None = None, error: CharterError | None = None,
                conn: Connection | None = None, tokens: int = 0) -> None:
        """The audit record; without ``conn`` (a failed or cancelled request) in its own
        transaction, with ``tokens`` (what was served before the failure) counted."""
        a, req = p.admitted, p.admitted.request
        record = chat_record(
            principal=req.principal, question=req.question,
            redacted=a.screen.redacted_question, messages=req.messages,
            pii=a.screen.pii, injection=a.screen.injection, quota_tier=p.quota.tier,
            quota_route=p.quota.route, quota_exhausted=p.quota.exhausted, decision=a.decision,
            use_case=req.use_case, approved_review=req.approved_review, route=p.route,
            model=model_record(p.alias, p.strategy.model_id if p.strategy else None),
            passages=p.grounding.passages, dropped=p.grounding.dropped, stream=streamed,
            strategy=note, latency_ms=(time.perf_counter() - a.started) * 1000,
            backend_ms=backend_s * 1000, result=result,
            error=ErrorRecord(code=error.code, message=error.message) if error else None,
            origin=req.origin)
        # A request the client abandoned says nothing about the version that served it.
        counted = self.canary is not None and a.assigned and not (
            error is not None and error.code == "cancelled")

        def outcome(c: Connection) -> None:
            assert self.canary is not None
            self.canary.record(c, a.assigned, request_id=a.request_id,
                               principal_id=req.principal.id, error=error is not None,
                               decision=a.decision.action,
                               abstained=result is not None and _abstained(result))

        if conn is not None:
            self.audit.append(a.request_id, req.principal.id, "chat", record.payload(),
                              conn=conn)
            if counted:
                outcome(conn)
            return

        def writes(own: Connection) -> None:
            if self.quotas is not None:  # a failed request still counts on a deferred route
                self.quotas.add_tokens(req.principal.id, p.quota, tokens, conn=own)
            self.audit.append(a.request_id, req.principal.id, "chat", record.payload(),
                              conn=own)
            if counted:
                outcome(own)

        self.db.writes.run(writes)
        if counted and self.canary is not None:
            self.canary.committed(a.assigned)
        status = "cancelled" if error is not None and error.code == "cancelled" else "error"
        self._observe(p, status, backend_s, Usage(tokens, 0), abstained=False)

    def _observe(self, p: Prepared, status: str, backend_s: float, usage: Usage, *,
                 abstained: bool) -> None:
        """The request in this process's Prometheus metrics (``charter.metrics``)."""
        if not self.settings.metrics:
            return
        metrics.observe_chat(
            route=p.route.name, decision=p.admitted.decision.action, status=status,
            seconds=time.perf_counter() - p.admitted.started, backend_seconds=backend_s,
            alias=p.alias.name if p.alias is not None and p.strategy is not None else None,
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
            abstained=abstained, passages=len(p.grounding.passages),
            neutralised=len(p.grounding.dropped))

    def _prepare_counted(self, req: AskRequest) -> Prepared:
        """``_prepare``, with a request refused before it was routed (an unknown alias, a
        spent quota, a message too large) counted in the metrics under route ``none`` and
        its error code as the status."""
        try:
            return self._prepare(req)
        except CharterError as exc:
            if self.settings.metrics and not getattr(exc, "observed", False):
                metrics.observe_rejected(exc.code)
            raise

    # -- public ------------------------------------------------------------------------

    def ask(self, req: AskRequest, cancel: threading.Event | None = None) -> Result:
        """The whole answer. With ``cancel``, a model generating in this process is read
        as a stream and stopped between pieces once ``cancel`` is set (the client left):
        the request ends with ``CancelledRequestError``, recorded with what it used."""
        p = self._prepare_counted(req)
        if p.final is not None:
            return self._finish(p, p.final, Usage(), streamed=False)
        assert p.strategy is not None and p.chat is not None
        began = time.perf_counter()
        try:
            # Function calls come whole from ``complete``; a stream would lose them.
            if cancel is not None and p.strategy.generates_in_process and not p.chat.tools:
                completion = self._complete_unless(p, cancel)
            else:
                completion = p.strategy.complete(p.chat)
        except CharterError as exc:
            self._record(p, streamed=False, backend_s=time.perf_counter() - began, error=exc,
                         tokens=getattr(exc, "served_tokens", 0))
            raise
        p = self._researched(p, completion.passages)
        return self._finish(p, completion.text, completion.usage, streamed=False,
                            backend_s=time.perf_counter() - began, note=completion.note,
                            finish_reason=completion.finish_reason,
                            tool_calls=completion.tool_calls)

    def _complete_unless(self, p: Prepared, cancel: threading.Event) -> Completion:
        """``complete`` through the strategy's stream, stopped when ``cancel`` is set."""
        assert p.strategy is not None and p.chat is not None
        pieces: list[str] = []
        source = iter(p.strategy.stream(p.chat))
        try:
            for chunk in source:
                if cancel.is_set():
                    error = CancelledRequestError("the client went away before the answer "
                                                  "was ready; generation was stopped")
                    # A piece has come, so the model has read the whole prompt: that is
                    # charged even when the client left before any text was produced.
                    error.served_tokens = _spent(p, pieces)  # type: ignore[attr-defined]
                    raise error
                pieces.append(chunk.text)
                if chunk.usage is not None:
                    return Completion("".join(pieces).strip(), chunk.usage,
                                      chunk.finish_reason or "stop", p.strategy.model_id,
                                      chunk.note, chunk.passages)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        return Completion("".join(pieces).strip(), Usage(), "stop", p.strategy.model_id)

    def ask_stream(self, req: AskRequest) -> Iterator[Delta | Result]:
        """Yields ``Delta`` pieces as the model produces them, then the final ``Result``.

        Input checks and routing happen before this returns, so their errors are raised
        here, not halfway through a stream.
        """
        p = self._prepare_counted(req)
        return self._stream(p)

    def _stream(self, p: Prepared) -> Iterator[Delta | Result]:
        """Deltas screened before they leave (``Outflow``); the audit record is committed
        before the last of the answer is released, so a failed write ends the stream
        with an error, never a complete answer without a record."""
        rid = p.admitted.request_id
        if p.final is not None:
            result = self._finish(p, p.final, Usage(), streamed=True)
            yield Delta(p.final, rid)
            yield result
            return
        assert p.strategy is not None and p.chat is not None
        outflow = Outflow(lambda text: self._screened(p, text), self.screen.answer_hold())
        pieces: list[str] = []
        usage = Usage()
        note: str | None = None
        finish = "stop"
        backend_s = 0.0
        source = iter(p.strategy.stream(p.chat))
        try:
            while True:
                began = time.perf_counter()
                chunk = next(source, None)
                backend_s += time.perf_counter() - began
                if chunk is None:
                    break
                p = self._researched(p, chunk.passages)  # before its text is screened
                if chunk.text:
                    pieces.append(chunk.text)
                    if ready := outflow.push(chunk.text):
                        yield Delta(ready, rid)
                if chunk.usage is not None:
                    usage = chunk.usage
                finish = chunk.finish_reason or finish
                note = chunk.note or note
        except CharterError as exc:
            self._record(p, streamed=True, backend_s=backend_s, error=exc)
            raise
        except GeneratorExit:
            # The consumer went away (client disconnect, Ctrl-C): stop the backend and
            # still leave a record of what was served, and count it (the usage chunk may
            # not have come yet: estimated from the text served and the prompt).
            self._record(p, streamed=True, backend_s=backend_s, tokens=_spent(p, pieces),
                         error=CharterError("the client stopped reading the stream",
                                            code="cancelled"))
            raise
        except Exception as exc:
            # Not one of Charter's errors: recorded, and the client gets a clean error.
            log.exception("stream %s failed", rid)
            error = CharterError("the answer failed part-way; try again")
            self._record(p, streamed=True, backend_s=backend_s, error=error)
            raise error from exc
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        tail = outflow.finish()
        result = self._finish(p, outflow.text.strip(), usage, streamed=True,
                              backend_s=backend_s, note=note, finish_reason=finish)
        if tail:
            yield Delta(tail, rid)
        yield result


def _abstained(result: Result) -> bool:
    """Whether the answer is Charter's own abstention (the extractive answerer's)."""
    return result.answer.startswith((NOT_FOUND, NO_SOURCES))


def _spent(p: Prepared, pieces: list[str]) -> int:
    """Tokens a request stopped part-way used, estimated: the prompt (the model read it
    before its first piece) and the pieces it produced."""
    assert p.chat is not None
    return (approx_tokens("".join(pieces))
            + sum(approx_tokens(m.content) for m in p.chat.messages))
