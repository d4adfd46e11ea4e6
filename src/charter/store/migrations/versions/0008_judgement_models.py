"""judgement models: trained artifacts versioned per task, with an alias history

Why: Charter's own models (answerability, the charter classifier, injection, PII,
reranking) are trained by `charter finetune`; each training is an immutable version of
its task, and an alias per task names the active one, with a history so that a rollback
returns to the version before. The artifact holds only the trained top layers and head
(a few MB); the shipped defaults live in the package and serve until a version is active.

Revision ID: 0008_judgement_models
Revises: 0007_drop_principals
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_judgement_models"
down_revision = "0007_drop_principals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "judgement_versions",
        sa.Column("task", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),  # safetensors with metadata
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),  # JSON: labels, thresholds, metrics
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("task", "version"),
    )
    op.create_table(
        "judgement_alias_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("task", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),  # NULL: back to the shipped model
        sa.Column("action", sa.String(20), nullable=False),  # activate | rollback
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_judgement_alias_history_task", "judgement_alias_history", ["task", "id"])


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back before the judgement models")
