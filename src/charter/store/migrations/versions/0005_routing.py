"""routing: tiers and usage counters, user profiles, route log, feedback, router versions

Why: routes are chosen per request and recorded (route_log); quotas count requests and
tokens per principal, route and window exactly under concurrency (usage_counters, one
row per window updated atomically); personalities and custom instructions live in
user_profiles; feedback (votes, model switches, corrections, evaluations) links to the
route log so the learned router can be retrained; trained routers are versioned and the
active one is chosen by an alias with a history for rollback.

Revision ID: 0005_routing
Revises: 0004_keyword_postings
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_routing"
down_revision = "0004_keyword_postings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tier_limits",
        sa.Column("tier", sa.String(40), nullable=False),
        sa.Column("route", sa.String(40), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=False),
        # NULL means no limit; 0 means the route is not part of the tier.
        sa.Column("max_requests", sa.Integer(), nullable=True),
        sa.Column("max_tokens", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("tier", "route"),
    )
    op.create_table(
        "usage_counters",
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("route", sa.String(40), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("tokens", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("principal_id", "route", "window_start"),
    )
    op.create_table(
        "user_profiles",
        sa.Column("principal_id", sa.String(200), primary_key=True),
        sa.Column("tier", sa.String(40), nullable=True),
        sa.Column("personality", sa.String(40), nullable=False, server_default="default"),
        sa.Column("instructions", sa.Text(), nullable=False, server_default=""),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "route_log",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("prompt_sha256", sa.String(64), nullable=False),
        sa.Column("prompt_redacted", sa.Text(), nullable=False),
        sa.Column("requested", sa.String(80), nullable=False),
        sa.Column("route", sa.String(80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("router_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_route_log_principal_prompt", "route_log",
                    ["principal_id", "prompt_sha256", "created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),  # vote | switch | correction | eval
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_feedback_request_id", "feedback", ["request_id"])
    op.create_table(
        "router_versions",
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("model", sa.LargeBinary(), nullable=False),  # npz: weights and scaling
        sa.Column("meta", sa.Text(), nullable=False),  # JSON: threshold, embedder, data, metrics
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "router_alias_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("alias", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),  # NULL: alias cleared
        sa.Column("action", sa.String(20), nullable=False),  # activate | rollback
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_router_alias_history_alias", "router_alias_history", ["alias", "id"])


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back before the routing tables")
