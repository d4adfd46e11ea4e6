"""Agent runs: start, list, show, approve, resume, reconcile and cancel, each checked and
audited here, for the CLI and the API alike.

A run acts as the user who started it, with that user's rights as they are at each
step (a user disabled since stops the run at its next step), so its model calls are
screened, routed, limited and audited like the user's own chat requests, and its
knowledge tools reach only what the user may read. Only the owner and administrators see
a run (its steps quote passages at the owner's clearance); reviewers see the tool call a
run waits on, to approve or reject it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from charter.agents import engine
from charter.agents import runs as R
from charter.agents.engine import ModelReply, TextScreen
from charter.agents.runs import Run, RunRepository
from charter.agents.spec import AgentSpec, Budget, TeamsFile, builtin_teams, load_teams, \
    merged, parse_teams, resolve
from charter.agents.fetch import parse_hosts
from charter.agents.tools import Found, HttpFetch, Tool, ToolContext, ToolError, tool_named
from charter.core.chat import TOOL_AUTO, TOOL_REQUIRED, ChatMessage, Passage, ToolSpec
from charter.core.errors import CharterError, ConflictError, ForbiddenError, \
    InvalidInputError, NotFoundError
from charter.core.principal import Principal, local_admin, require
from charter.core.routes import AUTO
from charter.runtime import Runtime
from charter.services import documents, events
from charter.services.dashboard import COST_PER_1K
from charter.services.reviews import asker_now
from charter.spine.request import AskRequest

MAX_TASK_CHARS = 8000
# The most a user (not an admin) may raise a run's budget to when resuming it.
USER_CEILING = Budget(steps=60, tool_calls=100, tokens=200_000, cost=5.0, wall_seconds=3600.0,
                      repeats=3, rounds=8)
READ_DOCUMENT_CHARS = 12_000


def teams(rt: Runtime) -> TeamsFile:
    """The built-in teams and those of the ``agents_file`` setting."""
    path = rt.settings.values["agents_file"]
    return merged(builtin_teams(), load_teams(Path(path))) if path else builtin_teams()


class RuntimePorts:
    """The engine's view of one runtime (``agents.engine.Ports``)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.runs = RunRepository(rt.db)

    def principal(self, run: Run) -> Principal:
        # A user account's rights as they are now; the CLI's operator (no account) as is.
        stored = local_admin() if run.principal_id == local_admin().id \
            else Principal(run.principal_id)
        return asker_now(self.rt, stored)

    def ask(self, run: Run, agent: AgentSpec, messages: list[ChatMessage],
            tools: Sequence[ToolSpec] = (), require_tool: bool = False) -> ModelReply:
        try:
            result = self.rt.gateway.ask(AskRequest(
                messages=messages, principal=self.principal(run), model=agent.model,
                max_tokens=agent.max_tokens, origin=f"{run.id}:{agent.name}",
                tools=tuple(tools), tool_choice=TOOL_REQUIRED if require_tool else TOOL_AUTO))
        except CharterError as exc:
            return ModelReply("", "error", reason=exc.public or exc.message)
        tokens = result.usage.prompt_tokens + result.usage.completion_tokens
        cost = tokens / 1000 * COST_PER_1K.get(result.route.name, 0.0)
        d = result.decision
        return ModelReply(result.answer, d.action, tokens=tokens, cost=cost,
                          reason=d.reason or "", review_id=d.review_id,
                          request_id=result.request_id, route=result.route.name,
                          calls=tuple({"name": c.name, "arguments": c.arguments}
                                      for c in result.tool_calls))

    def review(self, review_id: str) -> tuple[str, str | None, list[dict[str, str]]]:
        review = self.rt.reviews.get(review_id)
        stored = review.result if isinstance(review.result, dict) else {}
        calls = stored.get("tool_calls") or []
        return review.state, review.answer, [
            {"name": str(c.get("name")), "arguments": str(c.get("arguments") or "{}")}
            for c in calls if isinstance(c, dict) and c.get("name")]

    def screen_arguments(self, run: Run, tool: str, arguments: str) -> TextScreen:
        screened = self.rt.screen.screen_input(
            self.principal(run), [ChatMessage("user", f"Use the tool {tool} with {arguments}")])
        action = screened.decision.action
        return TextScreen(action if action in ("refuse", "hold_for_review") else "allow",
                          arguments, screened.decision.reason or "")

    def screen_result(self, run: Run, tool: str, result: str) -> TextScreen:
        checked = self.rt.screen.screen_passages([Passage(1, result, document=f"tool {tool}")])
        if checked.dropped:
            return TextScreen("withheld", "[withheld: the tool's result held instructions "
                              "addressed to the model]", "injected instructions")
        redacted = self.rt.screen.redact(result)
        return TextScreen("allow" if redacted == result else "redacted", redacted)

    def redact(self, text: str) -> str:
        return self.rt.screen.redact(text)

    def tool_context(self, run: Run, key: str) -> ToolContext:
        principal = self.principal(run)

        def search(query: str, k: int) -> Sequence[Found]:
            hits = documents.search(self.rt, principal, query, k=k)
            return [Found(h.document_id, h.title,
                          f"page {h.page}" if h.page else h.heading or "text", h.text)
                    for h in hits]

        def read(doc_id: str) -> str:
            readable = [d for d in documents.list_documents(self.rt, principal)
                        if d.id == doc_id or (len(doc_id) >= 8 and d.id.startswith(doc_id))]
            if len(readable) != 1:
                raise ToolError(f"no document {doc_id!r} among those this run may read")
            text = "\n\n".join(c["text"] for c in self.rt.documents.chunks_of(readable[0].id))
            return text[:READ_DOCUMENT_CHARS]

        return ToolContext(run_id=run.id, principal_id=run.principal_id, search=search,
                           read_document=read, idempotency_key=key,
                           fetch_hosts=parse_hosts(self.rt.settings.agents_fetch_hosts))

    def record(self, run: Run, event: str, payload: dict[str, Any]) -> None:
        events.record(self.rt, Principal(run.principal_id), event, run.id,
                      {"run_id": run.id, "team_name": run.team.spec.name, **payload})

    def extra_tools(self) -> Mapping[str, Tool]:
        return _tools


_lock = threading.Lock()
_serving = {"queue": False}
# Tools handed in by the code embedding Charter (and tests), beside the built-ins and
# plugins; kept for the process, since a run resumed later needs them again.
_tools: dict[str, Tool] = {}  # set by the server: its engine always works the shared queue


def register_tools(tools: Mapping[str, Tool]) -> None:
    """Tools the code embedding Charter provides, for every run in this process (beside
    the built-ins and the ``charter.agent_tools`` plugins)."""
    with _lock:
        _tools.update(tools)


def serve_queue() -> None:
    """Make this process a worker of the shared run queue when its engine starts."""
    _serving["queue"] = True


def _engine(rt: Runtime, *, listen: bool, tools: Mapping[str, Tool] | None = None) -> None:
    with _lock:
        _tools.update(tools or {})
        engine.launch(RuntimePorts(rt), database_url=rt.db.workflow_url(),
                      listen=listen or _serving["queue"])


def _visible(rt: Runtime, actor: Principal, run_id: str) -> Run:
    run = RunRepository(rt.db).get(run_id)
    if run.principal_id != actor.id and not actor.has_role("admin"):
        raise NotFoundError(f"no run {run_id!r}; see `charter agents list`")
    return run


def _budget(actor: Principal, base: Budget, overrides: Mapping[str, Any] | None, *,
            declared_here: bool = False, ceiling: Budget | None = None) -> Budget:
    """The budget a run gets. Admins set any; others may lower a declared team's budget,
    not raise it, and a team declared in the request itself gets at most the default
    budget (``ceiling``: resuming may raise a budget up to the platform's user cap)."""
    try:
        wanted = base.raised(**overrides) if overrides else base
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"bad budget: {exc}; fields: "
                                f"{', '.join(Budget.model_fields)}") from None
    if actor.has_role("admin"):
        return wanted
    cap = ceiling or (Budget() if declared_here else base)
    over = [f"{k} {getattr(wanted, k)} > {getattr(cap, k)}" for k in Budget.model_fields
            if getattr(wanted, k) > getattr(cap, k)]
    if over:
        raise InvalidInputError(f"the budget asks for more than you may set ({'; '.join(over)})"
                                "; an administrator can run it with a larger one")
    return wanted


def start(rt: Runtime, actor: Principal, team_name: str, task: str, *,
          budget: Mapping[str, Any] | None = None, team_spec: Mapping[str, Any] | None = None,
          background: bool = False, tools: Mapping[str, Tool] | None = None) -> Run:
    """Start a run of ``team_name`` on ``task`` as ``actor``. ``team_spec`` (agents and
    teams, as in a teams file) declares the team in the request itself. ``background``:
    put it on the shared queue (servers); otherwise run it in this process."""
    require(actor, "user")
    task = (task or "").strip()
    if not task:
        raise InvalidInputError("the task is empty: say what the team should do")
    if len(task) > MAX_TASK_CHARS:
        raise InvalidInputError(f"the task has {len(task):,} characters; at most "
                                f"{MAX_TASK_CHARS:,} are accepted")
    declared = teams(rt)
    if team_spec is not None:
        declared = merged(declared, parse_teams(dict(team_spec), "team in the request"))
    team = resolve(declared, team_name)
    for agent in team.agents:
        for name in agent.tools:
            tool_named(name, {**_tools, **(tools or {})})  # refused before the run
            if name == HttpFetch.name and not parse_hosts(rt.settings.agents_fetch_hosts):
                raise InvalidInputError(
                    f"the {agent.name} agent lists http_fetch, which is off: an administrator "
                    "must set agents_fetch_hosts to the hosts it may read")
        if agent.model != AUTO:
            rt.aliases.get(agent.model, kind="chat")  # an unknown alias fails now, not later
    runs = RunRepository(rt.db)
    allowed = _budget(actor, team.spec.budget, budget,
                      declared_here=team_spec is not None and team_name in
                      (team_spec.get("teams") or {}))
    _engine(rt, listen=background, tools=tools)
    run = runs.create(team, task, actor.id, allowed,
                      max_active=rt.settings.values["agents_max_active"])
    events.record(rt, actor, "run.started", run.id,
                  {"run_id": run.id, "team_name": team.spec.name, "mode": team.spec.mode,
                   "budget": run.budget.model_dump(), "background": background})
    if background:
        engine.enqueue(run)
    else:
        engine.start(run)
    return runs.get(run.id)


def wait(rt: Runtime, actor: Principal, run_id: str, *, timeout: float | None = None,
         on_step: Callable[[dict[str, Any]], None] | None = None, poll: float = 0.3) -> Run:
    """Block until the run leaves the active states (or ``timeout``), reporting each new
    step to ``on_step``."""
    import time

    run = _visible(rt, actor, run_id)
    url = rt.db.workflow_url()
    deadline = None if timeout is None else time.monotonic() + timeout
    shown = 0
    while True:
        if on_step is not None:
            current = engine.steps(url, run.workflow_id)
            for step in current[shown:]:
                on_step(step)
            shown = len(current)
        run = _visible(rt, actor, run_id)
        status = engine.workflow_status(url, run.workflow_id)
        # Ended, or parked for a person's decision (the workflow over, the run waiting).
        if run.status not in (R.QUEUED, R.RUNNING) and status in ("SUCCESS", "ERROR",
                                                                  "CANCELLED", None):
            if on_step is not None:
                for step in engine.steps(url, run.workflow_id)[shown:]:
                    on_step(step)
            return run
        if deadline is not None and time.monotonic() > deadline:
            return run
        time.sleep(poll)


def list_runs(rt: Runtime, actor: Principal, *, everyone: bool = False,
              limit: int = 50) -> list[Run]:
    if everyone:
        require(actor, "admin")
        return RunRepository(rt.db).list(None, limit)
    return RunRepository(rt.db).list(actor.id, limit)


def get(rt: Runtime, actor: Principal, run_id: str) -> Run:
    return _visible(rt, actor, run_id)


def steps(rt: Runtime, actor: Principal, run_id: str) -> list[dict[str, Any]]:
    run = _visible(rt, actor, run_id)
    return engine.steps(rt.db.workflow_url(), run.workflow_id)


def waiting(rt: Runtime, actor: Principal) -> list[dict[str, Any]]:
    """Tool calls waiting for approval, for reviewers: the call, never the run's steps."""
    require(actor, "reviewer")
    out = []
    for run in RunRepository(rt.db).list(None, 500, status=R.AWAITING_APPROVAL):
        if run.waiting and run.waiting.get("kind") == "tool" and \
                not run.waiting.get("decided"):
            out.append({"run_id": run.id, "team_name": run.team.spec.name,
                        "principal_id": run.principal_id, **run.waiting,
                        "arguments": json.loads(rt.screen.redact(
                            json.dumps(run.waiting.get("arguments", {}))))})
    return out


Then = str  # "queue": a server continues the run; "here": this process; "later": no one yet


def approve(rt: Runtime, actor: Principal, run_id: str, *, approve: bool,
            note: str = "", then: Then = "queue") -> Run:
    """Approve or reject the tool call a run waits on; the run then goes on (``then``)."""
    require(actor, "reviewer")
    runs = RunRepository(rt.db)
    run = runs.get(run_id)
    w = run.waiting
    if run.status != R.AWAITING_APPROVAL or not w or w.get("kind") != "tool":
        raise ConflictError(f"run {run_id} is {run.status} and waits for no tool approval"
                            + ("; a held model step is decided with `charter review`"
                               if w and w.get("kind") == "review" else ""))
    if run.principal_id == actor.id and not actor.has_role("admin"):
        raise ForbiddenError("a reviewer does not approve the tool calls of their own runs; "
                             "another reviewer must")
    if not runs.decide(run_id, w["key"], "approved" if approve else "rejected", actor.id,
                       note):
        raise ConflictError(f"the {w['tool']} call of run {run_id} was already decided")
    events.record(rt, actor, "run.approved" if approve else "run.rejected", run_id,
                  {"run_id": run_id, "key": w["key"], "tool": w["tool"], "note": note})
    _continue(rt, run_id, then)
    return runs.get(run_id)


def _continue(rt: Runtime, run_id: str, then: Then) -> None:
    """Resume a parked run from the step that reads its decision, once it has parked (a
    decision may come while the run is still on its way to parking: it then reads it)."""
    if then == "later":
        return
    import time

    runs = RunRepository(rt.db)
    url = rt.db.workflow_url()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = runs.get(run_id)
        status = engine.workflow_status(url, run.workflow_id)
        if status in ("SUCCESS", "ERROR") and run.status == R.AWAITING_APPROVAL:
            _engine(rt, listen=then == "queue")  # parked: go on from reading the decision
            engine.resume(run, redo_last=True, shared=then == "queue",
                          before=lambda wid: runs.update(run_id, workflow_id=wid,
                                                         status=R.QUEUED))
            return
        if status in ("PENDING", "ENQUEUED") and not _alive(run.executor):
            _engine(rt, listen=then == "queue")  # its process died before it parked
            engine.resume(run, shared=then == "queue",
                          before=lambda wid: runs.update(run_id, executor=R.this_executor()))
            return
        if status in ("SUCCESS", "ERROR", "CANCELLED"):
            return  # it read the decision before parking and went on by itself
        time.sleep(0.1)


def review_decided(rt: Runtime, review_id: str) -> list[str]:
    """After a held request is decided: the runs parked on it go on (on the shared queue)."""
    parked = [r for r in RunRepository(rt.db).list(None, 10_000, status=R.AWAITING_APPROVAL)
              if r.waiting and r.waiting.get("review_id") == review_id]
    for run in parked:
        _continue(rt, run.id, "queue")
    return [r.id for r in parked]


def _alive(executor: str) -> bool:
    host, _, pid = executor.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's process: only its operator can say
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def serve(rt: Runtime) -> None:
    """Make this process a worker of the shared run queue now (a server does this when it
    starts, if runs are active, or on its first agent request)."""
    serve_queue()
    _engine(rt, listen=True)


def shutdown() -> None:
    """Stop this process's engine (runs in flight stay resumable)."""
    engine.shutdown()


def recover(rt: Runtime) -> list[str]:
    """At server start: when runs are active, start the engine (so queued runs are
    worked) and resume those whose process on this machine died. Returns their ids."""
    runs = RunRepository(rt.db)
    active = [r for status in R.ACTIVE for r in runs.list(None, 10_000, status=status)]
    if not active:
        return []
    serve_queue()
    _engine(rt, listen=True)
    resumed = []
    for run in active:
        if not _alive(run.executor) and engine.workflow_status(
                rt.db.workflow_url(), run.workflow_id) == "PENDING":
            engine.resume(run, shared=True, before=lambda wid, rid=run.id: runs.update(
                rid, executor=R.this_executor()))
            events.record(rt, Principal(run.principal_id), "run.resumed", run.id,
                          {"run_id": run.id, "from_status": run.status, "after": "restart"})
            resumed.append(run.id)
    return resumed


def resume(rt: Runtime, actor: Principal, run_id: str, *,
           budget: Mapping[str, Any] | None = None, background: bool = False,
           tools: Mapping[str, Tool] | None = None) -> Run:
    """Continue a run from its last completed step: one that ran out of budget (with a
    larger one), failed, was reconciled, or whose process died."""
    register_tools(tools or {})
    run = _visible(rt, actor, run_id)
    runs = RunRepository(rt.db)
    w = run.waiting or {}
    decided = run.status == R.AWAITING_APPROVAL and (
        bool(w.get("decided")) or (w.get("kind") == "review" and
                                   rt.reviews.get(w["review_id"]).state != "pending"))
    orphaned = (run.status in R.ACTIVE and not decided and not _alive(run.executor)
                and engine.workflow_status(rt.db.workflow_url(), run.workflow_id)
                in ("PENDING", "ENQUEUED"))
    if decided:
        _continue(rt, run_id, "queue" if background else "here")
        events.record(rt, actor, "run.resumed", run_id,
                      {"run_id": run_id, "from_status": run.status})
        return runs.get(run_id)
    if run.status not in R.RESUMABLE and not orphaned:
        raise ConflictError(f"run {run_id} is {run.status}; only a run that ran out of "
                            "budget, failed, needs reconciliation or whose process died "
                            "can be resumed")
    if run.status == R.NEEDS_RECONCILIATION:
        pending = [c for c in runs.calls(run_id) if c["state"] == "reconcile"]
        if pending:
            raise ConflictError(f"run {run_id} has a tool call to reconcile first: "
                                f"`charter agents reconcile {run_id} --took-effect|--no-effect`")
    new_budget = _budget(actor, run.budget, budget, ceiling=USER_CEILING)
    if run.status == R.BUDGET_EXHAUSTED and new_budget == run.budget:
        raise InvalidInputError(f"run {run_id} stopped because {run.note}; resume it with a "
                                "larger budget (e.g. --steps, --tokens)")
    _engine(rt, listen=background, tools=tools)
    runs.update(run_id, budget=new_budget)
    redo = run.status in (R.FAILED, R.NEEDS_RECONCILIATION)
    workflow_id = engine.resume(
        runs.get(run_id), redo_last=redo, shared=background,
        before=lambda wid: runs.update(run_id, workflow_id=wid, status=R.QUEUED,
                                       executor=R.this_executor()))
    events.record(rt, actor, "run.resumed", run_id,
                  {"run_id": run_id, "from_status": run.status, "budget": new_budget.model_dump(),
                   "workflow_id": workflow_id})
    return runs.get(run_id)


def reconcile(rt: Runtime, actor: Principal, run_id: str, *, took_effect: bool,
              result: str = "") -> Run:
    """Say whether an irreversible call that began and never finished took effect: if it
    did, the run goes on with ``result`` as its outcome; if not, resuming makes it again."""
    require(actor, "reviewer")
    runs = RunRepository(rt.db)
    run = runs.get(run_id)
    pending = [c for c in runs.calls(run_id) if c["state"] == "reconcile"]
    if run.status != R.NEEDS_RECONCILIATION or not pending:
        raise ConflictError(f"run {run_id} is {run.status}; nothing to reconcile")
    call = pending[0]
    if took_effect:
        runs.end_call(call["key"], "done", result or "(took effect; no result recorded)")
    else:
        runs.forget_call(call["key"])
    events.record(rt, actor, "run.reconciled", run_id,
                  {"run_id": run_id, "key": call["key"], "tool": call["tool"],
                   "took_effect": took_effect})
    return runs.get(run_id)


def cancel(rt: Runtime, actor: Principal, run_id: str) -> Run:
    run = _visible(rt, actor, run_id)
    if run.status not in R.ACTIVE:
        raise ConflictError(f"run {run_id} is already {run.status}")
    engine.cancel(rt.db.workflow_url(), run.workflow_id)
    RunRepository(rt.db).update(run_id, status=R.CANCELLED, waiting=None,
                                note=f"cancelled by {actor.id}")
    events.record(rt, actor, "run.cancelled", run_id, {"run_id": run_id})
    return RunRepository(rt.db).get(run_id)
