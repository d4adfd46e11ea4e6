"""knowledge base: documents, chunks, keyword index, vectors, index metadata

Why: grounded answers need documents with access control, chunks that keep their
location, a persisted keyword index (FTS5 / tsvector) and vectors (sqlite-vec blobs /
pgvector) that change together with their document.

Revision ID: 0002_knowledge
Revises: 0001_foundation
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_knowledge"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    op.create_table(
        "kb_index",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("embedding_model", sa.Text(), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        # Bumped by every write, so in-process vector caches know when to reload.
        sa.Column("generation", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("uri", sa.Text(), nullable=False, unique=True),
        sa.Column("source", sa.Text(), nullable=False, server_default=""),
        sa.Column("title", sa.Text(), nullable=False, server_default=""),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("classification", sa.String(40), nullable=False),
        sa.Column("clearance_level", sa.Integer(), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False, server_default=""),
        sa.Column("tags", sa.Text(), nullable=False, server_default=""),
        sa.Column("metadata", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("loader", sa.String(40), nullable=False, server_default=""),
        sa.Column("chars", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("chunk_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_documents_source", "documents", ["source"])
    op.create_table(
        "chunks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(80), nullable=False, unique=True),
        sa.Column("document_id", sa.String(40),
                  sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False, server_default=""),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("char_start", sa.Integer(), nullable=False),
        sa.Column("char_end", sa.Integer(), nullable=False),
        # Copied from the document so both search legs filter without a join.
        sa.Column("clearance_level", sa.Integer(), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False, server_default=""),
        sa.Column("source", sa.Text(), nullable=False, server_default=""),
        sa.Column("tags", sa.Text(), nullable=False, server_default=""),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_chunks_document_id", "chunks", ["document_id"])
    op.create_index("ix_chunks_clearance_level", "chunks", ["clearance_level"])
    if pg:
        # PostgreSQL has no BM25, so the keyword index is an inverted index in plain tables
        # (stemmed terms from to_tsvector, with their counts) that BM25 is computed over.
        op.execute("ALTER TABLE chunks ADD COLUMN length integer NOT NULL DEFAULT 0")
        op.create_table(
            "chunk_terms",
            sa.Column("chunk_id", sa.Integer(),
                      sa.ForeignKey("chunks.id", ondelete="CASCADE"), nullable=False),
            sa.Column("term", sa.Text(), nullable=False),
            sa.Column("tf", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("term", "chunk_id"),
        )
        op.create_index("ix_chunk_terms_chunk_id", "chunk_terms", ["chunk_id"])
        op.create_table(
            "chunk_vectors",
            sa.Column("chunk_id", sa.Integer(),
                      sa.ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True),
        )
        op.execute("ALTER TABLE chunk_vectors ADD COLUMN embedding vector NOT NULL")
    else:
        op.create_table(
            "chunk_vectors",
            sa.Column("chunk_id", sa.Integer(),
                      sa.ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("embedding", sa.LargeBinary(), nullable=False),
        )
        op.execute(
            "CREATE VIRTUAL TABLE chunks_fts USING fts5(body, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )


def downgrade() -> None:
    raise NotImplementedError("restore a backup to go back before the knowledge base")
