"""drop principals: the table from 0001 that nothing reads or writes

Why: people are stored in ``users`` (0006) with their roles, clearance, groups and tier;
``principals`` was never read or written by any code, so it only misled whoever read the
schema. Dropping it keeps the schema equal to what the code uses (store/tables.py).

Revision ID: 0007_drop_principals
Revises: 0006_accounts
Create Date: 2026-11-27
"""

from alembic import op

revision = "0007_drop_principals"
down_revision = "0006_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("principals")


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back before principals was dropped")
