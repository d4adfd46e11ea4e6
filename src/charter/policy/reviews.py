"""The review queue: requests held by the charter wait here for a human decision."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from charter.core.errors import ConflictError, NotFoundError
from charter.store.db import Database, utcnow


@dataclass(frozen=True)
class Review:
    id: str
    request_id: str
    principal_id: str
    state: str
    category: str | None
    tier: str | None
    policy_version: int
    question_redacted: str
    request: dict[str, Any]
    answer: str | None
    result: dict[str, Any] | None
    reviewer: str | None
    note: str | None
    created_at: str
    decided_at: str | None


def _review(row: Any) -> Review:
    data = dict(row._mapping)
    data["request"] = json.loads(data["request"])
    data["result"] = json.loads(data["result"]) if data["result"] else None
    return Review(**data)


class ReviewQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, *, request_id: str, principal_id: str, category: str | None,
               tier: str | None, policy_version: int, question_redacted: str,
               request: dict[str, Any]) -> Review:
        review_id = "rev_" + uuid.uuid4().hex[:20]
        with self.db.transaction() as conn:
            conn.execute(text(
                "INSERT INTO reviews (id, request_id, principal_id, state, category, tier, "
                "policy_version, question_redacted, request, created_at) VALUES (:id, :r, :p, "
                "'pending', :c, :t, :v, :q, :req, :now)"),
                {"id": review_id, "r": request_id, "p": principal_id, "c": category, "t": tier,
                 "v": policy_version, "q": question_redacted, "req": json.dumps(request),
                 "now": utcnow()})
        return self.get(review_id)

    def get(self, review_id: str) -> Review:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT * FROM reviews WHERE id = :i"), {"i": review_id}).first()
        if row is None:
            raise NotFoundError(f"no review {review_id!r}; see `charter review list`")
        return _review(row)

    def list(self, state: str | None = None) -> list[Review]:
        sql = "SELECT * FROM reviews"
        params: dict[str, Any] = {}
        if state:
            sql += " WHERE state = :s"
            params["s"] = state
        with self.db.connect() as conn:
            return [_review(r) for r in conn.execute(text(sql + " ORDER BY created_at"), params)]

    def claim(self, review_id: str, reviewer: str) -> None:
        """Mark a pending review as being approved by ``reviewer`` (state ``approving``);
        a conflict when it is not pending any more, so only one approval serves it."""
        with self.db.transaction(exclusive=True) as conn:
            n = conn.execute(text(
                "UPDATE reviews SET state = 'approving', reviewer = :rv WHERE id = :i AND "
                "state = 'pending'"), {"rv": reviewer, "i": review_id}).rowcount
        if not n:
            state = self.get(review_id).state
            raise ConflictError(f"review {review_id} is already {state}")

    def release(self, review_id: str, reviewer: str) -> None:
        """Back to pending after an approval that failed to serve."""
        with self.db.transaction(exclusive=True) as conn:
            conn.execute(text(
                "UPDATE reviews SET state = 'pending', reviewer = NULL WHERE id = :i AND "
                "state = 'approving' AND reviewer = :rv"), {"rv": reviewer, "i": review_id})

    def decide(self, review_id: str, *, approve: bool, reviewer: str, note: str,
               answer: str | None = None, result: dict[str, Any] | None = None) -> Review:
        with self.db.transaction(exclusive=True) as conn:
            row = conn.execute(text("SELECT state, reviewer FROM reviews WHERE id = :i"),
                               {"i": review_id}).first()
            if row is None:
                raise NotFoundError(f"no review {review_id!r}; see `charter review list`")
            claimed = row.state == "approving" and row.reviewer == reviewer and approve
            if row.state != "pending" and not claimed:
                raise ConflictError(f"review {review_id} was already {row.state}")
            conn.execute(text(
                "UPDATE reviews SET state = :s, reviewer = :rv, note = :n, answer = :a, "
                "result = :res, decided_at = :now WHERE id = :i"),
                {"s": "approved" if approve else "rejected", "rv": reviewer, "n": note,
                 "a": answer, "res": json.dumps(result) if result else None, "now": utcnow(),
                 "i": review_id})
        return self.get(review_id)
