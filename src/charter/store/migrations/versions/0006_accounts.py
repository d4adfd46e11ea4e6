"""accounts: users with roles, clearance, groups and tier; API keys stored as hashes

Why: the server authenticates every request with an API key; the key is shown once and
only its SHA-256 is kept; the user it belongs to carries the roles (user, reviewer,
admin), the clearance and groups that retrieval filters on, and the tier for quotas.

Revision ID: 0006_accounts
Revises: 0005_routing
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_accounts"
down_revision = "0005_routing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("roles", sa.Text(), nullable=False),  # |user|reviewer|
        sa.Column("clearance", sa.String(20), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False, server_default=""),  # |hr|legal|
        sa.Column("tier", sa.String(40), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(200), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back before the accounts tables")
