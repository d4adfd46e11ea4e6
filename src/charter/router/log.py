"""The route log: one row per answered request, what feedback and retraining join to."""

from __future__ import annotations

from sqlalchemy import Connection, text

from charter.router.feedback import SWITCH_WINDOW_S
from charter.core.routes import AUTO, RouteDecision
from charter.store.db import Database, utcnow


class RouteLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, request_id: str, principal_id: str, prompt_sha256: str,
               prompt_redacted: str, requested: str, route: RouteDecision, *,
               conn: Connection | None = None) -> str | None:
        """Store the row; when the user re-asks the same question with another model
        picked, also record a ``switch`` on the earlier request. Returns that request id.
        Runs inside the caller's (exclusive) transaction when ``conn`` is given."""
        if conn is not None:
            return self._record(conn, request_id, principal_id, prompt_sha256, prompt_redacted,
                                requested, route)
        with self.db.transaction(exclusive=True) as own:
            return self._record(own, request_id, principal_id, prompt_sha256, prompt_redacted,
                                requested, route)

    def _record(self, conn: Connection, request_id: str, principal_id: str, prompt_sha256: str,
                prompt_redacted: str, requested: str, route: RouteDecision) -> str | None:
        now = utcnow()
        switched = None
        if requested and requested != AUTO:
            earlier = conn.execute(text(
                "SELECT request_id, route, created_at FROM route_log WHERE principal_id = :p "
                "AND prompt_sha256 = :h ORDER BY created_at DESC LIMIT 1"),
                {"p": principal_id, "h": prompt_sha256}).first()
            if earlier is not None and earlier.route != route.name and \
                    _seconds_between(earlier.created_at, now) <= SWITCH_WINDOW_S:
                conn.execute(text(
                    "INSERT INTO feedback (request_id, principal_id, kind, value, note, "
                    "created_at) VALUES (:r, :p, 'switch', :v, :n, :t)"),
                    {"r": earlier.request_id, "p": principal_id,
                     "v": f"{earlier.route}->{route.name}", "n": f"re-asked as {request_id}",
                     "t": now})
                switched = earlier.request_id
        conn.execute(_INSERT, {"r": request_id, "p": principal_id, "h": prompt_sha256, "q": prompt_redacted,
             "req": requested or AUTO, "route": route.name, "why": route.reason,
             "s": route.score, "v": route.router_version, "t": now})
        return switched

    def owner(self, request_id: str) -> str | None:
        """Who asked the request (None for an unknown id)."""
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT principal_id FROM route_log WHERE request_id = :r"),
                               {"r": request_id}).first()
        return None if row is None else str(row.principal_id)

    def counts(self) -> dict[str, int]:
        with self.db.connect() as conn:
            return {r.route: r.n for r in conn.execute(text(
                "SELECT route, count(*) AS n FROM route_log GROUP BY route"))}


_INSERT = text(
    "INSERT INTO route_log (request_id, principal_id, prompt_sha256, prompt_redacted, "
    "requested, route, reason, score, router_version, created_at) VALUES (:r, :p, :h, "
    ":q, :req, :route, :why, :s, :v, :t)")


def _seconds_between(earlier: str, later: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
