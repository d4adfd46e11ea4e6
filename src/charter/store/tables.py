"""The schema, declared once for SQLite and PostgreSQL.

Timestamps are ISO-8601 UTC strings (``2026-01-02T03:04:05.678901Z``): they sort as
text, read back identically on both databases, and hash the same in the audit chain.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Principal(Base):
    """Who may ask: a user or service with roles, clearance, groups and a tier."""

    __tablename__ = "principals"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    roles: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    clearance: Mapped[str] = mapped_column(String(40), default="internal")
    groups: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    tier: Mapped[str] = mapped_column(String(40), default="free")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[str] = mapped_column(String(32))


class ModelAlias(Base):
    """A name users and the router speak in, mapped to a backend, model and options."""

    __tablename__ = "model_aliases"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="chat")
    backend: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(Text, default="")
    options: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class AuditEvent(Base):
    """One append-only, hash-chained record per request (and per admin action)."""

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
