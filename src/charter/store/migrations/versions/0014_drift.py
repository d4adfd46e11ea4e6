"""drift_samples, drift_checks, drift_baselines: what drift detection compares

Why: a drift check compares the questions, decisions and routes of the latest requests
with a reference window of earlier ones, in whichever process serves them; the samples
have to be in the database the workers share. A check is stored under the sample it
covers up to (unique, so two workers never both run it) with its evidence; a pinned
reference window is a row of drift_baselines (the newest row is the one in force).

Revision ID: 0014_drift
Revises: 0013_eval_runs
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_drift"
down_revision = "0013_eval_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drift_samples",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("vector_model", sa.String(200), nullable=False, server_default=""),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.Column("decision", sa.String(40), nullable=False),
        sa.Column("route", sa.String(80), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "drift_checks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("upto", sa.Integer(), nullable=False, unique=True),
        sa.Column("fired", sa.Boolean(), nullable=True),
        sa.Column("report", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "drift_baselines",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("first_id", sa.Integer(), nullable=True),
        sa.Column("last_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("drift_baselines")
    op.drop_table("drift_checks")
    op.drop_table("drift_samples")
