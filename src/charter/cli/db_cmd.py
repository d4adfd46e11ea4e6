"""`charter db`: schema status and migrations."""

from __future__ import annotations

import typer

from charter.cli.state import STATE
from charter.store.db import Database, mask_url

app = typer.Typer(help="Database schema and migrations.", no_args_is_help=True)


def _database() -> Database:
    s = STATE.settings
    db = Database(s.resolved_database_url, connect_timeout=s.db_connect_timeout)
    db.ping()
    return db


@app.command("upgrade")
def upgrade() -> None:
    """Apply pending migrations (they also run on first start unless auto_migrate is off)."""
    db = _database()
    try:
        before, after = db.upgrade()
    finally:
        db.dispose()
    if before == after:
        typer.echo(f"already at the newest schema ({after})")
    else:
        typer.echo(f"upgraded {mask_url(db.url)} from {before or 'empty'} to {after}")


@app.command("status")
def status() -> None:
    """Show the database's schema revision and the newest this Charter knows."""
    db = _database()
    try:
        db.check_schema()
        current, head = db.revisions()
    finally:
        db.dispose()
    typer.echo(f"database: {mask_url(db.url)}")
    typer.echo(f"schema:   {current or 'empty'} (newest known: {head})")
    if current != head:
        typer.echo("run `charter db upgrade` to migrate")
