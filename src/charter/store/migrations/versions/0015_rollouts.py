"""rollouts, rollout_requests: canary rollouts of charter, router and alias versions

Why: a challenger version is served to a share of users while both arms' outcomes are
compared, in whichever worker serves them, so the rollout and its counts live in the
database the workers share. ``running_kind`` is unique and set only while a rollout runs
(the kind, or alias:NAME): two rollouts of the same kind (of one alias) can never run at
once, even when two admins start them together.

Revision ID: 0015_rollouts
Revises: 0014_drift
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_rollouts"
down_revision = "0014_drift"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(100), nullable=True),
        sa.Column("challenger_alias", sa.String(100), nullable=True),
        sa.Column("champion", sa.Integer(), nullable=True),
        sa.Column("challenger", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("running_kind", sa.String(120), nullable=True, unique=True),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("verdict", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("ended_by", sa.String(200), nullable=True),
        sa.Column("ended_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "rollout_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rollout_id", sa.String(40), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("arm", sa.String(20), nullable=False),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("error", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.String(40), nullable=False),
        sa.Column("abstained", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_rollout_requests_arm", "rollout_requests", ["rollout_id", "arm"])
    op.create_index("ix_rollout_requests_request", "rollout_requests", ["request_id"])


def downgrade() -> None:
    op.drop_table("rollout_requests")
    op.drop_table("rollouts")
