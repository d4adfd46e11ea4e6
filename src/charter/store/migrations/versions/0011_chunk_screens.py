"""chunk_screens: each chunk's injection verdict, made once when it is ingested

Why: every chat request embedded each retrieved passage again to screen it for injected
instructions, although a passage only changes when its document does. The verdict is
stored with the version of the detector that made it; a chunk whose verdict is from
another version (or that has none, as every chunk written before this migration) is
screened when it is retrieved, and `charter kb rescreen` brings the stored verdicts up to
date.

Revision ID: 0011_chunk_screens
Revises: 0010_jobs
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_chunk_screens"
down_revision = "0010_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chunk_screens",
        sa.Column("chunk_id", sa.Integer(), sa.ForeignKey("chunks.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("detector", sa.String(40), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False, server_default="0"),
        sa.Column("evidence", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_chunk_screens_detector", "chunk_screens", ["detector"])


def downgrade() -> None:
    op.drop_table("chunk_screens")
