"""Feedback linked to request ids, and the router labels it implies.

Kinds: ``vote`` (up / down), ``switch`` (the user asked the same question again with
another model: recorded automatically by the gateway, value ``old->new``), ``correction``
(free text: the answer was wrong and this is better) and ``eval`` (correct / incorrect,
from an evaluation run).

Labels for the router ("the deeper path was needed"), from what each kind says:

- down-vote, correction or an incorrect evaluation of an answer from a quick route
  (fast, mini): needed;
- up-vote or a correct evaluation of an answer from a quick route: not needed;
- a switch from a quick route to a deep one (thinking, pro): needed; from deep to quick:
  not needed (the quick answer was wanted);
- anything about a deep route's answer says nothing about whether the quick path would
  have done, so it gives no label.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from charter.core.errors import InvalidInputError, NotFoundError
from charter.core.routes import DEEP, QUICK
from charter.router.learned import Sample
from charter.store.db import Database, utcnow

KINDS = ("vote", "switch", "correction", "eval")
SWITCH_WINDOW_S = 30 * 60


@dataclass(frozen=True)
class FeedbackItem:
    id: int
    request_id: str
    principal_id: str
    kind: str
    value: str
    note: str
    created_at: str


def _check(kind: str, value: str) -> str:
    if kind not in KINDS:
        raise InvalidInputError(f"feedback kind must be one of {', '.join(KINDS)}, not {kind!r}")
    value = value.strip()
    allowed = {"vote": ("up", "down"), "eval": ("correct", "incorrect")}.get(kind)
    if allowed and value not in allowed:
        raise InvalidInputError(f"{kind} feedback is {' or '.join(allowed)}, not {value!r}")
    if not value:
        raise InvalidInputError(f"{kind} feedback needs a value")
    return value


class FeedbackRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, request_id: str, principal_id: str, kind: str, value: str,
               note: str = "") -> FeedbackItem:
        value = _check(kind, value)
        with self.db.transaction(exclusive=True) as conn:
            known = conn.execute(text("SELECT 1 FROM route_log WHERE request_id = :r"),
                                 {"r": request_id}).first()
            if known is None:
                raise NotFoundError(f"no answered request {request_id!r}; use the request id "
                                    "printed with the answer (`charter ask --json` shows it)")
            now = utcnow()
            row = conn.execute(text(
                "INSERT INTO feedback (request_id, principal_id, kind, value, note, created_at) "
                "VALUES (:r, :p, :k, :v, :n, :t) RETURNING id"),
                {"r": request_id, "p": principal_id, "k": kind, "v": value, "n": note, "t": now}).first()
        return FeedbackItem(int(row.id), request_id, principal_id, kind, value, note, now)

    def list(self, request_id: str | None = None, limit: int = 100) -> list[FeedbackItem]:
        sql = "SELECT * FROM feedback"
        params: dict[str, object] = {"lim": limit}
        if request_id:
            sql += " WHERE request_id = :r"
            params["r"] = request_id
        with self.db.connect() as conn:
            rows = conn.execute(text(sql + " ORDER BY id DESC LIMIT :lim"), params).all()
        return [FeedbackItem(r.id, r.request_id, r.principal_id, r.kind, r.value, r.note,
                             r.created_at) for r in rows]

    def samples(self, weight: float = 1.0) -> list[Sample]:
        """Router training samples from feedback, one per request (latest feedback wins)."""
        with self.db.connect() as conn:
            rows = conn.execute(text(
                "SELECT f.request_id, f.kind, f.value, r.route, r.prompt_redacted FROM feedback f "
                "JOIN route_log r ON r.request_id = f.request_id ORDER BY f.id")).all()
        labels: dict[str, tuple[str, bool]] = {}
        for r in rows:
            label = label_for(r.kind, r.value, r.route)
            if label is not None:
                labels[r.request_id] = (r.prompt_redacted, label)
        return [Sample(prompt, deep, weight, "feedback") for prompt, deep in labels.values()]


def label_for(kind: str, value: str, route: str) -> bool | None:
    """Whether the deeper path was needed, by the rules in the module docstring."""
    if kind == "switch":
        old, _, new = value.partition("->")
        if old in QUICK and new in DEEP:
            return True
        if old in DEEP and new in QUICK:
            return False
        return None
    if route not in QUICK:
        return None
    if kind == "vote":
        return value == "down"
    if kind == "eval":
        return value == "incorrect"
    if kind == "correction":
        return True
    return None
