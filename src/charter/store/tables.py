"""The schema, declared once for SQLite and PostgreSQL.

The Alembic migrations in ``store/migrations/versions/`` create the schema; this module
declares the same tables, columns, server defaults, keys and indexes in ``metadata``, and
tests/store/test_schema.py migrates a fresh database of each kind and checks that
Alembic's autogenerate comparison finds no difference (so a migration not mirrored here,
or a change here without a migration, fails the tests). The two tables code maps with the
ORM are classes (``ModelAlias``, ``AuditEvent``); the rest are Core ``Table`` objects.

What exists on one database only carries ``info={"dialect": NAME}`` (``only_on(NAME)``),
on the table, the column or the index; an object without it exists on both. Today:

* PostgreSQL only: the ``chunk_terms`` postings table (0002, 0004) with its covering
  index ``ix_chunk_terms_postings``, and the ``chunks.length`` column. Code that runs on
  both databases must not select whole ``chunks`` rows through this table object.
* SQLite only: the FTS5 virtual table ``chunks_fts`` (0002). SQLAlchemy cannot declare a
  virtual table, so it is not in the metadata: ``SQLITE_FTS5_TABLES`` names it and the
  shadow tables FTS5 keeps its index in, and ``include_object`` leaves them out.

A column whose *type* differs declares it with ``with_variant``: ``chunk_vectors.embedding``
is a BLOB (sqlite-vec's float32 blob) on SQLite and pgvector's ``vector`` on PostgreSQL.

Timestamps are ISO-8601 UTC strings (``2026-01-02T03:04:05.678901Z``): they sort as
text, read back identically on both databases, and hash the same in the audit chain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DIALECT = "dialect"  # the ``info`` key that marks an object as one database's only

POSTGRESQL = "postgresql"

# The FTS5 virtual table (migration 0002) and the shadow tables FTS5 creates and keeps
# its index in (``<name>_data``, ``_idx``, ``_content``, ``_docsize``, ``_config``).
SQLITE_FTS5_TABLES = frozenset({
    "chunks_fts", "chunks_fts_data", "chunks_fts_idx", "chunks_fts_content",
    "chunks_fts_docsize", "chunks_fts_config",
})

# Not created by a migration: on PostgreSQL the knowledge store sets
# ``chunk_vectors.embedding`` to ``vector(N)`` and builds this HNSW index once the first
# knowledge index fixes the dimension. (So a comparison against such a database, unlike
# the test's fresh one, also reports the column's type: ``vector`` declared, ``vector(N)``.)
RUNTIME_INDEXES = frozenset({"ix_chunk_vectors_hnsw"})


# The empty-string default, written as SQL. The DDL is the same as ``server_default=""``
# (DEFAULT ''), but Alembic compares a declared ``""`` as empty text with SQLite's
# reflected ``''`` (two quotes) and reports a difference that is not there.
EMPTY = text("''")


def only_on(dialect: str) -> dict[str, Any]:
    """The ``info`` of a table, column or index that exists on ``dialect`` only."""
    return {DIALECT: dialect}


def belongs_to(obj: Any, dialect: str) -> bool:
    """Whether a declared table, column or index exists on ``dialect``."""
    info = getattr(obj, "info", None) or {}
    return info.get(DIALECT, dialect) == dialect


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


metadata = Base.metadata  # every table, the ORM-mapped ones and the Core ones


def table_names(dialect: str) -> set[str]:
    """The declared tables that exist on ``dialect``."""
    return {t.name for t in metadata.tables.values() if belongs_to(t, dialect)}


def include_object(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's ``include_object`` hook for comparing ``metadata`` with a database of
    ``dialect`` (``alembic.autogenerate.compare_metadata``): what it leaves out, and why."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool,
                compare_to: Any) -> bool:
        if not reflected and not belongs_to(obj, dialect):
            # Declared for the other database only: its absence here is correct.
            return False
        if reflected and type_ == "table" and name in SQLITE_FTS5_TABLES:
            # FTS5's virtual table cannot be declared in SQLAlchemy, and its shadow tables
            # belong to FTS5 (SQLite creates, changes and drops them with the virtual table).
            return False
        if reflected and type_ == "index" and name in RUNTIME_INDEXES:
            # Built by the knowledge store once the vector dimension is known, not by a
            # migration, so only a database with a knowledge index has it.
            return False
        return True

    return include


# -- 0001 foundation -------------------------------------------------------------------


class ModelAlias(Base):
    """A name users and the router speak in, mapped to a backend, model and options."""

    __tablename__ = "model_aliases"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="chat", server_default="chat")
    backend: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    options: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")  # JSON object
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class AuditEvent(Base):
    """One append-only, hash-chained record per request (and per admin action).

    The database refuses UPDATE and DELETE on it (triggers from migration 0001)."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (
        Index("ix_audit_events_request_id", "request_id"),
        Index("ix_audit_events_created_at", "created_at"),
    )


class AuditHead(Base):
    """The chain's end (count, last id and hash) under an HMAC keyed outside the
    database, so removing the newest records shows (migration 0009)."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))
    broken_at: Mapped[str] = mapped_column(String(32))


# -- 0002 knowledge base ---------------------------------------------------------------
# The tables below are read and written with Core statements, so they are declared as
# Core tables (each ORM class costs milliseconds at import; every command imports this).

kb_index = Table(
    "kb_index", metadata,
    Column("id", Integer, primary_key=True),
    Column("embedding_model", Text, nullable=False),
    Column("dimension", Integer, nullable=False),
    # Bumped by every write, so in-process vector caches know when to reload.
    Column("generation", Integer, nullable=False, server_default="0"),
    Column("created_at", String(32), nullable=False),
)

documents = Table(
    "documents", metadata,
    Column("id", String(40), primary_key=True),
    Column("uri", Text, nullable=False, unique=True),
    Column("source", Text, nullable=False, server_default=EMPTY),
    Column("title", Text, nullable=False, server_default=EMPTY),
    Column("content_hash", String(64), nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("classification", String(40), nullable=False),
    Column("clearance_level", Integer, nullable=False),
    Column("groups", Text, nullable=False, server_default=EMPTY),
    Column("tags", Text, nullable=False, server_default=EMPTY),
    Column("metadata", Text, nullable=False, server_default="{}"),  # JSON object
    Column("loader", String(40), nullable=False, server_default=EMPTY),
    Column("chars", Integer, nullable=False, server_default="0"),
    Column("chunk_count", Integer, nullable=False, server_default="0"),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_documents_source", "source"),
)

chunks = Table(
    "chunks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uid", String(80), nullable=False, unique=True),
    Column("document_id", String(40), ForeignKey("documents.id", ondelete="CASCADE"),
           nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("heading", Text, nullable=False, server_default=EMPTY),
    Column("page", Integer, nullable=True),
    Column("char_start", Integer, nullable=False),
    Column("char_end", Integer, nullable=False),
    # Copied from the document so both search legs filter without a join.
    Column("clearance_level", Integer, nullable=False),
    Column("groups", Text, nullable=False, server_default=EMPTY),
    Column("source", Text, nullable=False, server_default=EMPTY),
    Column("tags", Text, nullable=False, server_default=EMPTY),
    Column("updated_at", String(32), nullable=False),
    # The chunk's number of terms, for BM25 over the postings (FTS5 keeps its own).
    Column("length", Integer, nullable=False, server_default="0", info=only_on(POSTGRESQL)),
    Index("ix_chunks_document_id", "document_id"),
    Index("ix_chunks_clearance_level", "clearance_level"),
)

# PostgreSQL has no BM25, so its keyword index is an inverted index in a plain table:
# one posting per stemmed term (from to_tsvector) of a chunk with the term's count, and
# (0004) the chunk's length and access fields, so the keyword leg is an index-only scan
# of ``ix_chunk_terms_postings`` per query term.
chunk_terms = Table(
    "chunk_terms", metadata,
    Column("chunk_id", Integer, ForeignKey("chunks.id", ondelete="CASCADE"), nullable=False),
    Column("term", Text, nullable=False),
    Column("tf", Integer, nullable=False),
    # No server defaults: 0004 used them for its backfill only; every insert sets these.
    Column("length", Integer, nullable=False),
    Column("clearance_level", SmallInteger, nullable=False),
    Column("groups", Text, nullable=False),
    PrimaryKeyConstraint("term", "chunk_id"),
    Index("ix_chunk_terms_chunk_id", "chunk_id"),
    Index("ix_chunk_terms_postings", "term",
          postgresql_include=["chunk_id", "tf", "length", "clearance_level", "groups"]),
    info=only_on(POSTGRESQL),
)

chunk_vectors = Table(
    "chunk_vectors", metadata,
    Column("chunk_id", Integer, ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True),
    # sqlite-vec's float32 blob; pgvector's ``vector``, without a dimension until the
    # knowledge store fixes it (``vector(N)``) when the first index is created.
    Column("embedding", LargeBinary().with_variant(Vector(), POSTGRESQL), nullable=False),
)

# 0011: each chunk's injection verdict from ingestion, with the detector version.
chunk_screens = Table(
    "chunk_screens", metadata,
    Column("chunk_id", Integer, ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True),
    Column("detector", String(40), nullable=False),
    Column("flagged", Boolean, nullable=False),
    Column("score", Float, nullable=False, server_default="0"),
    Column("evidence", Text, nullable=False, server_default=EMPTY),
    Index("ix_chunk_screens_detector", "detector"),
)

# -- 0003 policy -----------------------------------------------------------------------

policy_versions = Table(
    "policy_versions", metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("yaml", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("author", String(200), nullable=False),
    Column("note", Text, nullable=False, server_default=EMPTY),
    Column("state", String(20), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("approved_by", String(200), nullable=True),
    Column("approved_at", String(32), nullable=True),
)

reviews = Table(
    "reviews", metadata,
    Column("id", String(40), primary_key=True),
    Column("request_id", String(64), nullable=False),
    Column("principal_id", String(200), nullable=False),
    Column("state", String(20), nullable=False),
    Column("category", String(80), nullable=True),
    Column("tier", String(20), nullable=True),
    Column("policy_version", Integer, nullable=False),
    Column("question_redacted", Text, nullable=False),
    Column("request", Text, nullable=False),  # JSON needed to serve it later
    Column("answer", Text, nullable=True),
    Column("result", Text, nullable=True),  # JSON result once answered
    Column("reviewer", String(200), nullable=True),
    Column("note", Text, nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("decided_at", String(32), nullable=True),
    Index("ix_reviews_state", "state"),
)

use_cases = Table(
    "use_cases", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("purpose", Text, nullable=False),
    Column("owner", String(200), nullable=False),
    Column("data_categories", Text, nullable=False, server_default="[]"),
    Column("affected_people", Text, nullable=False, server_default=EMPTY),
    Column("automation", String(40), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("category", String(80), nullable=True),
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=False, server_default=EMPTY),
    Column("policy_version", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("decided_at", String(32), nullable=True),
    Column("review_by", String(32), nullable=True),
)

use_case_decisions = Table(
    "use_case_decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("use_case_id", String(40), ForeignKey("use_cases.id", ondelete="CASCADE"),
           nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("decision", String(20), nullable=False),
    Column("note", Text, nullable=False, server_default=EMPTY),
    Column("created_at", String(32), nullable=False),
)

# -- 0005 routing ----------------------------------------------------------------------

tier_limits = Table(
    "tier_limits", metadata,
    Column("tier", String(40), nullable=False),
    Column("route", String(40), nullable=False),
    Column("window_s", Integer, nullable=False),
    # NULL means no limit; 0 means the route is not part of the tier.
    Column("max_requests", Integer, nullable=True),
    Column("max_tokens", Integer, nullable=True),
    PrimaryKeyConstraint("tier", "route"),
)

usage_counters = Table(
    "usage_counters", metadata,
    Column("principal_id", String(200), nullable=False),
    Column("route", String(40), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("requests", Integer, nullable=False, server_default="0"),
    Column("tokens", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("principal_id", "route", "window_start"),
)

user_profiles = Table(
    "user_profiles", metadata,
    Column("principal_id", String(200), primary_key=True),
    Column("tier", String(40), nullable=True),
    Column("personality", String(40), nullable=False, server_default="default"),
    Column("instructions", Text, nullable=False, server_default=EMPTY),
    Column("updated_at", String(32), nullable=False),
)

route_log = Table(
    "route_log", metadata,
    Column("request_id", String(64), primary_key=True),
    Column("principal_id", String(200), nullable=False),
    Column("prompt_sha256", String(64), nullable=False),
    Column("prompt_redacted", Text, nullable=False),
    Column("requested", String(80), nullable=False),
    Column("route", String(80), nullable=False),
    Column("reason", Text, nullable=False),
    Column("score", Float, nullable=True),
    Column("router_version", Integer, nullable=True),
    Column("created_at", String(32), nullable=False),
    Index("ix_route_log_principal_prompt", "principal_id", "prompt_sha256", "created_at"),
)

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False),
    Column("principal_id", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # vote | switch | correction | eval
    Column("value", Text, nullable=False),
    Column("note", Text, nullable=False, server_default=EMPTY),
    Column("created_at", String(32), nullable=False),
    Index("ix_feedback_request_id", "request_id"),
)

router_versions = Table(
    "router_versions", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("model", LargeBinary, nullable=False),  # npz: weights and scaling
    Column("meta", Text, nullable=False),  # JSON: threshold, embedder, data, metrics
    Column("author", String(200), nullable=False),
    Column("note", Text, nullable=False, server_default=EMPTY),
    Column("created_at", String(32), nullable=False),
)

router_alias_history = Table(
    "router_alias_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alias", String(80), nullable=False),
    Column("version", Integer, nullable=True),  # NULL: alias cleared
    Column("action", String(20), nullable=False),  # activate | rollback
    Column("actor", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
    Index("ix_router_alias_history_alias", "alias", "id"),
)

# -- 0006 accounts ---------------------------------------------------------------------

users = Table(
    "users", metadata,
    Column("id", String(200), primary_key=True),
    Column("display_name", String(200), nullable=False, server_default=EMPTY),
    Column("roles", Text, nullable=False),  # |user|reviewer|
    Column("clearance", String(20), nullable=False),
    Column("groups", Text, nullable=False, server_default=EMPTY),  # |hr|legal|
    Column("tier", String(40), nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", String(32), nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", String(200), ForeignKey("users.id"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),  # SHA-256 of the key
    Column("prefix", String(20), nullable=False),
    Column("name", String(200), nullable=False, server_default=EMPTY),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
    Index("ix_api_keys_user_id", "user_id"),
)

# -- 0008 judgement models --------------------------------------------------------------

judgement_versions = Table(
    "judgement_versions", metadata,
    Column("task", String(40), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("artifact", LargeBinary, nullable=False),  # safetensors: trained layers, head, meta
    Column("sha256", String(64), nullable=False),
    Column("meta", Text, nullable=False),  # JSON: labels, thresholds, metrics, training
    Column("author", String(200), nullable=False),
    Column("note", Text, nullable=False, server_default=EMPTY),
    Column("created_at", String(32), nullable=False),
)

judgement_alias_history = Table(
    "judgement_alias_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task", String(40), nullable=False),
    Column("version", Integer, nullable=True),  # NULL: back to the shipped model
    Column("action", String(20), nullable=False),  # activate | rollback
    Column("actor", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
    Index("ix_judgement_alias_history_task", "task", "id"),
)

# -- 0010 jobs ------------------------------------------------------------------------------

jobs = Table(
    "jobs", metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(40), nullable=False),  # upload
    Column("actor", String(200), nullable=False),
    Column("state", String(20), nullable=False),  # queued | running | done | failed
    Column("done", Integer, nullable=False, server_default="0"),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("note", Text, nullable=False, server_default=EMPTY),  # what it is doing now
    Column("result", Text, nullable=True),  # JSON, when done
    Column("error", Text, nullable=True),  # JSON error body, when failed
    Column("owner", String(200), nullable=False),  # host:pid of the process running it
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_jobs_actor", "actor", "created_at"),
)

# -- 0012 agent runs ------------------------------------------------------------------------

agent_runs = Table(
    "agent_runs", metadata,
    Column("id", String(40), primary_key=True),
    Column("workflow_id", String(60), nullable=False),  # the DBOS workflow running it now
    Column("team_name", String(40), nullable=False),
    Column("spec", Text, nullable=False),  # JSON: the team and its agents as run
    Column("task", Text, nullable=False),
    Column("principal_id", String(200), nullable=False),
    Column("status", String(30), nullable=False),  # queued | running | awaiting_approval | ...
    Column("budget", Text, nullable=False),  # JSON
    Column("spent", Text, nullable=False, server_default=text("'{}'")),  # JSON
    Column("answer", Text, nullable=True),
    Column("note", Text, nullable=False, server_default=EMPTY),
    Column("waiting", Text, nullable=True),  # JSON: the approval the run waits for
    Column("executor", String(200), nullable=False),  # host:pid of the process that ran it
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_agent_runs_principal", "principal_id", "created_at"),
)

agent_tool_calls = Table(
    "agent_tool_calls", metadata,
    Column("key", String(80), primary_key=True),  # the idempotency key: run, step, call
    Column("run_id", String(40), ForeignKey("agent_runs.id", ondelete="CASCADE"),
           nullable=False),
    Column("tool", String(40), nullable=False),
    Column("state", String(20), nullable=False),  # started | done | reconcile
    Column("result", Text, nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_agent_tool_calls_run", "run_id"),
)

# -- 0013 evaluation runs -------------------------------------------------------------------

eval_runs = Table(
    "eval_runs", metadata,
    Column("id", String(40), primary_key=True),
    Column("suite", String(80), nullable=False),
    Column("scorer", String(40), nullable=False),
    Column("target", String(200), nullable=False, server_default=EMPTY),
    Column("versions", Text, nullable=False),  # JSON: charter, router, aliases, models, kb
    Column("metrics", Text, nullable=False),  # JSON: metric name -> number
    Column("author", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
    Index("ix_eval_runs_suite", "suite", "created_at"),
)

# Drift detection (``charter.drift``, ``services.drift``): one sample per answered, refused
# or held request (agent steps excepted), the checks made, and pinned reference windows.
drift_samples = Table(
    "drift_samples", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("vector_model", String(200), nullable=False, server_default=EMPTY),
    Column("vector", LargeBinary, nullable=True),  # float32, the screening embedding
    Column("decision", String(40), nullable=False),
    Column("route", String(80), nullable=False),
    Column("question", Text, nullable=False),  # redacted, cut to QUESTION_CHARS
    Column("created_at", String(32), nullable=False),
)

drift_checks = Table(
    "drift_checks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("upto", Integer, nullable=False, unique=True),  # the newest sample it covers
    Column("fired", Boolean, nullable=True),  # null while the check is running
    Column("report", Text, nullable=False, server_default="{}"),
    Column("actor", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
)

drift_baselines = Table(
    "drift_baselines", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("first_id", Integer, nullable=True),  # null: the trailing reference window
    Column("last_id", Integer, nullable=True),
    Column("actor", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
)

# -- 0015 rollouts -------------------------------------------------------------------------
# Canary rollouts (``charter.rollout``, ``services.rollouts``): a challenger version served
# to a share of users, and each request of both arms with its outcome.
rollouts = Table(
    "rollouts", metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),  # charter | router | alias
    # An alias rollout: the alias rolled out, and the alias its challenger arm is served.
    Column("subject", String(100), nullable=True),
    Column("challenger_alias", String(100), nullable=True),
    Column("champion", Integer, nullable=True),  # the version in force at the start
    Column("challenger", Integer, nullable=False),
    Column("share", Float, nullable=False),
    Column("rule", Text, nullable=False),  # JSON: margin, alpha, min_requests, promote_after
    Column("status", String(20), nullable=False),  # running | promoted | rolled_back | stopped
    # While running, the kind (alias:NAME for an alias), NULL after: unique, so one rollout
    # of each kind (of each alias) runs at a time.
    Column("running_kind", String(120), nullable=True, unique=True),
    Column("reason", Text, nullable=False, server_default=EMPTY),
    Column("verdict", Text, nullable=False, server_default="{}"),  # JSON, the last one
    Column("started_by", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("ended_by", String(200), nullable=True),
    Column("ended_at", String(32), nullable=True),
)

rollout_requests = Table(
    "rollout_requests", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rollout_id", String(40), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("arm", String(20), nullable=False),  # champion | challenger
    Column("principal_id", String(200), nullable=False),
    Column("error", Boolean, nullable=False),
    Column("decision", String(40), nullable=False),
    Column("abstained", Boolean, nullable=False),
    Column("created_at", String(32), nullable=False),
    Index("ix_rollout_requests_arm", "rollout_id", "arm"),
    Index("ix_rollout_requests_request", "request_id"),
)
