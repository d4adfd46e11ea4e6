"""`charter audit`: read and verify the audit trail."""

from __future__ import annotations

import json

import typer

from charter.cli.state import STATE
from charter.services import audit

app = typer.Typer(help="The append-only, hash-chained audit trail.", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Check every record's hash chain and the keyed head; fails on a changed or missing
    record, newest ones included."""
    count = audit.verify(STATE.runtime, STATE.principal)
    typer.echo(f"audit chain intact: {count} events")


@app.command("head")
def head(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The chain's end: note it outside Charter (a ticket, a log) so that a database
    restored to an earlier state can be told apart."""
    h = audit.head(STATE.runtime, STATE.principal)
    typer.echo(json.dumps(h) if as_json else
               f"{h['count']} events, last {h['last_id']} {h['last_hash']}")


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
