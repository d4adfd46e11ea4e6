"""`charter usage`: tiers, limits and what each principal has used in its windows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer

from charter.cli.state import STATE
from charter.services import usage

app = typer.Typer(help="Quotas: usage per principal, tier limits, tiers of users.",
                  no_args_is_help=True)


def _n(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


@app.command("show")
def show(user: str | None = typer.Option(None, "--user", help="Only this principal."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Requests and tokens used per principal, route and window."""
    rows = usage.usage(STATE.runtime, STATE.principal, user)
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    for r in rows:
        start = datetime.fromtimestamp(r.window_start, UTC).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{r.principal_id:<20} {r.route:<10} window {start}Z  requests "
                   f"{r.requests}/{_n(r.max_requests)}  tokens {r.tokens}/{_n(r.max_tokens)}")
    if not rows:
        typer.echo("no usage recorded")


@app.command("limits")
def limits(tier: str | None = typer.Option(None, "--tier", help="Only this tier.")) -> None:
    """Limits per tier and route (routes not listed are unlimited)."""
    for lim in usage.limits(STATE.runtime, STATE.principal, tier):
        if lim.max_requests == 0:
            typer.echo(f"{lim.tier:<8} {lim.route:<10} not included")
            continue
        typer.echo(f"{lim.tier:<8} {lim.route:<10} {_n(lim.max_requests)} requests, "
                   f"{_n(lim.max_tokens)} tokens per {lim.window_s // 60} min")


@app.command("limit")
def limit(tier: str = typer.Argument(..., help="Tier name (a new name creates the tier)."),
          route: str = typer.Argument(..., help="Route (alias) the limit applies to."),
          requests: int | None = typer.Option(None, "--requests", min=0,
                                              help="Requests per window (0: route not included; "
                                                   "omit: unlimited)."),
          tokens: int | None = typer.Option(None, "--tokens", min=0,
                                            help="Tokens per window (omit: unlimited)."),
          window: int = typer.Option(3 * 3600, "--window", min=1, help="Window in seconds.")) -> None:
    """Set a tier's limit for one route."""
    lim = usage.set_limit(STATE.runtime, STATE.principal, tier, route, window_s=window,
                          max_requests=requests, max_tokens=tokens)
    typer.echo(f"{lim.tier} {lim.route}: {_n(lim.max_requests)} requests, "
               f"{_n(lim.max_tokens)} tokens per {lim.window_s // 60} min")


@app.command("set-tier")
def set_tier(user: str = typer.Argument(..., help="Principal id."),
             tier: str = typer.Argument(..., help="Tier name.")) -> None:
    """Put a principal on a tier."""
    usage.set_tier(STATE.runtime, STATE.principal, user, tier)
    typer.echo(f"{user} is on the {tier} tier")


@app.command("reset")
def reset(user: str = typer.Argument(..., help="Principal id.")) -> None:
    """Clear a principal's counters."""
    n = usage.reset(STATE.runtime, STATE.principal, user)
    typer.echo(f"cleared {n} counter(s) for {user}")
