"""Stored drift samples, checks and reference windows (``services.drift`` decides)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from charter.store.db import Database, utcnow
from charter.store.tables import drift_baselines, drift_checks, drift_samples

QUESTION_CHARS = 300  # what a sample keeps of the redacted question (the evidence)


@dataclass(frozen=True)
class Sample:
    id: int
    vector_model: str
    vector: np.ndarray | None
    decision: str
    route: str
    question: str


@dataclass(frozen=True)
class Check:
    id: int
    upto: int
    fired: bool | None  # None: claimed, not finished (or its process died)
    report: dict[str, Any]
    actor: str
    created_at: str


@dataclass(frozen=True)
class Baseline:
    first_id: int | None  # None: the trailing window before the current one
    last_id: int | None
    actor: str
    created_at: str


def _sample(row: Any) -> Sample:
    m = row._mapping
    blob = m["vector"]
    vector = np.frombuffer(blob, dtype=np.float32) if blob else None
    return Sample(m["id"], m["vector_model"], vector, m["decision"], m["route"], m["question"])


def _check(row: Any) -> Check:
    m = row._mapping
    return Check(m["id"], m["upto"], m["fired"], json.loads(m["report"]), m["actor"],
                 m["created_at"])


class DriftRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- samples ------------------------------------------------------------------------

    @staticmethod
    def add(conn: Connection, *, vector: Sequence[float] | None, vector_model: str,
            decision: str, route: str, question: str) -> int:
        """One request's sample, in the caller's transaction; returns its id."""
        blob = np.asarray(vector, dtype=np.float32).tobytes() if vector is not None else None
        result = conn.execute(insert(drift_samples).values(
            vector_model=vector_model if blob else "", vector=blob, decision=decision,
            route=route, question=question[:QUESTION_CHARS], created_at=utcnow()))
        return int(result.inserted_primary_key[0])

    def latest_id(self) -> int:
        with self.db.connect() as conn:
            return int(conn.execute(select(func.max(drift_samples.c.id))).scalar() or 0)

    def count(self) -> int:
        with self.db.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(drift_samples)).scalar()
                       or 0)

    def last(self, n: int, upto: int) -> list[Sample]:
        """The ``n`` newest samples with ids up to ``upto``, oldest first."""
        query = (select(drift_samples).where(drift_samples.c.id <= upto)
                 .order_by(drift_samples.c.id.desc()).limit(n))
        with self.db.connect() as conn:
            return [_sample(r) for r in reversed(conn.execute(query).all())]

    def between(self, first_id: int, last_id: int) -> list[Sample]:
        query = (select(drift_samples).where(drift_samples.c.id >= first_id,
                                             drift_samples.c.id <= last_id)
                 .order_by(drift_samples.c.id))
        with self.db.connect() as conn:
            return [_sample(r) for r in conn.execute(query)]

    def prune(self, keep_from: int, baseline: Baseline | None) -> int:
        """Delete samples older than ``keep_from``, except a pinned reference window's."""
        cond = drift_samples.c.id < keep_from
        if baseline is not None and baseline.first_id is not None:
            cond = cond & ~drift_samples.c.id.between(baseline.first_id,
                                                      baseline.last_id or baseline.first_id)
        with self.db.transaction() as conn:
            return int(conn.execute(delete(drift_samples).where(cond)).rowcount or 0)

    # -- checks -------------------------------------------------------------------------

    def claim(self, upto: int, actor: str) -> bool:
        """Claim the check up to sample ``upto``; False when another process has it."""
        try:
            with self.db.transaction() as conn:
                conn.execute(insert(drift_checks).values(upto=upto, fired=None, report="{}",
                                                         actor=actor, created_at=utcnow()))
        except IntegrityError:
            return False
        return True

    def complete(self, upto: int, fired: bool, report: dict[str, Any]) -> Check:
        with self.db.transaction() as conn:
            conn.execute(update(drift_checks).where(drift_checks.c.upto == upto).values(
                fired=fired, report=json.dumps(report, sort_keys=True)))
            row = conn.execute(select(drift_checks).where(drift_checks.c.upto == upto)).one()
        return _check(row)

    def checks(self, limit: int = 20) -> list[Check]:
        query = select(drift_checks).order_by(drift_checks.c.upto.desc()).limit(limit)
        with self.db.connect() as conn:
            return [_check(r) for r in conn.execute(query)]

    # -- reference windows -------------------------------------------------------------

    def baseline(self) -> Baseline | None:
        query = select(drift_baselines).order_by(drift_baselines.c.id.desc()).limit(1)
        with self.db.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        m = row._mapping
        return Baseline(m["first_id"], m["last_id"], m["actor"], m["created_at"])

    def pin(self, first_id: int | None, last_id: int | None, actor: str) -> Baseline:
        created = utcnow()
        with self.db.transaction() as conn:
            conn.execute(insert(drift_baselines).values(first_id=first_id, last_id=last_id,
                                                        actor=actor, created_at=created))
        return Baseline(first_id, last_id, actor, created)
