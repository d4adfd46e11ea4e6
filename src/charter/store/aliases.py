"""Model aliases stored in the database."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert, select, update

from charter.core.aliases import AliasConfig
from charter.core.errors import ConflictError, InvalidInputError, UnknownAliasError
from charter.core.routes import AUTO
from charter.store.db import Database, utcnow
from charter.store.tables import ModelAlias

_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def _validate_name(name: str) -> None:
    if not name or len(name) > 100 or not set(name.lower()) <= _NAME_OK or name == AUTO:
        raise InvalidInputError(
            f"invalid alias name {name!r}: use 1-100 letters, digits, '-', '_' or '.' "
            "('auto' is reserved for the router)"
        )


def _row_to_alias(row: Any) -> AliasConfig:
    return AliasConfig(
        name=row.name, backend=row.backend, model=row.model,
        options=json.loads(row.options), version=row.version, kind=row.kind,
    )


class AliasRepository:
    """CRUD for model aliases; every change bumps the alias's version."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, kind: str | None = None) -> list[AliasConfig]:
        stmt = select(ModelAlias).order_by(ModelAlias.name)
        if kind:
            stmt = stmt.where(ModelAlias.kind == kind)
        with self.db.connect() as conn:
            return [_row_to_alias(r) for r in conn.execute(stmt)]

    def find(self, name: str) -> AliasConfig | None:
        return self.db.cache.get(("alias", name), lambda: self._find(name))

    def _find(self, name: str) -> AliasConfig | None:
        with self.db.connect() as conn:
            row = conn.execute(select(ModelAlias).where(ModelAlias.name == name)).first()
        return _row_to_alias(row) if row else None

    def get(self, name: str, kind: str | None = None) -> AliasConfig:
        alias = self.find(name)
        if alias is None or (kind and alias.kind != kind):
            known = ", ".join(a.name for a in self.list(kind)) or "none"
            raise UnknownAliasError(
                f"no model alias '{name}': add one with `charter models add {name} "
                f"--backend ... --model ...`, or use one of: {known}"
            )
        return alias

    def add(self, alias: AliasConfig, *, replace: bool = False) -> AliasConfig:
        _validate_name(alias.name)
        now = utcnow()
        with self.db.transaction(exclusive=True) as conn:
            existing = conn.execute(
                select(ModelAlias.version).where(ModelAlias.name == alias.name)
            ).scalar()
            values = dict(kind=alias.kind, backend=alias.backend, model=alias.model,
                          options=json.dumps(alias.options, sort_keys=True), updated_at=now)
            if existing is None:
                conn.execute(insert(ModelAlias).values(
                    name=alias.name, version=1, created_at=now, **values))
                version = 1
            elif replace:
                version = existing + 1
                conn.execute(update(ModelAlias).where(ModelAlias.name == alias.name)
                             .values(version=version, **values))
            else:
                raise ConflictError(
                    f"model alias '{alias.name}' already exists; pass --replace to change it "
                    f"or `charter models remove {alias.name}` first"
                )
        self.db.cache.invalidate("alias")
        return AliasConfig(alias.name, alias.backend, alias.model, alias.options, version,
                           alias.kind)

    def remove(self, name: str) -> None:
        with self.db.transaction() as conn:
            deleted = conn.execute(delete(ModelAlias).where(ModelAlias.name == name)).rowcount
        self.db.cache.invalidate("alias")
        if not deleted:
            self.get(name)  # raises the helpful not-found error
