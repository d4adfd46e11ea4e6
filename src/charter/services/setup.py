"""Installing Charter: the database schema and the default aliases."""

from __future__ import annotations

import logging

from charter.core.config import Settings
from charter.defaults import seed_defaults
from charter.runtime import Runtime
from charter.core.config import mask_url
from charter.store.db import Database


def init(rt: Runtime) -> list[str]:
    """Add the default aliases that are missing; returns their names."""
    return seed_defaults(rt.aliases)


def revision(rt: Runtime) -> str | None:
    """The schema revision of the runtime's database."""
    return rt.db.revisions()[0]


def _database(settings: Settings) -> Database:
    db = Database(settings.resolved_database_url, connect_timeout=settings.db_connect_timeout)
    db.ping()
    return db


def schema_status(settings: Settings) -> tuple[str, str | None, str]:
    """(the database's masked URL, its revision, the newest revision known)."""
    db = _database(settings)
    try:
        db.check_schema()
        current, head = db.revisions()
    finally:
        db.dispose()
    return mask_url(db.url), current, head


def schema_upgrade(settings: Settings) -> tuple[str, str | None, str]:
    """Apply pending migrations: (masked URL, revision before, revision after)."""
    db = _database(settings)
    try:
        before, after = db.upgrade()
    finally:
        db.dispose()
    return mask_url(db.url), before, after


def warm_up(rt: Runtime) -> None:
    """Load the models that screening needs before the first request, not during it."""
    from charter.core.chat import ChatMessage
    from charter.core.principal import Principal

    rt.screen.screen_input(Principal("charter-warm-up"),
                           [ChatMessage("user", "Warm-up: how many days of leave?")])
    stale = rt.documents.check_counts(rt.screen.passage_checker().version)["stale"]
    if stale:
        logging.getLogger("charter.server").warning(
            "%d stored chunks have no injection verdict from the current detector; they are "
            "screened each time they are retrieved until `charter kb rescreen` (or the next "
            "`kb sync`) stores one", stale)
