"""keyword postings: length and access fields on PostgreSQL's chunk_terms

Why: the BM25 keyword leg on PostgreSQL joined every posting to chunks for its length and
access fields, and the planner fell back to sequential scans (about 100 ms per SciFact
query). With the length and access fields on the posting and a covering index, the leg is
an index-only scan per query term (about 7 ms). SQLite is unchanged (FTS5).

Revision ID: 0004_keyword_postings
Revises: 0003_policy
Create Date: 2026-11-26
"""

from alembic import op

revision = "0004_keyword_postings"
down_revision = "0003_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE chunk_terms ADD COLUMN length integer NOT NULL DEFAULT 0, "
               "ADD COLUMN clearance_level smallint NOT NULL DEFAULT 0, "
               "ADD COLUMN groups text NOT NULL DEFAULT ''")
    op.execute("UPDATE chunk_terms t SET length = c.length, clearance_level = c.clearance_level, "
               "groups = c.groups FROM chunks c WHERE c.id = t.chunk_id")
    # Defaults are for the backfill only: every insert sets these columns.
    op.execute("ALTER TABLE chunk_terms ALTER COLUMN clearance_level DROP DEFAULT, "
               "ALTER COLUMN length DROP DEFAULT, ALTER COLUMN groups DROP DEFAULT")
    op.execute("CREATE INDEX ix_chunk_terms_postings ON chunk_terms (term) "
               "INCLUDE (chunk_id, tf, length, clearance_level, groups)")


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back before the keyword postings")
