"""`charter usecase`: the register of what AI is used for, with dated decisions."""

from __future__ import annotations

import getpass
import json

import typer

from charter.cli.state import STATE
from charter.core.principal import as_actor
from charter.policy.register import AUTOMATION
from charter.services import usecases

app = typer.Typer(help="The use-case register.", no_args_is_help=True)


@app.command("register")
def register(
    name: str = typer.Argument(..., help="Short name, e.g. 'cv-screening'."),
    purpose: str = typer.Option(..., "--purpose", help="What the AI is used for."),
    owner: str = typer.Option(..., "--owner", help="Who is accountable."),
    data: str = typer.Option("", "--data", help="Comma-separated data categories used."),
    affected: str = typer.Option("", "--affected", help="Who is affected by the outputs."),
    automation: str = typer.Option("assistive", "--automation",
                                   help="Level of automation: " + ", ".join(AUTOMATION) + "."),
) -> None:
    """Register a use case; the charter classifies it and decides what approval it needs."""
    case = usecases.register(STATE.runtime, STATE.principal, name=name, purpose=purpose,
                             owner=owner, data_categories=data.split(","),
                             affected_people=affected, automation=automation)
    typer.echo(f"{case.name}: {case.state} ({case.tier}{', ' + case.category if case.category else ''})")
    typer.echo(case.reason)
    if case.state == "rejected":
        raise typer.Exit(1)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List registered use cases."""
    cases = usecases.list_all(STATE.runtime, STATE.principal)
    if as_json:
        typer.echo(json.dumps([c.__dict__ for c in cases], indent=2))
        return
    for c in cases:
        typer.echo(f"{c.name:<28} {c.state:<9} {c.tier:<9} owner {c.owner}; re-review "
                   f"{(c.review_by or '-')[:10]}")


@app.command("show")
def show(name: str = typer.Argument(..., help="Use case name or id.")) -> None:
    """Show a use case with every decision taken on it."""
    c = usecases.get(STATE.runtime, STATE.principal, name)
    for k, v in c.__dict__.items():
        typer.echo(f"{k:>16}: {v}")


def _decide(name: str, approve: bool, note: str, role: str | None, reviewer: str) -> None:
    # On the CLI the operator names who decides; the server uses the signed-in principal.
    case = usecases.decide(STATE.runtime, as_actor(STATE.principal, reviewer), name,
                           approve=approve, note=note, role=role)
    typer.echo(f"{case.name}: {case.state} ({len(case.decisions)} decision(s))")


@app.command("approve")
def approve(name: str = typer.Argument(..., help="Use case."),
            note: str = typer.Option(..., "--note", help="Why."),
            role: str | None = typer.Option(None, "--role", help="Role you act in (reviewer, admin)."),
            reviewer: str = typer.Option(getpass.getuser(), "--reviewer", help="Who decides.")) -> None:
    """Record an approval; a high-risk use case is approved once enough distinct roles agree."""
    _decide(name, True, note, role, reviewer)


@app.command("reject")
def reject(name: str = typer.Argument(..., help="Use case."),
           note: str = typer.Option(..., "--note", help="Why."),
           role: str | None = typer.Option(None, "--role", help="Role you act in."),
           reviewer: str = typer.Option(getpass.getuser(), "--reviewer", help="Who decides.")) -> None:
    """Reject a pending use case."""
    _decide(name, False, note, role, reviewer)
