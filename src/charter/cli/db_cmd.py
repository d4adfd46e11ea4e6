"""`charter db`: schema status and migrations."""

from __future__ import annotations

import typer

from charter.cli.state import STATE
from charter.services import setup

app = typer.Typer(help="Database schema and migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply pending migrations (they also run on first start unless auto_migrate is off)."""
    url, before, after = setup.schema_upgrade(STATE.settings)
    if before == after:
        typer.echo(f"already at the newest schema ({after})")
    else:
        typer.echo(f"upgraded {url} from {before or 'empty'} to {after}")


@app.command("status")
def status() -> None:
    """Show the database's schema revision and the newest this Charter knows."""
    url, current, head = setup.schema_status(STATE.settings)
    typer.echo(f"database: {url}")
    typer.echo(f"schema:   {current or 'empty'} (newest known: {head})")
    if current != head:
        typer.echo("run `charter db upgrade` to migrate")
