"""Charter versions in the database: numbered, with author, note and approval state.

Only the approved version is enforced. Approving a draft retires the version it
replaces, in one transaction, so exactly one version is enforced at any time.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from sqlalchemy import text

from charter.core.errors import ConflictError, NotFoundError
from charter.policy.schema import Charter, parse_charter
from charter.store.db import Database, utcnow


@cache
def default_charter_text() -> str:
    return files("charter.policy").joinpath("default_charter.yaml").read_text()


@dataclass(frozen=True)
class PolicyVersion:
    number: int
    yaml: str
    sha256: str
    author: str
    note: str
    state: str
    created_at: str
    approved_by: str | None
    approved_at: str | None


class PolicyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self) -> list[PolicyVersion]:
        with self.db.connect() as conn:
            rows = conn.execute(text("SELECT * FROM policy_versions ORDER BY number")).all()
        return [PolicyVersion(**r._mapping) for r in rows]

    def get(self, number: int) -> PolicyVersion:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT * FROM policy_versions WHERE number = :n"),
                               {"n": number}).first()
        if row is None:
            raise NotFoundError(f"no charter version {number}; see `charter policy list`")
        return PolicyVersion(**row._mapping)

    def ensure_default(self) -> None:
        """Install the shipped charter as version 1, approved, on a new database."""
        self._ensure_default()
        self.db.cache.invalidate("policy")

    def _ensure_default(self) -> None:
        with self.db.transaction(exclusive=True) as conn:
            if conn.execute(text("SELECT count(*) FROM policy_versions")).scalar():
                return
            body = default_charter_text()
            now = utcnow()
            conn.execute(text(
                "INSERT INTO policy_versions (number, yaml, sha256, author, note, state, "
                "created_at, approved_by, approved_at) VALUES (1, :y, :h, 'charter', "
                "'the default charter shipped with Charter', 'approved', :t, 'charter', :t)"),
                {"y": body, "h": hashlib.sha256(body.encode()).hexdigest(), "t": now})

    def active(self) -> tuple[int, Charter]:
        self.ensure_default()
        with self.db.connect() as conn:
            row = conn.execute(text(
                "SELECT number, yaml FROM policy_versions WHERE state = 'approved'")).first()
        if row is None:
            raise NotFoundError("no approved charter version; approve one with "
                                "`charter policy approve N`")
        return row.number, _parse_cached(row.yaml, row.number)

    def active_number(self) -> int:
        return self.db.cache.get(("policy",), self._active_number)

    def _active_number(self) -> int:
        with self.db.connect() as conn:
            n = conn.execute(text(
                "SELECT number FROM policy_versions WHERE state = 'approved'")).scalar()
        if n is None:
            return self.active()[0]
        return int(n)

    def propose(self, body: str, author: str, note: str) -> PolicyVersion:
        parse_charter(body, "the proposed charter")
        with self.db.transaction(exclusive=True) as conn:
            number = (conn.execute(text("SELECT max(number) FROM policy_versions")).scalar() or 0) + 1
            conn.execute(text(
                "INSERT INTO policy_versions (number, yaml, sha256, author, note, state, "
                "created_at) VALUES (:n, :y, :h, :a, :note, 'draft', :t)"),
                {"n": number, "y": body, "h": hashlib.sha256(body.encode()).hexdigest(),
                 "a": author, "note": note, "t": utcnow()})
        return self.get(number)

    def approve(self, number: int, approver: str) -> PolicyVersion:
        version = self.get(number)
        if version.state != "draft":
            raise ConflictError(f"charter version {number} is {version.state}, not a draft; "
                                "propose a new version to change the charter")
        if version.author == approver and approver != "charter":
            raise ConflictError(f"charter version {number} was proposed by {approver}; "
                                "a different person must approve it")
        now = utcnow()
        with self.db.transaction(exclusive=True) as conn:
            conn.execute(text("UPDATE policy_versions SET state = 'retired' "
                              "WHERE state = 'approved'"))
            conn.execute(text("UPDATE policy_versions SET state = 'approved', approved_by = :a, "
                              "approved_at = :t WHERE number = :n"),
                         {"a": approver, "t": now, "n": number})
        self.db.cache.invalidate("policy")
        return self.get(number)

    def diff(self, a: int, b: int) -> str:
        old, new = self.get(a), self.get(b)
        return "".join(difflib.unified_diff(
            old.yaml.splitlines(keepends=True), new.yaml.splitlines(keepends=True),
            fromfile=f"charter v{a} ({old.state})", tofile=f"charter v{b} ({new.state})"))


@cache
def _parse_cached(body: str, number: int) -> Charter:
    return parse_charter(body, f"charter version {number}")
