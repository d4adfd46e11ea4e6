"""The audit trail: one append-only, hash-chained record per request or admin action.

Each event's hash covers the previous event's hash and the event's own canonical
JSON, so removing or editing any row breaks ``verify()`` from that row on. The
database also refuses UPDATE and DELETE on the table (see migration 0001), and TRUNCATE
on PostgreSQL (0009).

The chain alone cannot show that its newest records were removed: what remains is a
valid chain. The head row (``audit_head``) holds the number of events and the last
one's hash with an HMAC under a key kept outside the database (``audit_key_file``),
written in each append's transaction; ``verify()`` compares the chain with it. Someone
who can write the database but not read the key cannot make a head that fits a
shortened chain. An append that finds the head altered marks it broken (under the MAC)
so the mark cannot be undone without the key. What the head cannot show is a database
restored, head and all, to an earlier state: anchor ``charter audit head`` elsewhere
(a ticket, a log) to catch that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from charter.core.config import Settings
from charter.core.errors import AuditIntegrityError, ConfigError
from charter.store.db import Database, utcnow
from charter.store.tables import AuditEvent, AuditHead

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


@dataclass(frozen=True)
class Head:
    count: int
    last_id: int
    last_hash: str
    mac: str
    broken_at: str


def head_mac(key: bytes, count: int, last_id: int, last_hash: str, broken_at: str) -> str:
    return hmac.new(key, f"{count}:{last_id}:{last_hash}:{broken_at}".encode(),
                    hashlib.sha256).hexdigest()


def load_key(path: Path) -> bytes:
    """The head's key from ``path``, created (owner-readable only) when missing."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        key = path.read_text().strip()
    except FileExistsError:
        key = path.read_text().strip()  # another process created it first
    except OSError as exc:
        raise ConfigError(f"cannot read or create the audit key file {path}: "
                          f"{exc.strerror}; set audit_key_file to a writable place") from None
    if len(key) < 32:
        raise ConfigError(f"the audit key file {path} holds fewer than 32 characters; "
                          "restore it from your backup of the key")
    return key.encode()


def key_for(settings: Settings) -> bytes:
    """The audit head's key for these settings (``audit_key_file``, else the data folder's
    ``audit.key``)."""
    path = (Path(settings.audit_key_file).expanduser() if settings.audit_key_file
            else settings.data_path / "audit.key")
    return load_key(path)


# Built once: constructing statements per call was a visible share of a request's CPU.
_HEAD = select(AuditHead).where(AuditHead.id == 1)
_INSERT = insert(AuditEvent).returning(AuditEvent.id)


class AuditLog:
    """Appends to and reads the hash chain in ``audit_events`` and its head."""

    def __init__(self, db: Database, key: bytes | None = None) -> None:
        self.db = db
        # Without a key (a reader, a test) the head's MAC is neither checked nor written.
        self.key = key

    def head(self) -> Head:
        with self.db.connect() as conn:
            row = conn.execute(_HEAD).first()
        if row is None:
            raise AuditIntegrityError("the audit head row is missing: the table was emptied "
                                      "or the database altered; restore from a backup")
        return Head(row.count, row.last_id, row.last_hash, row.mac, row.broken_at)

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
        head = conn.execute(_HEAD).first()
        if head is None:
            raise AuditIntegrityError("the audit head row is missing: the table was emptied "
                                      "or the database altered; restore from a backup")
        prev = head.last_hash
        created = utcnow()
        digest = chain_hash(prev, request_id, created, actor, event, body)
        new_id = conn.execute(_INSERT, {
            "request_id": request_id, "created_at": created, "actor": actor, "event": event,
            "payload": body, "prev_hash": prev, "hash": digest}).scalar_one()
        broken = head.broken_at
        if self.key is not None and head.mac and not broken and not hmac.compare_digest(
                head.mac, head_mac(self.key, head.count, head.last_id, head.last_hash, "")):
            broken = created  # someone wrote the head without the key: marked for good
        count = head.count + 1
        mac = head_mac(self.key, count, new_id, digest, broken) if self.key is not None else ""
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(
            count=count, last_id=new_id, last_hash=digest, mac=mac, broken_at=broken))
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
        """Check the whole chain and its head; returns the number of events, raises on the
        first break."""
        prev = GENESIS
        count = 0
        last_id = 0
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
            last_id = row.id
            count += 1
        self._check_head(count, last_id, prev)
        return count

    def _check_head(self, count: int, last_id: int, last_hash: str) -> None:
        head = self.head()
        if head.broken_at:
            raise AuditIntegrityError(
                f"the audit head was altered without the key before the append at "
                f"{head.broken_at}: records may have been removed; restore from a backup")
        if self.key is not None and head.mac and not hmac.compare_digest(
                head.mac, head_mac(self.key, head.count, head.last_id, head.last_hash, "")):
            raise AuditIntegrityError("the audit head's MAC does not match: the head was "
                                      "altered (or the audit key file replaced)")
        if self.key is not None and not head.mac and head.count:
            raise AuditIntegrityError("the audit head is not anchored under a key yet (a "
                                      "database upgraded with events): it is on the next "
                                      "request; run verify again after it")
        if (head.count, head.last_id, head.last_hash) != (count, last_id, last_hash):
            missing = head.count - count
            raise AuditIntegrityError(
                f"the audit table holds {count} events ending at event {last_id}, but its "
                f"head records {head.count} ending at event {head.last_id}"
                + (f": the newest {missing} were removed" if missing > 0 else "")
                + "; restore from a backup and investigate who had write access")
