"""Stored rollouts and the outcomes of their requests (``services.rollouts`` decides)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from charter.core.errors import ConflictError, NotFoundError
from charter.rollout import CHALLENGER, CHAMPION, ArmCounts, Rule
from charter.store.db import Database, utcnow
from charter.store.tables import feedback, rollout_requests, rollouts

RUNNING = "running"


@dataclass(frozen=True)
class Rollout:
    id: str
    kind: str
    subject: str | None  # an alias rollout: the alias rolled out
    challenger_alias: str | None  # ... and the alias its challenger arm is served
    champion: int | None
    challenger: int
    share: float
    rule: Rule
    status: str
    reason: str
    verdict: dict[str, Any]
    started_by: str
    created_at: str
    ended_by: str | None
    ended_at: str | None

    @property
    def running(self) -> bool:
        return self.status == RUNNING


def _rollout(row: Any) -> Rollout:
    m = row._mapping
    return Rollout(m["id"], m["kind"], m["subject"], m["challenger_alias"], m["champion"], m["challenger"], m["share"],
                   Rule(**json.loads(m["rule"])), m["status"], m["reason"],
                   json.loads(m["verdict"]), m["started_by"], m["created_at"], m["ended_by"],
                   m["ended_at"])


# Feedback that says an answer was bad: a down vote, an evaluation marked incorrect, a
# correction.
_NEGATIVE = or_(
    (feedback.c.kind == "vote") & (feedback.c.value == "down"),
    (feedback.c.kind == "eval") & (feedback.c.value == "incorrect"),
    feedback.c.kind == "correction")


class RolloutRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, *, kind: str, champion: int | None, challenger: int, share: float,
               rule: Rule, actor: str, subject: str | None = None,
               challenger_alias: str | None = None) -> Rollout:
        rid = "ro_" + uuid.uuid4().hex[:16]
        running = f"{kind}:{subject}" if subject else kind
        try:
            with self.db.transaction() as conn:
                conn.execute(insert(rollouts).values(
                    id=rid, kind=kind, subject=subject, challenger_alias=challenger_alias,
                    champion=champion, challenger=challenger, share=share,
                    rule=json.dumps(rule.__dict__), status=RUNNING, running_kind=running,
                    started_by=actor, created_at=utcnow()))
        except IntegrityError:
            what = f"a rollout of alias {subject!r}" if subject else f"a {kind} rollout"
            raise ConflictError(f"{what} is already running; stop it first "
                                "(`charter rollout list`)") from None
        self.db.cache.invalidate("rollout")
        return self.get(rid)

    def get(self, rid: str) -> Rollout:
        with self.db.connect() as conn:
            row = conn.execute(select(rollouts).where(rollouts.c.id == rid)).first()
        if row is None:
            raise NotFoundError(f"no rollout {rid!r}; see `charter rollout list`")
        return _rollout(row)

    def list(self, limit: int = 50) -> list[Rollout]:
        with self.db.connect() as conn:
            rows = conn.execute(select(rollouts).order_by(rollouts.c.created_at.desc())
                                .limit(limit)).all()
        return [_rollout(r) for r in rows]

    def running(self) -> tuple[Rollout, ...]:
        """The running rollouts (at most one per kind), read through the shared cache."""
        return self.db.cache.get(("rollout",), self._running)

    def _running(self) -> tuple[Rollout, ...]:
        with self.db.connect() as conn:
            rows = conn.execute(select(rollouts).where(rollouts.c.status == RUNNING)
                                .order_by(rollouts.c.kind)).all()
        return tuple(_rollout(r) for r in rows)

    def end(self, rid: str, *, status: str, actor: str, reason: str,
            verdict: dict[str, Any], conn: Connection | None = None) -> bool:
        """End a running rollout; False when it had already ended (another worker or
        admin was first), so exactly one caller acts on the end."""
        def write(c: Connection) -> bool:
            done = c.execute(update(rollouts).where(
                (rollouts.c.id == rid) & (rollouts.c.status == RUNNING)).values(
                status=status, running_kind=None, reason=reason, verdict=json.dumps(verdict),
                ended_by=actor, ended_at=utcnow()))
            return bool(done.rowcount)

        if conn is not None:
            ended = write(conn)
        else:
            with self.db.transaction() as own:
                ended = write(own)
        self.db.cache.invalidate("rollout")
        return ended

    def note_verdict(self, rid: str, verdict: dict[str, Any]) -> None:
        with self.db.transaction() as conn:
            conn.execute(update(rollouts).where(
                (rollouts.c.id == rid) & (rollouts.c.status == RUNNING)).values(
                verdict=json.dumps(verdict)))

    # -- requests ------------------------------------------------------------------------

    @staticmethod
    def record(conn: Connection, rid: str, *, request_id: str, arm: str, principal_id: str,
               error: bool, decision: str, abstained: bool) -> None:
        conn.execute(insert(rollout_requests).values(
            rollout_id=rid, request_id=request_id, arm=arm, principal_id=principal_id,
            error=error, decision=decision, abstained=abstained, created_at=utcnow()))

    def counts(self, rid: str, per_user_cap: int) -> dict[str, ArmCounts]:
        """Each arm's requests and outcomes, no user counting for more than
        ``per_user_cap`` requests (a user with more is scaled down to that many), so one
        account cannot steer the verdict alone."""
        rr = rollout_requests
        # Looked up per request through the feedback table's request_id index, so a
        # judgement reads this rollout's rows only, however much feedback there is.
        bad = (select(feedback.c.id).where((feedback.c.request_id == rr.c.request_id)
                                           & _NEGATIVE).exists())
        stmt = (select(rr.c.principal_id, rr.c.arm, func.count().label("n"),
                       func.sum(case((rr.c.error, 1), else_=0)).label("error"),
                       func.sum(case((rr.c.decision == "refuse", 1), else_=0)).label("refused"),
                       func.sum(case((rr.c.decision == "hold_for_review", 1), else_=0))
                       .label("held"),
                       func.sum(case((rr.c.abstained, 1), else_=0)).label("abstained"),
                       func.sum(case((bad, 1), else_=0)).label("negative_feedback"))
                .where(rr.c.rollout_id == rid).group_by(rr.c.principal_id, rr.c.arm))
        with self.db.connect() as conn:
            rows = conn.execute(stmt).all()
        totals: dict[str, dict[str, float]] = {CHAMPION: defaultdict(float),
                                               CHALLENGER: defaultdict(float)}
        users = {CHAMPION: 0, CHALLENGER: 0}
        for r in rows:
            if r.arm not in totals:
                continue
            scale = min(1.0, per_user_cap / r.n)
            t = totals[r.arm]
            t["requests"] += r.n * scale
            for name in ("error", "refused", "held", "abstained", "negative_feedback"):
                t[name] += (getattr(r, name) or 0) * scale
            users[r.arm] += 1
        return {arm: ArmCounts(t.pop("requests", 0.0), dict(t), users[arm])
                for arm, t in totals.items()}
