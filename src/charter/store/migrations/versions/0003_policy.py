"""policy: charter versions, review queue, use-case register

Why: the charter is enforced from approved versions stored here; held requests wait in
the review queue; use cases are registered, classified and approved with dated decisions.

Revision ID: 0003_policy
Revises: 0002_knowledge
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_policy"
down_revision = "0002_knowledge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("number", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("yaml", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("category", sa.String(80), nullable=True),
        sa.Column("tier", sa.String(20), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("question_redacted", sa.Text(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),  # JSON needed to serve it later
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),  # JSON result once answered
        sa.Column("reviewer", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("decided_at", sa.String(32), nullable=True),
    )
    op.create_index("ix_reviews_state", "reviews", ["state"])
    op.create_table(
        "use_cases",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("data_categories", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("affected_people", sa.Text(), nullable=False, server_default=""),
        sa.Column("automation", sa.String(40), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("category", sa.String(80), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("decided_at", sa.String(32), nullable=True),
        sa.Column("review_by", sa.String(32), nullable=True),
    )
    op.create_table(
        "use_case_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("use_case_id", sa.String(40),
                  sa.ForeignKey("use_cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back before the policy tables")
