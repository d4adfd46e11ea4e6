"""jobs: background work (large uploads) with its progress, result or error

Why: a large upload ingests for minutes (embedding thousands of chunks); inside the
request that holds a connection and a thread, and the client cannot see how far it got.
A job row lets the request answer at once (202) and any server process report progress.

Revision ID: 0010_jobs
Revises: 0009_audit_head
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_jobs"
down_revision = "0009_audit_head"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_jobs_actor", "jobs", ["actor", "created_at"])


def downgrade() -> None:
    op.drop_table("jobs")
