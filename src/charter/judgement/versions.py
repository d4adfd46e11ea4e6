"""Judgement models in the database: versions per task, and the alias naming the active one.

``charter finetune TASK`` stores each training as a new version of its task and (unless
told not to) makes it active. Until a task has an active version, the model shipped in
the package serves (``judgement/models/<task>/``); a rollback past the first activation
returns to it. Every alias move is a row in ``judgement_alias_history``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import text

from charter.core.errors import ConflictError, NotFoundError
from charter.judgement.artifact import Artifact
from charter.store.alias_history import rollback_target
from charter.store.db import Database, utcnow

SHIPPED = "shipped"  # how the packaged default is named in listings


def shipped_path(task: str) -> Path:
    return Path(str(files("charter.judgement").joinpath("models", task, "model.safetensors")))


@cache
def shipped(task: str) -> Artifact | None:
    """The model shipped in the package for ``task`` (None when none ships)."""
    path = shipped_path(task)
    return Artifact.load(path) if path.is_file() else None


@dataclass(frozen=True)
class JudgementVersion:
    task: str
    version: int
    sha256: str
    author: str
    note: str
    created_at: str
    meta: dict[str, Any]


class JudgementRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._loaded: dict[str, tuple[int | None, Artifact | None]] = {}
        self._lock = threading.Lock()

    def save(self, artifact: Artifact, *, author: str, note: str = "",
             activate: bool = True) -> int:
        artifact.check_base()
        task = artifact.meta.task
        with self.db.transaction(exclusive=True) as conn:
            n = conn.execute(text("SELECT coalesce(max(version), 0) + 1 FROM judgement_versions "
                                  "WHERE task = :t"), {"t": task}).scalar_one()
            conn.execute(text(
                "INSERT INTO judgement_versions (task, version, artifact, sha256, meta, author, "
                "note, created_at) VALUES (:t, :v, :a, :h, :m, :au, :n, :c)"),
                {"t": task, "v": n, "a": artifact.to_bytes(), "h": artifact.sha256,
                 "m": json.dumps(asdict(artifact.meta), sort_keys=True), "au": author,
                 "n": note, "c": utcnow()})
            if activate:
                self._point(conn, task, int(n), author)
        self.db.cache.invalidate("judgement")
        return int(n)

    def list(self, task: str | None = None) -> list[JudgementVersion]:
        sql = "SELECT task, version, sha256, author, note, created_at, meta FROM judgement_versions"
        params: dict[str, Any] = {}
        if task:
            sql += " WHERE task = :t"
            params["t"] = task
        with self.db.connect() as conn:
            rows = conn.execute(text(sql + " ORDER BY task, version"), params).all()
        return [JudgementVersion(r.task, r.version, r.sha256, r.author, r.note, r.created_at,
                                 json.loads(r.meta)) for r in rows]

    def load(self, task: str, version: int) -> Artifact:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT artifact FROM judgement_versions WHERE task = :t "
                                    "AND version = :v"), {"t": task, "v": version}).first()
        if row is None:
            raise NotFoundError(f"no {task} model version {version}; see `charter finetune "
                                "list`")
        return Artifact.from_bytes(bytes(row.artifact), f"{task} model version {version}")

    def active_version(self, task: str) -> int | None:
        """The active version's number; None: the shipped model serves."""
        return self.db.cache.get(("judgement", task), lambda: self._active_version(task))

    def _active_version(self, task: str) -> int | None:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT version FROM judgement_alias_history WHERE "
                                    "task = :t ORDER BY id DESC LIMIT 1"), {"t": task}).first()
        return None if row is None else row.version

    def active(self, task: str) -> tuple[int | None, Artifact | None]:
        """(version, artifact) that serves ``task`` now: the active version, else the
        shipped model (version None); loaded once per version."""
        version = self.active_version(task)
        with self._lock:
            cached = self._loaded.get(task)
            if cached is None or cached[0] != version:
                artifact = shipped(task) if version is None else self.load(task, version)
                cached = (version, artifact)
                self._loaded[task] = cached
            return cached

    def activate(self, task: str, version: int, *, actor: str) -> None:
        self.load(task, version)  # exists and decodes
        with self.db.transaction(exclusive=True) as conn:
            self._point(conn, task, version, actor)
        self.db.cache.invalidate("judgement")

    def rollback(self, task: str, *, actor: str) -> int | None:
        """Back to the version active before the current one (None: the shipped model)."""
        with self.db.transaction(exclusive=True) as conn:
            rows = conn.execute(text("SELECT version, action FROM judgement_alias_history "
                                     "WHERE task = :t ORDER BY id"), {"t": task}).all()
            try:
                previous = rollback_target([_Row(None, "activate"), *rows])
            except LookupError:
                raise ConflictError(f"the {task} model has no earlier version to roll back "
                                    "to (see `charter finetune list`)") from None
            self._point(conn, task, previous, actor, action="rollback")
        self.db.cache.invalidate("judgement")
        return previous

    def _point(self, conn: Any, task: str, version: int | None, actor: str,
               action: str = "activate") -> None:
        self.db.cache.invalidate("judgement")
        conn.execute(text("INSERT INTO judgement_alias_history (task, version, action, actor, "
                          "created_at) VALUES (:t, :v, :a, :actor, :c)"),
                     {"t": task, "v": version, "a": action, "actor": actor, "c": utcnow()})


@dataclass(frozen=True)
class _Row:
    """The shipped model as the history's first entry, so a rollback can reach it."""

    version: int | None
    action: str
