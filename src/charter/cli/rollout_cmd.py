"""`charter rollout`: canary rollouts of charter drafts and router versions."""

from __future__ import annotations

import json
from typing import Any

import typer

from charter.cli.state import STATE
from charter.core.errors import InvalidInputError
from charter.services import rollouts as service

app = typer.Typer(help="Canary rollouts: a challenger charter draft, router version or "
                  "model alias served to a share of users, rolled back or promoted on its "
                  "rates.",
                  no_args_is_help=True)


def _print(r: dict[str, Any]) -> None:
    what = (f"alias {r['alias']}: {r['challenger_alias']} in its place" if r["kind"] == "alias"
            else f"{r['kind']} v{r['challenger']} against v{r['champion']}")
    typer.echo(f"{r['id']}  {what}  "
               f"{r['share']:.0%} of users  {r['status']}"
               + (f" by {r['ended_by']}: {r['reason']}" if r["ended_by"] else ""))
    for arm, a in r["arms"].items():
        rates = "  ".join(f"{k} {v:.1%}" for k, v in a["rates"].items())
        typer.echo(f"  {arm:<10} {a['requests']:>8g} requests, {a['users']} users  {rates}")
    v = r["verdict"]
    if v:
        typer.echo(f"  verdict: {v.get('action')}: {v.get('reason')}")


@app.command("start")
def start(
    kind: str = typer.Argument(..., help="charter, router or alias."),
    target: str = typer.Argument(..., help="The challenger: a charter draft (`charter "
                                 "policy propose`) or router version number; for an alias "
                                 "rollout, the alias rolled out (e.g. fast)."),
    to: str | None = typer.Option(None, "--to", help="An alias rollout's challenger: the "
                                  "alias that serves in its place."),
    share: float | None = typer.Option(None, "--share", help="Part of the users served "
                                       "the challenger (default: setting rollout_share)."),
    margin: float | None = typer.Option(None, "--margin", help="Tolerated difference in "
                                        "abstention and negative-feedback rates (default: "
                                        "setting rollout_margin)."),
    strict_margin: float | None = typer.Option(None, "--strict-margin", help="The same for "
                                               "error, refusal and hold rates (default: "
                                               "setting rollout_strict_margin)."),
    min_requests: int | None = typer.Option(None, "--min-requests",
                                            help="Challenger requests before any verdict."),
    promote_after: int | None = typer.Option(None, "--promote-after",
                                             help="Challenger requests before promotion."),
    min_users: int | None = typer.Option(None, "--min-users",
                                         help="Challenger users before any verdict."),
) -> None:
    """Start serving a challenger version to a share of users."""
    rt = STATE.runtime
    version: int | str = target
    if kind != "alias":
        try:
            version = int(target)
        except ValueError:
            raise InvalidInputError(f"a {kind} rollout's challenger is a version number, "
                                    f"not {target!r}") from None
    r = service.start(rt, STATE.principal, kind, version, to=to, share=share, margin=margin,
                      strict_margin=strict_margin,
                      min_requests=min_requests, promote_after=promote_after,
                      min_users=min_users)
    _print(service.as_dict(rt, r))


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Rollouts, newest first, with both arms' rates."""
    rt = STATE.runtime
    found = [service.as_dict(rt, r) for r in service.list_rollouts(rt, STATE.principal)]
    if as_json:
        typer.echo(json.dumps(found))
        return
    if not found:
        typer.echo("no rollouts yet: start one with `charter rollout start KIND VERSION`")
    for r in found:
        _print(r)


@app.command("status")
def status(rid: str = typer.Argument(..., help="The rollout id."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """One rollout: both arms, their rates and the verdict so far."""
    rt = STATE.runtime
    r = service.as_dict(rt, service.get(rt, STATE.principal, rid))
    typer.echo(json.dumps(r)) if as_json else _print(r)


@app.command("check")
def check(rid: str = typer.Argument(..., help="The rollout id.")) -> None:
    """Judge a running rollout now and act on the verdict, as the server does after each
    challenger request."""
    rt = STATE.runtime
    service.get(rt, STATE.principal, rid)  # an admin's
    service.judge_now(rt, rid)
    _print(service.as_dict(rt, service.get(rt, STATE.principal, rid)))


@app.command("stop")
def stop(rid: str = typer.Argument(..., help="The rollout id."),
         reason: str = typer.Option("", "--reason", help="Recorded with the stop.")) -> None:
    """Stop a rollout: every user is served the champion again."""
    rt = STATE.runtime
    _print(service.as_dict(rt, service.stop(rt, STATE.principal, rid, reason)))


@app.command("promote")
def promote(rid: str = typer.Argument(..., help="The rollout id.")) -> None:
    """Promote the challenger now, whatever the verdict so far."""
    rt = STATE.runtime
    _print(service.as_dict(rt, service.promote(rt, STATE.principal, rid)))
