"""Everything a command or the server needs, opened once: settings, database, gateway."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from charter.audit import AuditLog
from charter.backends import registry
from charter.backends.base import Embedder
from charter.knowledge.retrieve import KnowledgeRetriever
from charter.config import Settings
from charter.defaults import seed_defaults
from charter.gateway import Gateway
from charter.store.aliases import AliasRepository
from charter.store.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Open the database (migrating a new one) and seed defaults on first run."""
        db = Database(settings.resolved_database_url, connect_timeout=settings.db_connect_timeout)
        db.ping()
        fresh = db.revisions()[0] is None
        db.ensure_ready(auto_migrate=settings.auto_migrate)
        runtime = cls(settings, db)
        if fresh:
            seed_defaults(runtime.aliases)
        return runtime

    @cached_property
    def aliases(self) -> AliasRepository:
        return AliasRepository(self.db)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.db)

    def embedder(self) -> Embedder:
        """The embedding model named by the ``embedding_alias`` setting."""
        alias = self.aliases.get(self.settings.embedding_alias, kind="embedding")
        model = registry.build(alias, self.settings)
        assert isinstance(model, Embedder)
        return model

    @cached_property
    def retriever(self) -> KnowledgeRetriever:
        return KnowledgeRetriever(self.db, self.settings, self.embedder)

    @cached_property
    def gateway(self) -> Gateway:
        return Gateway(self.settings, self.db, retriever=self.retriever)

    def close(self) -> None:
        self.db.dispose()
