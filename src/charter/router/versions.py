"""Trained routers, versioned in the database; an alias names the active one.

``charter router train`` stores a new version and (unless told not to) points the
``active`` alias at it. Every alias change is a row in a history table, so a rollback
is the previous row, and the gateway reloads the model when the alias moves.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from charter.core.errors import ConflictError, NotFoundError
from charter.router.learned import RouterModel
from charter.store.alias_history import rollback_target
from charter.store.db import Database, utcnow

ACTIVE = "active"


@dataclass(frozen=True)
class RouterVersion:
    version: int
    author: str
    note: str
    created_at: str
    meta: dict[str, Any]


class RouterRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: tuple[int, RouterModel] | None = None
        self._lock = threading.Lock()
        self._versions: dict[int, RouterModel] = {}

    def save(self, model: RouterModel, *, author: str, note: str = "",
             activate: bool = True) -> int:
        with self.db.transaction(exclusive=True) as conn:
            n = conn.execute(text("SELECT coalesce(max(version), 0) + 1 FROM router_versions")).scalar_one()
            conn.execute(text(
                "INSERT INTO router_versions (version, model, meta, author, note, created_at) "
                "VALUES (:v, :m, :meta, :a, :note, :t)"),
                {"v": n, "m": model.to_bytes(), "meta": model.meta_json(), "a": author,
                 "note": note, "t": utcnow()})
            if activate:
                self._point(conn, ACTIVE, n, author)
        self.db.cache.invalidate("router")
        return int(n)

    def list(self) -> list[RouterVersion]:
        with self.db.connect() as conn:
            rows = conn.execute(text("SELECT version, author, note, created_at, meta FROM "
                                     "router_versions ORDER BY version")).all()
        return [RouterVersion(r.version, r.author, r.note, r.created_at, json.loads(r.meta))
                for r in rows]

    def load(self, version: int) -> RouterModel:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT model, meta FROM router_versions WHERE version = :v"),
                               {"v": version}).first()
        if row is None:
            raise NotFoundError(f"no router version {version}; see `charter router list`")
        return RouterModel.from_stored(bytes(row.model), row.meta)

    def active_version(self, alias: str = ACTIVE) -> int | None:
        return self.db.cache.get(("router", alias), lambda: self._active_version(alias))

    def _active_version(self, alias: str) -> int | None:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT version FROM router_alias_history WHERE alias = :a "
                                    "ORDER BY id DESC LIMIT 1"), {"a": alias}).first()
        return None if row is None else row.version

    def active(self, alias: str = ACTIVE) -> tuple[int, RouterModel] | None:
        """The model the alias points at, loaded once per version."""
        version = self.active_version(alias)
        if version is None:
            return None
        with self._lock:
            if self._cache is None or self._cache[0] != version:
                self._cache = (version, self.load(version))
            return self._cache

    def model(self, version: int) -> RouterModel:
        """Version ``version``'s model (a rollout's challenger), loaded once (versions
        never change)."""
        with self._lock:
            kept = self._versions.get(version)
        if kept is None:
            kept = self.load(version)
            with self._lock:
                self._versions[version] = kept
                while len(self._versions) > 4:
                    self._versions.pop(next(iter(self._versions)))
        return kept

    def activate(self, version: int, *, actor: str, alias: str = ACTIVE) -> None:
        self.load(version)  # exists
        with self.db.transaction(exclusive=True) as conn:
            self._point(conn, alias, version, actor)
        self.db.cache.invalidate("router")

    def rollback(self, *, actor: str, alias: str = ACTIVE) -> int | None:
        """Point the alias back at the version it named before the current one.

        History is replayed as a stack (activate pushes, rollback pops), so repeated
        rollbacks walk back through earlier versions instead of toggling between two.
        """
        with self.db.transaction(exclusive=True) as conn:
            rows = conn.execute(text("SELECT version, action FROM router_alias_history WHERE "
                                     "alias = :a ORDER BY id"), {"a": alias}).all()
            try:
                previous = rollback_target(rows)
            except LookupError:
                raise ConflictError(f"router alias {alias!r} has no earlier version to roll "
                                    "back to (see `charter router list`)") from None
            self._point(conn, alias, previous, actor, action="rollback")
        self.db.cache.invalidate("router")
        return previous

    def _point(self, conn: Any, alias: str, version: int | None, actor: str,
               action: str = "activate") -> None:
        # Cleared before and after the write's commit, so no reader keeps the old version.
        self.db.cache.invalidate("router")
        conn.execute(text("INSERT INTO router_alias_history (alias, version, action, actor, "
                          "created_at) VALUES (:a, :v, :act, :actor, :t)"),
                     {"a": alias, "v": version, "act": action, "actor": actor, "t": utcnow()})
