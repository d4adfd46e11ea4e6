"""`charter profile`: your personality and custom instructions."""

from __future__ import annotations

import typer

from charter.cli.state import STATE
from charter.profiles import PERSONALITIES
from charter.services import profiles

app = typer.Typer(help="Personality and custom instructions (beneath the charter).",
                  no_args_is_help=True)


@app.command("show")
def show(user: str | None = typer.Option(None, "--user", help="Principal id (default: you).")) -> None:
    """Show a profile."""
    p = profiles.get(STATE.runtime, STATE.principal, user)
    typer.echo(f"{p.principal_id}: personality {p.personality}, tier {p.tier or '(own)'}")
    typer.echo(f"instructions: {p.instructions or '(none)'}")


@app.command("set")
def set_(personality: str | None = typer.Option(None, "--personality",
                                                help="One of: " + ", ".join(PERSONALITIES)),
         instructions: str | None = typer.Option(None, "--instructions",
                                                 help="Custom instructions ('' clears them)."),
         user: str | None = typer.Option(None, "--user", help="Principal id (default: you).")) -> None:
    """Change personality and/or custom instructions."""
    p = profiles.set_profile(STATE.runtime, STATE.principal, personality=personality,
                             instructions=instructions, user=user)
    typer.echo(f"{p.principal_id}: personality {p.personality}; instructions "
               f"{'set' if p.instructions else 'none'}")
