"""`charter audit`: read and verify the audit trail."""

from __future__ import annotations

import json

import typer

from charter.cli.state import STATE
from charter.services import audit

app = typer.Typer(help="The append-only, hash-chained audit trail.", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Check every record's hash chain; fails on the first changed or missing record."""
    count = audit.verify(STATE.runtime, STATE.principal)
    typer.echo(f"audit chain intact: {count} events")


@app.command("list")
def list_(
    limit: int = typer.Option(20, "--limit", min=1, help="How many of the newest events."),
    request_id: str | None = typer.Option(None, "--request", help="Only this request id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """Show the newest audit events."""
    records = audit.records(STATE.runtime, STATE.principal, request_id=request_id, limit=limit)
    for r in records:
        if as_json:
            typer.echo(json.dumps({"id": r.id, "request_id": r.request_id, "at": r.created_at,
                                   "actor": r.actor, "event": r.event, "payload": r.payload,
                                   "hash": r.hash}))
        else:
            route = r.payload.get("route", {}).get("name", "-")
            status = r.payload.get("status", "-")
            typer.echo(f"{r.id:>6} {r.created_at} {r.request_id} {r.actor} {r.event} "
                       f"route={route} status={status}")
