"""The audit trail: read, export and verify."""

from __future__ import annotations

from typing import Any

from charter.audit import AuditRecord
from charter.core.principal import Principal, require
from charter.runtime import Runtime
from charter.services import events


def records(rt: Runtime, actor: Principal, *, request_id: str | None = None,
            actor_id: str | None = None, event: str | None = None, since: str | None = None,
            until: str | None = None, limit: int = 100) -> list[AuditRecord]:
    """Newest first, filtered; reviewers and admins only, and the events about accounts,
    keys, aliases, quotas and profiles for admins only."""
    require(actor, "reviewer")
    hidden = () if actor.has_role("admin") else events.ADMIN_ONLY
    return rt.audit.records(request_id=request_id, newest_first=True, limit=limit,
                            actor=actor_id, event=event, since=since, until=until,
                            hidden_prefixes=hidden)


def export(rt: Runtime, actor: Principal, **filters: object) -> list[AuditRecord]:
    require(actor, "admin")
    return records(rt, actor, **filters)  # type: ignore[arg-type]


def verify(rt: Runtime, actor: Principal) -> int:
    """Check the whole hash chain and its keyed head; returns the number of events."""
    require(actor, "reviewer")
    return rt.audit.verify()


def head(rt: Runtime, actor: Principal) -> dict[str, Any]:
    """The chain's end (count, last event and its hash), to anchor outside Charter: a
    database restored to an earlier state shows as a head older than the one noted."""
    require(actor, "reviewer")
    h = rt.audit.head()
    return {"count": h.count, "last_id": h.last_id, "last_hash": h.last_hash}
