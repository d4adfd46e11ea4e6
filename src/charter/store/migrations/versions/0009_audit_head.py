"""audit head: the chain's count and last hash under a keyed MAC, and TRUNCATE refused

Why: the hash chain shows an edited or removed record only when a later record remains;
deleting the newest records (or emptying the table) left a valid chain. The head row
holds the number of events and the last one's hash, with an HMAC under a key kept
outside the database (setting ``audit_key_file``), updated in each append's transaction;
``charter audit verify`` compares the chain with it. PostgreSQL's TRUNCATE bypasses row
triggers, so a statement trigger refuses it.

Revision ID: 0009_audit_head
Revises: 0008_judgement_models
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_audit_head"
down_revision = "0008_judgement_models"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),  # always 1
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        # HMAC of count, last id, last hash and broken_at; '' until the first append under
        # a key (a database upgraded with events in it).
        sa.Column("mac", sa.String(64), nullable=False),
        # When an append found the head altered (sticky, under the MAC); '' when never.
        sa.Column("broken_at", sa.String(32), nullable=False),
    )
    op.execute(
        "INSERT INTO audit_head (id, count, last_id, last_hash, mac, broken_at) SELECT 1, "
        "count(*), coalesce(max(id), 0), coalesce((SELECT hash FROM audit_events ORDER BY id "
        "DESC LIMIT 1), '" + "0" * 64 + "'), '', '' FROM audit_events")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
                   "BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END")
    else:
        op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
                   "FOR EACH STATEMENT EXECUTE FUNCTION charter_audit_append_only()")
        op.execute("CREATE TRIGGER audit_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_head "
                   "FOR EACH STATEMENT EXECUTE FUNCTION charter_audit_append_only()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    op.drop_table("audit_head")
