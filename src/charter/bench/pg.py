"""A throwaway PostgreSQL 16 with pgvector for the benches (the pgserver package)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from charter.core.errors import InvalidInputError


@contextlib.contextmanager
def postgres(work: Path) -> Iterator[str]:
    """A server with its data in ``work``/pg, as a SQLAlchemy URL; stopped on exit."""
    try:
        import pgserver
    except ImportError:
        raise InvalidInputError("the postgres run needs the pgserver package (pip install "
                                "-e '.[test]')") from None
    server = pgserver.get_server(work / "pg", cleanup_mode="stop")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg://")
    finally:
        server.cleanup()
