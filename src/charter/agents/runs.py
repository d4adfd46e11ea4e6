"""Runs as Charter stores them, and the ledger of irreversible tool calls.

The steps of a run and their results are DBOS's (its own tables); a run row says who
started it, the team as it was run, the budget, the status and the answer, so runs are
listed per user and access-checked without reading DBOS.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text

from charter.agents.budget import Spent
from charter.agents.spec import Budget, Team
from charter.core.errors import NotFoundError, RateLimitedError
from charter.store.db import Database, utcnow

# A run's statuses. Terminal ones end the workflow; ``budget_exhausted`` can be resumed
# with a larger budget, ``needs_reconciliation`` once a person has checked the tool call.
QUEUED: Final = "queued"
RUNNING: Final = "running"
AWAITING_APPROVAL: Final = "awaiting_approval"
COMPLETED: Final = "completed"
BUDGET_EXHAUSTED: Final = "budget_exhausted"
REFUSED: Final = "refused"
REJECTED: Final = "rejected"
NEEDS_RECONCILIATION: Final = "needs_reconciliation"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
ACTIVE: Final = (QUEUED, RUNNING, AWAITING_APPROVAL)
RESUMABLE: Final = (BUDGET_EXHAUSTED, FAILED, NEEDS_RECONCILIATION)


def this_executor() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Run:
    id: str
    workflow_id: str
    team: Team
    task: str
    principal_id: str
    status: str
    budget: Budget
    spent: Spent
    answer: str | None
    note: str
    waiting: dict[str, Any] | None
    executor: str
    created_at: str
    updated_at: str

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "team_name": self.team.spec.name, "task": self.task,
                "principal_id": self.principal_id, "status": self.status,
                "budget": self.budget.model_dump(), "spent": self.spent.as_dict(),
                "answer": self.answer, "note": self.note, "waiting": self.waiting,
                "created_at": self.created_at, "updated_at": self.updated_at}


def _run(row: Any) -> Run:
    d = dict(row._mapping)
    spent = json.loads(d["spent"] or "{}")
    return Run(id=d["id"], workflow_id=d["workflow_id"],
               team=Team.model_validate_json(d["spec"]), task=d["task"],
               principal_id=d["principal_id"], status=d["status"],
               budget=Budget.model_validate_json(d["budget"]),
               spent=Spent(**spent) if spent else Spent(), answer=d["answer"], note=d["note"],
               waiting=json.loads(d["waiting"]) if d["waiting"] else None,
               executor=d["executor"], created_at=d["created_at"], updated_at=d["updated_at"])


class RunRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, team: Team, task: str, principal_id: str, budget: Budget, *,
               max_active: int | None = None) -> Run:
        """A new queued run; with ``max_active``, refused (``RateLimitedError``) when the
        principal already has that many active, counted in the inserting transaction."""
        run_id = "run_" + uuid.uuid4().hex[:20]
        now = utcnow()
        with self.db.transaction(exclusive=True) as conn:
            self.db.lock(conn, "agent_runs")
            if max_active is not None:
                active = conn.execute(text(
                    "SELECT count(*) FROM agent_runs WHERE principal_id = :p AND status IN "
                    "('queued', 'running', 'awaiting_approval')"),
                    {"p": principal_id}).scalar_one()
                if active >= max_active:
                    raise RateLimitedError(
                        f"{active} of your runs are queued, running or waiting; at most "
                        f"{max_active} at once (setting agents_max_active): wait for one to "
                        "finish or cancel one")
            conn.execute(text(
                "INSERT INTO agent_runs (id, workflow_id, team_name, spec, task, principal_id, "
                "status, budget, spent, note, executor, created_at, updated_at) VALUES (:id, "
                ":id, :team_name, :spec, :task, :p, :s, :b, '{}', '', :ex, :now, :now)"),
                {"id": run_id, "team_name": team.spec.name, "spec": team.model_dump_json(),
                 "task": task, "p": principal_id, "s": QUEUED, "b": budget.model_dump_json(),
                 "ex": this_executor(), "now": now})
        return self.get(run_id)

    def get(self, run_id: str) -> Run:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT * FROM agent_runs WHERE id = :i"),
                               {"i": run_id}).first()
        if row is None:
            raise NotFoundError(f"no run {run_id!r}; see `charter agents list`")
        return _run(row)

    def list(self, principal_id: str | None = None, limit: int = 50, *,
             status: str | None = None) -> list[Run]:
        sql = "SELECT * FROM agent_runs WHERE 1 = 1"
        params: dict[str, Any] = {"n": limit}
        if principal_id is not None:
            sql += " AND principal_id = :p"
            params["p"] = principal_id
        if status is not None:
            sql += " AND status = :s"
            params["s"] = status
        with self.db.connect() as conn:
            rows = conn.execute(text(sql + " ORDER BY created_at DESC, id LIMIT :n"), params)
            return [_run(r) for r in rows]

    def update(self, run_id: str, *, unless: str | None = None, **fields: Any) -> bool:
        """Set ``status``, ``spent``, ``answer``, ``note``, ``waiting``, ``budget``,
        ``workflow_id`` or ``executor``; not when the run's status is ``unless`` (a
        cancelled run stays cancelled). Returns whether the row changed."""
        allowed = {"status", "spent", "answer", "note", "waiting", "budget", "workflow_id",
                   "executor"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not a run field: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for k, v in fields.items():
            if k == "spent" and isinstance(v, Spent):
                v = json.dumps(v.as_dict())
            elif k == "budget" and isinstance(v, Budget):
                v = v.model_dump_json()
            elif k == "waiting" and v is not None:
                v = json.dumps(v)
            values[k] = v
        sets = ", ".join(f"{k} = :{k}" for k in values)
        guard = " AND status <> :unless" if unless else ""
        with self.db.transaction() as conn:
            n = conn.execute(text(f"UPDATE agent_runs SET {sets}, updated_at = :now WHERE "
                                  f"id = :id{guard}"),
                             {**values, "now": utcnow(), "id": run_id, "unless": unless}).rowcount
        return bool(n)

    def decide(self, run_id: str, key: str, decided: str, by: str, note: str) -> bool:
        """Record a decision on the waiting call ``key``, once: False when the run waits
        for no such call any more or someone decided it first."""
        with self.db.transaction(exclusive=True) as conn:
            self.db.lock(conn, "agent_runs")
            row = conn.execute(text("SELECT status, waiting FROM agent_runs WHERE id = :i"),
                               {"i": run_id}).first()
            if row is None or row.status != AWAITING_APPROVAL or not row.waiting:
                return False
            waiting = json.loads(row.waiting)
            if waiting.get("key") != key or waiting.get("decided"):
                return False
            waiting.update(decided=decided, by=by, note=note)
            conn.execute(text("UPDATE agent_runs SET waiting = :w, updated_at = :now WHERE "
                              "id = :i"), {"w": json.dumps(waiting), "now": utcnow(),
                                           "i": run_id})
        return True

    # -- the ledger of irreversible calls -------------------------------------------------

    def begin_call(self, key: str, run_id: str, tool: str) -> tuple[str, str | None]:
        """Record that the call ``key`` is about to be made. Returns ``("new", None)`` the
        first time; on a later attempt the state the earlier one left: ``("done",
        result)`` or ``("started", None)`` (it began and never finished: reconcile)."""
        now = utcnow()
        with self.db.transaction(exclusive=True) as conn:
            row = conn.execute(text("SELECT state, result FROM agent_tool_calls WHERE "
                                    "key = :k"), {"k": key}).first()
            if row is not None:
                return row.state, row.result
            conn.execute(text(
                "INSERT INTO agent_tool_calls (key, run_id, tool, state, created_at, "
                "updated_at) VALUES (:k, :r, :t, 'started', :now, :now)"),
                {"k": key, "r": run_id, "t": tool, "now": now})
        return "new", None

    def end_call(self, key: str, state: str, result: str | None) -> None:
        with self.db.transaction() as conn:
            conn.execute(text("UPDATE agent_tool_calls SET state = :s, result = :r, "
                              "updated_at = :now WHERE key = :k"),
                         {"s": state, "r": result, "now": utcnow(), "k": key})

    def forget_call(self, key: str) -> None:
        """A call that a person says never took effect: the next attempt makes it."""
        with self.db.transaction() as conn:
            conn.execute(text("DELETE FROM agent_tool_calls WHERE key = :k"), {"k": key})

    def calls(self, run_id: str) -> list[dict[str, Any]]:
        with self.db.connect() as conn:
            rows = conn.execute(text("SELECT * FROM agent_tool_calls WHERE run_id = :r "
                                     "ORDER BY created_at, key"), {"r": run_id})
            return [dict(r._mapping) for r in rows]
