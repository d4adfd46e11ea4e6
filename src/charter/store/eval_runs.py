"""Stored evaluation runs: the suite, the figures and the versions they were measured on."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from charter.core.errors import NotFoundError
from charter.store.db import Database, utcnow
from charter.store.tables import eval_runs


@dataclass(frozen=True)
class EvalRun:
    id: str
    suite: str
    scorer: str
    target: str
    versions: dict[str, Any]
    metrics: dict[str, float]
    author: str
    created_at: str


def _run(row: Any) -> EvalRun:
    m = row._mapping
    return EvalRun(m["id"], m["suite"], m["scorer"], m["target"], json.loads(m["versions"]),
                   json.loads(m["metrics"]), m["author"], m["created_at"])


class EvalRunRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, suite: str, scorer: str, target: str, versions: dict[str, Any],
            metrics: dict[str, float], author: str) -> EvalRun:
        run = EvalRun("eval_" + uuid.uuid4().hex[:20], suite, scorer, target, versions,
                      metrics, author, utcnow())
        with self.db.transaction() as conn:
            conn.execute(insert(eval_runs).values(
                id=run.id, suite=suite, scorer=scorer, target=target,
                versions=json.dumps(versions, sort_keys=True),
                metrics=json.dumps(metrics, sort_keys=True), author=author,
                created_at=run.created_at))
        return run

    def get(self, run_id: str) -> EvalRun:
        with self.db.connect() as conn:
            row = conn.execute(select(eval_runs).where(eval_runs.c.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"no evaluation run {run_id!r}; see `charter eval list`")
        return _run(row)

    def list(self, suite: str | None = None, limit: int = 50) -> list[EvalRun]:
        query = select(eval_runs).order_by(eval_runs.c.created_at.desc()).limit(limit)
        if suite:
            query = query.where(eval_runs.c.suite == suite)
        with self.db.connect() as conn:
            return [_run(r) for r in conn.execute(query)]
