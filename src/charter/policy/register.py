"""The use-case register: what AI is used for here, classified by the charter, with dated
decisions. Red-line use cases are rejected; high-risk ones need approvals from the
configured number of reviewers holding distinct roles; the rest are approved on entry."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from charter.core.principal import Principal
from charter.core.errors import ConflictError, InvalidInputError, NotFoundError
from charter.policy.classify import PolicyClassifier
from charter.policy.schema import Charter
from charter.store.db import Database, utcnow

AUTOMATION = ("assistive", "human_in_the_loop", "human_on_the_loop", "fully_automated")


@dataclass(frozen=True)
class UseCase:
    id: str
    name: str
    purpose: str
    owner: str
    data_categories: list[str]
    affected_people: str
    automation: str
    tier: str
    category: str | None
    state: str
    reason: str
    policy_version: int
    created_at: str
    decided_at: str | None
    review_by: str | None
    decisions: list[dict[str, Any]]


def _later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class UseCaseRegister:
    def __init__(self, db: Database, *, required_approvals: int = 2, review_days: int = 365) -> None:
        self.db = db
        self.required_approvals = required_approvals
        self.review_days = review_days

    def register(self, *, name: str, purpose: str, owner: str, data_categories: list[str],
                 affected_people: str, automation: str, charter: Charter, version: int,
                 classifier: PolicyClassifier) -> UseCase:
        if automation not in AUTOMATION:
            raise InvalidInputError(f"automation must be one of {', '.join(AUTOMATION)}")
        if not name.strip() or not purpose.strip():
            raise InvalidInputError("a use case needs a name and a purpose")
        # The purpose is what the charter judges; data and automation add the rule below.
        result = classifier.classify(purpose)
        if result.category is None and automation == "fully_automated" and data_categories:
            # Fully automated processing of personal data is an automated decision about people.
            result = classifier.result_for("automated_decisions", 0.6, "rule",
                                        "fully automated use of personal data")
        tier = result.tier or "minimal"
        category = charter.category(result.category) if result.category else None
        if tier == "red_line":
            state = "rejected"
            reason = (category.reason if category else "") + f" ({result.evidence})"
        elif tier == "high_risk":
            state = "pending"
            reason = (f"high risk ({category.name if category else 'unspecified'}): needs "
                      f"{self.required_approvals} approvals from reviewers with distinct roles")
        else:
            state = "approved"
            reason = f"{tier} risk: approved on registration"
        now = utcnow()
        use_id = "uc_" + uuid.uuid4().hex[:16]
        with self.db.transaction() as conn:
            exists = conn.execute(text("SELECT 1 FROM use_cases WHERE name = :n"), {"n": name}).first()
            if exists:
                raise ConflictError(f"use case {name!r} is already registered; see "
                                    "`charter usecase show`")
            conn.execute(text(
                "INSERT INTO use_cases (id, name, purpose, owner, data_categories, affected_people, "
                "automation, tier, category, state, reason, policy_version, created_at, decided_at, "
                "review_by) VALUES (:id, :name, :purpose, :owner, :data, :people, :automation, :tier, "
                ":cat, :state, :reason, :v, :now, :decided, :review)"),
                {"id": use_id, "name": name, "purpose": purpose, "owner": owner,
                 "data": json.dumps(data_categories), "people": affected_people,
                 "automation": automation,
                 "tier": tier, "cat": result.category, "state": state, "reason": reason,
                 "v": version, "now": now, "decided": now if state != "pending" else None,
                 "review": _later(self.review_days) if state == "approved" else None})
        return self.get(name)

    def get(self, key: str) -> UseCase:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT * FROM use_cases WHERE id = :k OR name = :k"),
                               {"k": key}).first()
            if row is None:
                raise NotFoundError(f"no use case {key!r}; register it with "
                                    "`charter usecase register`")
            decisions = [dict(d._mapping) for d in conn.execute(text(
                "SELECT reviewer, role, decision, note, created_at FROM use_case_decisions "
                "WHERE use_case_id = :i ORDER BY id"), {"i": row.id})]
        data = dict(row._mapping)
        data["data_categories"] = json.loads(data["data_categories"])
        return UseCase(**data, decisions=decisions)

    def list(self) -> list[UseCase]:
        with self.db.connect() as conn:
            names = [r.name for r in conn.execute(text("SELECT name FROM use_cases ORDER BY name"))]
        return [self.get(n) for n in names]

    def decide(self, key: str, reviewer: Principal, *, approve: bool, note: str,
               role: str | None = None) -> UseCase:
        case = self.get(key)
        if case.state != "pending":
            raise ConflictError(f"use case {case.name!r} is {case.state}; only pending use cases "
                                "take decisions")
        roles = sorted(r for r in reviewer.roles if r in ("reviewer", "admin"))
        if not roles:
            raise InvalidInputError("only reviewers and admins decide on use cases")
        acting = role or roles[-1]
        if acting not in roles:
            raise InvalidInputError(f"{reviewer.id} does not hold the role {acting!r}")
        if any(d["reviewer"] == reviewer.id for d in case.decisions):
            raise ConflictError(f"{reviewer.id} has already decided on {case.name!r}")
        now = utcnow()
        with self.db.transaction(exclusive=True) as conn:
            conn.execute(text(
                "INSERT INTO use_case_decisions (use_case_id, reviewer, role, decision, note, "
                "created_at) VALUES (:i, :r, :role, :d, :n, :now)"),
                {"i": case.id, "r": reviewer.id, "role": acting,
                 "d": "approve" if approve else "reject", "n": note, "now": now})
            if not approve:
                conn.execute(text("UPDATE use_cases SET state = 'rejected', decided_at = :now, "
                                  "reason = :reason WHERE id = :i"),
                             {"now": now, "i": case.id, "reason": f"rejected by {reviewer.id}: {note}"})
            else:
                approvals = conn.execute(text(
                    "SELECT DISTINCT role FROM use_case_decisions WHERE use_case_id = :i AND "
                    "decision = 'approve'"), {"i": case.id}).all()
                if len(approvals) >= self.required_approvals:
                    conn.execute(text(
                        "UPDATE use_cases SET state = 'approved', decided_at = :now, review_by = "
                        ":review, reason = :reason WHERE id = :i"),
                        {"now": now, "review": _later(self.review_days), "i": case.id,
                         "reason": f"approved by {len(approvals)} reviewers with distinct roles"})
        return self.get(case.id)

    def check_servable(self, key: str) -> UseCase:
        """The use case if requests tagged with it may be served; else a clear refusal reason."""
        case = self.get(key)
        if case.state == "approved" and case.review_by and case.review_by < utcnow():
            raise ConflictError(f"use case {case.name!r} is past its re-review date "
                                f"({case.review_by[:10]}); a reviewer must re-approve it")
        if case.state != "approved":
            raise ConflictError(f"use case {case.name!r} is {case.state}: {case.reason}")
        return case
