"""The audit trail: one append-only, hash-chained record per request or admin action.

Each event's hash covers the previous event's hash and the event's own canonical
JSON, so removing or editing any row breaks ``verify()`` from that row on. The
database also refuses UPDATE and DELETE on the table (see migration 0001).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from charter.core.errors import AuditIntegrityError
from charter.store.db import Database, utcnow
from charter.store.tables import AuditEvent

GENESIS = "0" * 64


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, request_id: str, created_at: str, actor: str, event: str,
               payload: str) -> str:
    body = canonical([prev_hash, request_id, created_at, actor, event, payload])
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class AuditRecord:
    id: int
    request_id: str
    created_at: str
    actor: str
    event: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


# Built once: constructing statements per call was a visible share of a request's CPU.
_LAST_HASH = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
_INSERT = insert(AuditEvent).returning(AuditEvent.id)


class AuditLog:
    """Appends to and reads the hash chain in ``audit_events``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, request_id: str, actor: str, event: str, payload: dict[str, Any], *,
               conn: Connection | None = None) -> AuditRecord:
        """Append one record; inside the caller's transaction when ``conn`` is given
        (it must have been opened with ``exclusive=True``)."""
        if conn is not None:
            return self._append(conn, request_id, actor, event, payload)
        with self.db.transaction(exclusive=True) as own:
            return self._append(own, request_id, actor, event, payload)

    def _append(self, conn: Connection, request_id: str, actor: str, event: str,
                payload: dict[str, Any]) -> AuditRecord:
        body = canonical(payload)
        self.db.lock(conn, "audit_chain")  # one appender at a time reads the chain's end
        prev = conn.execute(_LAST_HASH).scalar() or GENESIS
        created = utcnow()
        digest = chain_hash(prev, request_id, created, actor, event, body)
        new_id = conn.execute(_INSERT, {
            "request_id": request_id, "created_at": created, "actor": actor, "event": event,
            "payload": body, "prev_hash": prev, "hash": digest}).scalar_one()
        return AuditRecord(new_id, request_id, created, actor, event, payload, prev, digest)

    def records(self, *, request_id: str | None = None, limit: int | None = None,
                newest_first: bool = False, actor: str | None = None, event: str | None = None,
                since: str | None = None, until: str | None = None,
                hidden_prefixes: tuple[str, ...] = ()) -> list[AuditRecord]:
        """Records in chain order (or newest first), filtered in SQL; ``since`` and
        ``until`` compare with the ISO-8601 ``created_at`` text (a date works);
        ``hidden_prefixes`` leaves out events whose type starts with one of them."""
        stmt = select(AuditEvent)
        for prefix in hidden_prefixes:
            stmt = stmt.where(AuditEvent.event.not_like(prefix.replace("_", r"\_") + "%",
                                                        escape="\\"))
        if request_id:
            stmt = stmt.where(AuditEvent.request_id == request_id)
        if actor:
            stmt = stmt.where(AuditEvent.actor == actor)
        if event:
            stmt = stmt.where(AuditEvent.event == event)
        if since:
            stmt = stmt.where(AuditEvent.created_at >= since)
        if until:
            stmt = stmt.where(AuditEvent.created_at < until)
        stmt = stmt.order_by(AuditEvent.id.desc() if newest_first else AuditEvent.id)
        if limit:
            stmt = stmt.limit(limit)
        with self.db.connect() as conn:
            return [self._record(r) for r in conn.execute(stmt)]

    @staticmethod
    def _record(row: Any) -> AuditRecord:
        return AuditRecord(row.id, row.request_id, row.created_at, row.actor, row.event,
                           json.loads(row.payload), row.prev_hash, row.hash)

    def _iter_rows(self, batch: int = 1000) -> Iterator[Any]:
        last = 0
        while True:
            with self.db.connect() as conn:
                rows = conn.execute(
                    select(AuditEvent).where(AuditEvent.id > last).order_by(AuditEvent.id).limit(batch)
                ).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].id

    def verify(self) -> int:
        """Check the whole chain; returns the number of events, raises on the first break."""
        prev = GENESIS
        count = 0
        for row in self._iter_rows():
            expected = chain_hash(prev, row.request_id, row.created_at, row.actor, row.event,
                                  row.payload)
            if row.prev_hash != prev or row.hash != expected:
                raise AuditIntegrityError(
                    f"audit chain broken at event {row.id} (request {row.request_id}): the "
                    "record was changed or an earlier one removed; restore from a backup and "
                    "investigate who had write access to the database"
                )
            prev = row.hash
            count += 1
        return count
