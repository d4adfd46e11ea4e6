"""eval_runs: evaluation runs, with the versions of everything they ran against

Why: `charter eval run` measures a suite (policy, grounded answers, compound questions)
against the charter, models, router and knowledge base as they were; a run is kept so
that two can be compared and a release gated on one, which needs the figures and the
versions stored together.

Revision ID: 0013_eval_runs
Revises: 0012_agent_runs
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_eval_runs"
down_revision = "0012_agent_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("suite", sa.String(80), nullable=False),
        sa.Column("scorer", sa.String(40), nullable=False),
        sa.Column("target", sa.String(200), nullable=False, server_default=""),
        sa.Column("versions", sa.Text(), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_eval_runs_suite", "eval_runs", ["suite", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_eval_runs_suite", "eval_runs")
    op.drop_table("eval_runs")
