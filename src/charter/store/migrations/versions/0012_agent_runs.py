"""agent_runs, agent_tool_calls: multi-agent runs and the ledger of tools with effects

Why: a team's run is a DBOS workflow (its steps and their results live in DBOS's own
tables); Charter keeps who started it, the team as run, the budget, its status and its
answer, so runs can be listed per user and access-checked without reading DBOS. The
ledger records each call of an irreversible tool under its idempotency key before the
call is made, so a crash inside the call marks it for reconciliation instead of making
it twice.

Revision ID: 0012_agent_runs
Revises: 0011_chunk_screens
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_agent_runs"
down_revision = "0011_chunk_screens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workflow_id", sa.String(60), nullable=False),
        sa.Column("team_name", sa.String(40), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("budget", sa.Text(), nullable=False),
        sa.Column("spent", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("waiting", sa.Text(), nullable=True),
        sa.Column("executor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_agent_runs_principal", "agent_runs", ["principal_id", "created_at"])
    op.create_table(
        "agent_tool_calls",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("agent_runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("tool", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_agent_tool_calls_run", "agent_tool_calls", ["run_id"])


def downgrade() -> None:
    op.drop_table("agent_tool_calls")
    op.drop_table("agent_runs")
