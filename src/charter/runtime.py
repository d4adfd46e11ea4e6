"""Everything a command or the server needs, opened once: settings, database, gateway."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import cast

from charter.accounts import Accounts
from charter.audit import AuditLog, key_for
from charter.backends import registry
from charter.backends.base import ChatModel, Embedder
from charter.core.config import Settings
from charter.defaults import seed_defaults
from charter.jobs import JobRepository, JobRunner
from charter.judgement import serving
from charter.judgement.versions import JudgementRepository
from charter.knowledge.retrieve import KnowledgeRetriever
from charter.knowledge.store import DocumentStore, open_store
from charter.policy.engine import CharterScreen
from charter.policy.outbound import RedactingEmbedder
from charter.policy.register import UseCaseRegister
from charter.policy.reviews import ReviewQueue
from charter.policy.versions import PolicyRepository
from charter.profiles import ProfileRepository
from charter.router.feedback import FeedbackRepository
from charter.router.versions import RouterRepository
from charter.spine.drift import DriftCollector
from charter.spine.rollout import Canary
from charter.spine.gateway import Gateway
from charter.store.aliases import AliasRepository
from charter.store.db import Database
from charter.store.drift import DriftRepository
from charter.store.rollouts import RolloutRepository
from charter.usage import Quotas


@dataclass
class Runtime:
    settings: Settings
    db: Database

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Open the database (migrating a new one) and seed defaults on first run."""
        db = Database(settings.resolved_database_url, connect_timeout=settings.db_connect_timeout,
                      cache_ttl=settings.read_cache_ttl)
        db.ping()
        fresh = db.revisions()[0] is None
        db.ensure_ready(auto_migrate=settings.auto_migrate)
        runtime = cls(settings, db)
        runtime.judgement  # registered, so backends built from settings find its models
        if fresh:
            seed_defaults(runtime.aliases)
            PolicyRepository(db).ensure_default()
        runtime.quotas.seed_defaults()  # no-op once any tier limit exists
        return runtime

    @cached_property
    def aliases(self) -> AliasRepository:
        return AliasRepository(self.db)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.db, key_for(self.settings))

    def embedder(self) -> Embedder:
        """The embedding model named by the ``embedding_alias`` setting."""
        return self.embedding_model(self.settings.embedding_alias)

    def embedding_model(self, name: str) -> Embedder:
        """The embedding alias ``name``; one marked ``external`` sees every text redacted
        as the charter asks (``policy.outbound``)."""
        alias = self.aliases.get(name, kind="embedding")
        # No isinstance() against the Protocol here: checking a runtime Protocol reads every
        # property, and ``dimension`` would load the model that is otherwise loaded lazily.
        model = cast(Embedder, registry.build(alias, self.settings))
        if alias.external:
            # Looked up per text, not now: the screen itself is built with this embedder.
            return RedactingEmbedder(model, lambda text: self.screen.for_external(text))
        return model

    @cached_property
    def documents(self) -> DocumentStore:
        return open_store(self.db)

    @cached_property
    def retriever(self) -> KnowledgeRetriever:
        return KnowledgeRetriever(self.db, self.settings, self.embedder)

    def judge(self) -> ChatModel | None:
        """The optional model-as-judge for the charter classifier (setting policy_judge_alias)."""
        name = self.settings.policy_judge_alias
        if not name:
            return None
        return cast(ChatModel, registry.build(self.aliases.get(name, kind="chat"), self.settings))

    @cached_property
    def screen(self) -> CharterScreen:
        return CharterScreen(self.db, self.embedder, judge=self.judge,
                             model=lambda: serving.scorer("charter", self.settings)
                             if self.settings.charter_model else None,
                             pii_model=lambda: serving.pii_tagger(self.settings)
                             if self.settings.pii_model else None)

    @cached_property
    def policies(self) -> PolicyRepository:
        return PolicyRepository(self.db)

    @cached_property
    def reviews(self) -> ReviewQueue:
        return ReviewQueue(self.db)

    @cached_property
    def use_cases(self) -> UseCaseRegister:
        return UseCaseRegister(self.db, required_approvals=self.settings.usecase_approvals,
                               review_days=self.settings.usecase_review_days)

    @cached_property
    def judgement(self) -> JudgementRepository:
        """Charter's trained judgement models: versions per task, the active one."""
        return serving.register(self.db)

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self.db)

    @cached_property
    def quotas(self) -> Quotas:
        return Quotas(self.db)

    @cached_property
    def routers(self) -> RouterRepository:
        return RouterRepository(self.db)

    @cached_property
    def profiles(self) -> ProfileRepository:
        return ProfileRepository(self.db)

    @cached_property
    def feedback(self) -> FeedbackRepository:
        return FeedbackRepository(self.db)

    @cached_property
    def gateway(self) -> Gateway:
        return Gateway(self.settings, self.db, retriever=self.retriever, screen=self.screen,
                       reviews=self.reviews, use_cases=self.use_cases, quotas=self.quotas,
                       routers=self.routers,
                       drift=self.drift if self.settings.drift else None,
                       canary=self.canary)

    @cached_property
    def rollouts(self) -> RolloutRepository:
        return RolloutRepository(self.db)

    @cached_property
    def canary(self) -> Canary:
        """Puts users in rollout arms; ``services.rollouts.watch`` makes it judge."""
        return Canary(self.rollouts, self.settings.rollout_judge_interval)

    @cached_property
    def drift(self) -> DriftCollector:
        """Samples requests for drift checks; ``services.drift.monitor`` makes it check."""
        return DriftCollector(DriftRepository(self.db), self.settings.drift_check_every)

    @cached_property
    def jobs(self) -> JobRepository:
        return JobRepository(self.db)

    @cached_property
    def job_runner(self) -> JobRunner:
        return JobRunner(self.jobs, max_queued=self.settings.jobs_max_queued)

    def close(self) -> None:
        if "job_runner" in self.__dict__:  # let a running job finish its transaction
            self.job_runner.shutdown()
        if "drift" in self.__dict__:  # a running check finishes before the pool closes
            self.drift.close()
        serving.unregister(self.db)
        self.db.dispose()
