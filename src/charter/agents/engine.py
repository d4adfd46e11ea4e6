"""A team's run as a DBOS workflow: every model call, tool call and wait is a durable step.

DBOS stores each step's result in its system database (a SQLite file beside Charter's,
or Charter's PostgreSQL); a run interrupted by a crash or a restart is resumed from its
last completed step, so a completed model call or tool call is never made again. The
workflow's own code between steps is deterministic given those results: budgets, the
detection of repeated calls and the windowed context are recomputed from them.

Irreversible tools are the exception DBOS alone cannot cover (a crash *inside* a step
re-runs the step): their calls go through the run ledger (``runs.begin_call``) under an
idempotency key, and a call that began and never finished ends the run in
``needs_reconciliation`` instead of being made again.

The engine reaches the rest of Charter only through ``Ports`` (the governed model call,
the charter's screening of tool text, knowledge access, the audit trail), bound once per
process by ``services/agents.py``. Nothing is sent anywhere else: DBOS runs with no
Conductor key and no OTLP endpoint, so it phones no one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dbos import DBOS, DBOSClient, DBOSConfig, DBOSPortableJSONSerializer, SetWorkflowID
from dbos._error import DBOSException

from charter.agents import protocol
from charter.agents import runs as R
from charter.agents.budget import Spent, exhausted
from charter.agents.runs import Run, RunRepository
from charter.agents.spec import AgentSpec
from charter.agents.tools import Tool, ToolContext, run_tool, spec_of, tool_named
from charter.core.chat import TOOL_REQUIRED, ChatMessage, ToolSpec
from charter.core.errors import CharterError, ConfigError

log = logging.getLogger("charter.agents")

QUEUE = "charter_agents"
# Bumped when the workflow's sequence of steps changes: DBOS resumes a run only with the
# code version that started it.
ENGINE_VERSION = "charter-agents-1"

WORKER_CONCURRENCY = 2  # runs one process works from the shared queue at once


@dataclass(frozen=True)
class ModelReply:
    text: str
    action: str  # allow | safe_complete | refuse | hold_for_review | error
    tokens: int = 0
    cost: float = 0.0
    reason: str = ""
    review_id: str | None = None
    request_id: str | None = None
    route: str | None = None
    calls: tuple[dict[str, str], ...] = ()  # function calls: {"name", "arguments"}


@dataclass(frozen=True)
class TextScreen:
    action: str  # allow | refuse | hold_for_review
    text: str  # what may be shown onward (PII redacted, injected instructions withheld)
    reason: str = ""


class Ports(Protocol):
    """What the engine needs from the rest of Charter, bound to one runtime."""

    runs: RunRepository

    def ask(self, run: Run, agent: AgentSpec, messages: list[ChatMessage],
            tools: Sequence[ToolSpec] = (), require_tool: bool = False) -> ModelReply:
        """One governed model call as the run's principal (screened, routed, audited),
        offering ``tools`` as functions (a call required with ``require_tool``); raises
        nothing: a failure is a reply with action ``error``."""
        ...

    def review(self, review_id: str) -> tuple[str, str | None, list[dict[str, str]]]:
        """A held request's review state and, once approved, its answer and the function
        calls the model asked for in it."""
        ...

    def screen_arguments(self, run: Run, tool: str, arguments: str) -> TextScreen: ...

    def screen_result(self, run: Run, tool: str, result: str) -> TextScreen: ...

    def redact(self, text: str) -> str:
        """``text`` with the personal data the charter redacts replaced (for the audit)."""
        ...

    def tool_context(self, run: Run, key: str) -> ToolContext: ...

    def record(self, run: Run, event: str, payload: dict[str, Any]) -> None: ...

    def extra_tools(self) -> Mapping[str, Tool]: ...


_ports: Ports | None = None
_launched = threading.Lock()
_state: dict[str, Any] = {}


def _bound() -> Ports:
    if _ports is None:
        raise ConfigError("the agent engine is not started in this process")
    return _ports


# -- durable steps ---------------------------------------------------------------------


@DBOS.step(name="charter.agent.model")
def model_step(run_id: str, agent_name: str, messages: list[dict[str, str]],
               require_tool: bool = False) -> dict[str, Any]:
    ports = _bound()
    run = ports.runs.get(run_id)
    agent = run.team.agent(agent_name)
    tools = [spec_of(tool_named(n, ports.extra_tools())) for n in agent.tools]
    started = time.perf_counter()
    reply = ports.ask(run, agent, [ChatMessage(m["role"], m["content"]) for m in messages],
                      tools, require_tool and bool(tools))
    return {"kind": "model", "agent": agent_name, "text": reply.text, "action": reply.action,
            "tokens": reply.tokens, "cost": reply.cost, "reason": reply.reason,
            "review_id": reply.review_id, "request_id": reply.request_id,
            "route": reply.route, "calls": [dict(c) for c in reply.calls],
            "seconds": round(time.perf_counter() - started, 4)}


@DBOS.step(name="charter.agent.review_state")
def review_step(review_id: str) -> dict[str, Any]:
    state, answer, calls = _bound().review(review_id)
    return {"kind": "wait", "state": state, "answer": answer, "calls": calls}


@DBOS.step(name="charter.agent.hold")
def hold_step(run_id: str, review_id: str) -> dict[str, Any]:
    """A step the charter held: the run says so before it looks at the review, so a
    decision that comes at any moment after finds the run waiting on it."""
    waiting = {"kind": "review", "review_id": review_id}
    _bound().runs.update(run_id, status=R.AWAITING_APPROVAL, waiting=waiting,
                         unless=R.CANCELLED)
    return {**waiting, "kind": "hold"}


@DBOS.step(name="charter.agent.decision")
def decision_step(run_id: str, key: str) -> dict[str, Any]:
    """A person's decision on the tool call ``key``, if there is one yet."""
    waiting = _bound().runs.get(run_id).waiting or {}
    decided = waiting.get("decided") if waiting.get("key") == key else None
    return {"kind": "decision", "key": key, "decided": decided, "by": waiting.get("by"),
            "note": waiting.get("note", "")}


@DBOS.step(name="charter.agent.approval")
def approval_step(run_id: str, waiting: dict[str, Any]) -> dict[str, Any]:
    """The run asks for a person's approval (a step: asked once, however often the run
    is replayed)."""
    ports = _bound()
    ports.runs.update(run_id, status=R.AWAITING_APPROVAL, waiting=waiting, unless=R.CANCELLED)
    ports.record(ports.runs.get(run_id), "agent.approval_requested",
                 {**waiting, "arguments": ports.redact(json.dumps(waiting["arguments"]))})
    return {**waiting, "kind": "approval"}


@DBOS.step(name="charter.agent.screen")
def screen_step(run_id: str, tool: str, arguments: str) -> dict[str, Any]:
    ports = _bound()
    verdict = ports.screen_arguments(ports.runs.get(run_id), tool, arguments)
    return {"kind": "screen", "action": verdict.action, "reason": verdict.reason}


@DBOS.step(name="charter.agent.tool")
def tool_step(run_id: str, agent_name: str, tool_name: str, args: dict[str, Any],
              key: str) -> dict[str, Any]:
    ports = _bound()
    run = ports.runs.get(run_id)
    tool = tool_named(tool_name, ports.extra_tools())
    started = time.perf_counter()
    out: dict[str, Any] = {"kind": "tool", "agent": agent_name, "tool": tool_name,
                           "args": args, "key": key, "side_effect": tool.side_effect}
    if tool.side_effect == "irreversible":
        state, stored = ports.runs.begin_call(key, run_id, tool_name)
        if state == "done":  # made before (or settled by a person): screened as any result
            out.update(result=ports.screen_result(run, tool_name, stored or "").text, ok=True,
                       replayed=True)
            return out
        if state in ("started", "reconcile"):
            # An attempt began and never finished: its process died inside the call.
            checked = _took_effect(tool, key, ports.tool_context(run, key))
            if checked is None:  # the tool cannot tell: a person must
                ports.runs.end_call(key, "reconcile", None)
                out.update(result="", ok=False, reconcile=True)
                return out
            if checked is not False:  # it did: its result stands, the call is not repeated
                ports.runs.end_call(key, "done", checked)
                out.update(result=ports.screen_result(run, tool_name, checked).text, ok=True,
                           reconciled=True)
                return out
            # It did not: make it now, under the same key.
    result, ok = run_tool(tool, args, ports.tool_context(run, key))
    if tool.side_effect == "irreversible":
        ports.runs.end_call(key, "done" if ok else "failed", result)
    screened = ports.screen_result(run, tool_name, result)
    out.update(result=screened.text, ok=ok, screened=screened.action != "allow",
               seconds=round(time.perf_counter() - started, 4))
    ports.record(run, "agent.tool_called", {
        "agent": agent_name, "tool": tool_name, "key": key, "side_effect": tool.side_effect,
        "arguments": ports.redact(json.dumps(args)),
        "ok": ok, "result_chars": len(result), "withheld": screened.action != "allow"})
    return out


def _took_effect(tool: Tool, key: str, ctx: ToolContext) -> str | bool | None:
    """Whether the call ``key`` took effect, asked of the tool (``status(key, ctx)``: its
    result if it did, None if not): the result, False (it did not), or None (the tool
    has no way to tell, or failed to)."""
    status = getattr(tool, "status", None)
    if status is None:
        return None
    try:
        result = status(key, ctx)
    except Exception:  # noqa: BLE001 - a tool that cannot tell leaves it to a person
        log.warning("tool %s could not tell whether call %s took effect", tool.name, key)
        return None
    return False if result is None else str(result)


# -- the workflow ----------------------------------------------------------------------


class Stop(Exception):
    """Ends a run early with a status (budget, refusal, rejection, reconciliation)."""

    def __init__(self, status: str, note: str) -> None:
        super().__init__(note)
        self.status, self.note = status, note


@dataclass
class Loop:
    """The deterministic part of a run: what to ask next, given the steps' results."""

    run: Run
    ports: Ports
    spent: Spent = field(default_factory=Spent)
    best: str = ""  # the latest answer any agent gave: the final answer if a bound stops us
    seen: dict[str, str] = field(default_factory=dict)  # tool call signature -> result
    calls: int = 0

    @property
    def budget(self):  # noqa: ANN201 - a Budget
        return self.run.budget

    def _guard(self, next_step: str) -> None:
        reason = exhausted(self.budget, self.spent, next_step=next_step)
        if reason:
            raise Stop(R.BUDGET_EXHAUSTED, reason)

    def _save(self) -> None:
        self.ports.runs.update(self.run.id, spent=self.spent)

    def ask(self, agent: AgentSpec, msgs: list[ChatMessage], require_tool: bool = False
            ) -> tuple[str, list[dict[str, str]]]:
        """The agent's reply and the function calls it asked for."""
        self._guard("model")
        out = model_step(self.run.id, agent.name,
                         [{"role": m.role, "content": m.content} for m in msgs], require_tool)
        self.spent = self.spent.plus(steps=1, tokens=out["tokens"], cost=out["cost"],
                                     seconds=out["seconds"])
        self._save()
        action = out["action"]
        if action == "refuse":
            raise Stop(R.REFUSED, out["reason"] or "the charter refused a step of this run")
        if action == "error":
            raise Stop(R.FAILED, out["reason"])
        if action == "hold_for_review":
            return self._await_review(out["review_id"])
        return out["text"], list(out.get("calls") or ())

    # A run that needs a person does not wait inside its workflow (that would hold one of
    # its process's workers for as long as the person takes): it parks. The workflow ends
    # with the run ``awaiting_approval``; the decision resumes it from the step that reads
    # the decision (``resume(redo_last=True)``), every earlier step replayed.

    def _await_review(self, review_id: str) -> tuple[str, list[dict[str, str]]]:
        hold_step(self.run.id, review_id)
        state = review_step(review_id)
        if state["state"] == "approved":
            return state["answer"] or "", list(state.get("calls") or ())
        if state["state"] == "rejected":
            raise Stop(R.REJECTED, f"a reviewer rejected held step {review_id}")
        raise Stop(R.AWAITING_APPROVAL, f"a step is held for review ({review_id})")

    def _approval(self, key: str, tool: str, args: dict[str, Any], why: str) -> bool:
        """A person's decision on one tool call: parks the run until there is one."""
        approval_step(self.run.id, {"kind": "tool", "key": key, "tool": tool,
                                    "arguments": args, "why": why})
        decision = decision_step(self.run.id, key)
        if decision["decided"] is None:
            raise Stop(R.AWAITING_APPROVAL, f"the {tool} call waits for approval")
        return decision["decided"] == "approved"

    def tool(self, agent: AgentSpec, call: protocol.ToolCall, turn: str) -> str:
        allowed = {n: tool_named(n, self.ports.extra_tools()) for n in agent.tools}
        if call.error:
            return f"error: {call.error}"
        if call.tool not in allowed:
            return (f"error: no tool {call.tool!r} for the {agent.role}; tools: "
                    f"{', '.join(allowed) or 'none'}")
        signature = call.signature
        if signature in self.seen:
            self.spent = self.spent.plus(repeats=1)
            self._save()
            self._guard("tool")
            return self.seen[signature] + "\n(You made this identical call before; this is " \
                "its earlier result. Use it, or call with other arguments.)"
        self._guard("tool")
        self.calls += 1
        key = f"{self.run.id}:{turn}:{self.calls}"
        tool = allowed[call.tool]
        verdict = screen_step(self.run.id, call.tool, json.dumps(call.args))
        if verdict["action"] == "refuse":
            raise Stop(R.REFUSED, f"the charter refused a {call.tool} call: {verdict['reason']}")
        needs = verdict["action"] == "hold_for_review" or tool.side_effect == "irreversible"
        if needs:
            why = (verdict["reason"] if verdict["action"] == "hold_for_review"
                   else f"{call.tool} has effects that cannot be undone")
            if not self._approval(key, call.tool, call.args, why):
                self.spent = self.spent.plus(tool_calls=1)
                self._save()
                return f"error: a person rejected this {call.tool} call"
        out = tool_step(self.run.id, agent.name, call.tool, call.args, key)
        self.spent = self.spent.plus(tool_calls=1, seconds=out.get("seconds", 0.0))
        self._save()
        if out.get("reconcile"):
            raise Stop(R.NEEDS_RECONCILIATION,
                       f"the {call.tool} call {key} began and never finished; check whether "
                       "it took effect, then resume the run")
        self.seen[signature] = out["result"]
        return out["result"]

    def turn(self, agent: AgentSpec, task: str, context: str, turn: str) -> str:
        """One agent's work on one task: model steps and tool calls until it answers."""
        tools = {n: tool_named(n, self.ports.extra_tools()) for n in agent.tools}
        observations: list[tuple[str, str]] = []
        while True:
            # A call required until the agent has made one (then it may answer).
            require = agent.tool_choice == TOOL_REQUIRED and not observations
            reply, native = self.ask(
                agent, protocol.messages(agent, tools, task, context, observations), require)
            call = protocol.read_call(reply, native, list(tools)) if tools else None
            if call is None:
                self.best = reply.strip() or self.best
                return reply.strip()
            observations.append((call.signature, self.tool(agent, call, turn)))

    # -- modes --

    def sequential(self) -> str:
        handed = ""
        for i, agent in enumerate(self.run.team.agents):
            handed = self.turn(agent, self.run.task, handed, f"s{i}")
        return handed

    def review(self) -> str:
        """Draft, review, revise until the reviewer approves; a reviewer that never does
        stops the run at the budget's rounds with the last draft."""
        writer, reviewer = self.run.team.agents
        draft = self.turn(writer, self.run.task, "", "w0")
        round_ = 0
        while True:
            round_ += 1
            verdict = self.turn(reviewer, self.run.task, f"Draft:\n{draft}", f"r{round_}")
            self.best = draft
            if protocol.approved(verdict):
                return draft
            if round_ >= self.budget.rounds:
                raise Stop(R.BUDGET_EXHAUSTED, f"the reviewer did not approve within "
                           f"{self.budget.rounds} rounds; the answer is the last draft")
            draft = self.turn(writer, self.run.task,
                              f"Your draft:\n{draft}\n\nThe reviewer asks:\n{verdict}",
                              f"w{round_}")

    def hierarchical(self) -> str:
        manager, *members = self.run.team.agents
        names = [m.name for m in members]
        plan = self.turn(manager, self.run.task,
                         "Members: " + ", ".join(f"@{m.name} ({m.role})" for m in members), "m0")
        work = protocol.delegations(plan, names) or [(n, self.run.task) for n in names]
        results = [f"@{name}: {self.turn(self.run.team.agent(name), sub, '', f'd{i}')}"
                   for i, (name, sub) in enumerate(work)]
        return self.turn(manager, self.run.task,
                         "Merge the members' results into one answer:\n" + "\n\n".join(results),
                         "m1")


@DBOS.workflow(name="charter.agent.run")
def agent_run(run_id: str) -> dict[str, Any]:
    ports = _bound()
    run = ports.runs.get(run_id)
    # ``waiting`` is left as it is: a parked run resumed after a decision reads it.
    if not ports.runs.update(run_id, status=R.RUNNING, executor=R.this_executor(),
                             unless=R.CANCELLED):
        return {"status": R.CANCELLED, "note": "cancelled before it ran", "answer": None}
    loop = Loop(run, ports)
    note, status = "", R.COMPLETED
    try:
        mode = run.team.spec.mode
        if mode == "review":
            answer, note = loop.review(), "the reviewer approved"
        elif mode == "hierarchical":
            answer = loop.hierarchical()
        else:
            answer = loop.sequential()
    except Stop as stop:
        status, note, answer = stop.status, stop.note, loop.best
    except DBOSException:
        raise  # cancellation and DBOS's own conditions end the workflow as DBOS decides
    except CharterError as exc:
        status, note, answer = R.FAILED, exc.public or exc.message, loop.best
    except Exception as exc:  # a bug or a plugin's: the run fails cleanly, resumable
        log.exception("agent run %s failed", run_id)
        status, note, answer = R.FAILED, f"internal error ({type(exc).__name__})", loop.best
    if status == R.AWAITING_APPROVAL:
        # Parked. The waiting entry was written by the step that asked (and may have been
        # decided since, by a fast reviewer): it is left as it is.
        ports.runs.update(run_id, status=status, note=note, spent=loop.spent,
                          unless=R.CANCELLED)
        ports.record(ports.runs.get(run_id), "run.parked", {"note": note})
        return {"status": status, "note": note, "answer": answer}
    ports.runs.update(run_id, status=status, note=note, answer=answer, spent=loop.spent,
                      waiting=None, unless=R.CANCELLED)
    ports.record(ports.runs.get(run_id), "run.finished",
                 {"status": status, "note": note, "spent": loop.spent.as_dict()})
    return {"status": status, "note": note, "answer": answer}


# -- the engine in one process ---------------------------------------------------------


def launch(ports: Ports, *, database_url: str, listen: bool,
           executor: str | None = None) -> None:
    """Start DBOS in this process (once). ``listen``: work the shared run queue (servers);
    otherwise the process only runs what it starts itself (the CLI)."""
    global _ports
    with _launched:
        if _state.get("url") == database_url:
            _ports = ports
            return
        if _state:
            _shutdown()
        _ports = ports
        config: DBOSConfig = {
            "name": "charter", "system_database_url": database_url,
            "application_version": ENGINE_VERSION,
            # Step results and inputs as JSON, not DBOS's default pickle: what is stored
            # is data, and reading it back can never run code.
            "serializer": DBOSPortableJSONSerializer(),
            "executor_id": executor or R.this_executor(), "log_level": "WARNING",
            "enable_otlp": False, "notification_listener_polling_interval_sec": 0.2}
        DBOS(config=config)
        DBOS.listen_queues([QUEUE] if listen else [])
        _state.update(url=database_url)
        DBOS.launch()
        DBOS.register_queue(QUEUE, worker_concurrency=WORKER_CONCURRENCY)


def _shutdown() -> None:
    global _ports
    DBOS.destroy(destroy_registry=False)
    _state.clear()
    _ports = None


def shutdown() -> None:
    """Stop the engine and close the clients (runs in flight stay resumable)."""
    with _launched:
        if _state:
            _shutdown()
        for c in _clients.values():
            c.destroy()
        _clients.clear()


def start(run: Run) -> Any:
    """Run ``run`` in this process; returns DBOS's handle (``get_result()`` waits)."""
    with SetWorkflowID(run.workflow_id):
        return DBOS.start_workflow(agent_run, run.id)


def enqueue(run: Run) -> None:
    """Put ``run`` on the shared queue: a server process working it will take it."""
    with SetWorkflowID(run.workflow_id):
        DBOS.retrieve_queue(QUEUE).enqueue(agent_run, run.id)


_clients: dict[str, Any] = {}


def client(database_url: str) -> DBOSClient:
    """A client of the runs' system database: reads steps and status, sends approvals,
    cancels. It executes nothing, so reading a run never makes this process take work."""
    with _launched:
        found = _clients.get(database_url)
        if found is None:
            found = DBOSClient(system_database_url=database_url,
                               serializer=DBOSPortableJSONSerializer(),
                               application_name="charter")
            _clients[database_url] = found
        return found


def workflow_status(database_url: str, workflow_id: str) -> str | None:
    try:
        status = client(database_url).retrieve_workflow(workflow_id).get_status()
    except DBOSException:
        return None
    return status.status


def steps(database_url: str, workflow_id: str) -> list[dict[str, Any]]:
    """The run's completed steps as stored: model calls, tool calls, screens and waits."""
    out = []
    for s in client(database_url).list_workflow_steps(workflow_id):
        if not s["function_name"].startswith("charter.agent."):
            continue
        row = dict(s["output"]) if isinstance(s["output"], dict) else {"output": s["output"]}
        row.update(step=s["function_id"], name=s["function_name"],
                   started_ms=s["started_at_epoch_ms"], completed_ms=s["completed_at_epoch_ms"])
        if s["error"] is not None:  # its kind only: the message may name internals
            row["error"] = type(s["error"]).__name__
        out.append(row)
    return out


def cancel(database_url: str, workflow_id: str) -> None:
    client(database_url).cancel_workflow(workflow_id)


def resume(run: Run, *, redo_last: bool = False, shared: bool = False,
           before: Callable[[str], None] = lambda workflow_id: None) -> str:
    """Continue ``run`` from its last completed step; returns the workflow id that runs
    it, after handing it to ``before`` (which records it) and before anything runs.

    A workflow that never ended (its process died) goes on as itself; one that ended (a
    bound reached, a failure, a call to reconcile, a decision on a parked run) is forked:
    the new workflow replays every stored step and runs on from the last (``redo_last``:
    that step is made again, e.g. a failed model call, the reconciled tool call, the
    reading of a decision) or from after it. ``shared``: onto the shared queue (any
    server takes it); otherwise this process takes it."""
    queue_name = QUEUE if shared else None
    status = DBOS.get_workflow_status(run.workflow_id)
    if status is None or status.status not in ("SUCCESS", "ERROR"):
        before(run.workflow_id)
        DBOS.resume_workflow(run.workflow_id, queue_name=queue_name)
        return run.workflow_id
    stored = DBOS.list_workflow_steps(run.workflow_id)
    ours = [s["function_id"] for s in stored if s["function_name"].startswith("charter.agent.")]
    if redo_last and ours:
        start_step = ours[-1]
    else:
        start_step = max((s["function_id"] for s in stored), default=0) + 1
    forked = f"{run.id}-{uuid.uuid4().hex[:8]}"
    before(forked)
    with SetWorkflowID(forked):
        DBOS.fork_workflow(run.workflow_id, start_step, queue_name=queue_name)
    return forked
