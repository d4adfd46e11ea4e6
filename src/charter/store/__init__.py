"""Storage: one relational database (SQLite by default, PostgreSQL at scale)."""
