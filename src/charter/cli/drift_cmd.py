"""`charter drift`: where drift detection stands, a check now, the reference window."""

from __future__ import annotations

import json
from typing import Any

import typer

from charter.cli.state import STATE
from charter.services import drift as service

app = typer.Typer(help="Drift of requests (questions, decisions, routes) against a "
                  "reference window, and its alerts.", no_args_is_help=True)


def _print_report(upto: int, fired: bool | None, report: dict[str, Any]) -> None:
    state = {True: "DRIFT", False: "no drift", None: "unfinished"}[fired]
    typer.echo(f"check up to sample {upto}: {state}")
    if "skipped" in report:
        typer.echo(f"  {report['skipped']}")
    if "error" in report:
        typer.echo(f"  failed: {report['error']}")
    for t in report.get("tests", []):
        extra = "".join(f" {k}={t[k]}" for k in ("auc", "permutations", "dof") if k in t)
        note = f" ({t['skipped']})" if "skipped" in t else ""
        typer.echo(f"  {t['name']:<11} p={t['p_value']:.4g} alpha={t['alpha']:.4g} "
                   f"{'FIRED' if t['fired'] else 'ok'}{extra}{note}")
    for c in report.get("grown", []):
        typer.echo(f"  grown cluster: {c['reference_share']:.0%} -> {c['current_share']:.0%} "
                   f"of the window, e.g. {'; '.join(c['examples'])}")


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Samples kept, the windows compared, the last check and the last alert."""
    s = service.status(STATE.runtime, STATE.principal)
    if as_json:
        typer.echo(json.dumps(s))
        return
    typer.echo(f"drift sampling: {'on' if s['enabled'] else 'off'}; {s['samples']} samples "
               f"kept (newest {s['latest']})")
    base = s["baseline"]
    where = (f"pinned samples {base['first_id']}-{base['last_id']}" if base else
             f"the {s['reference']} requests before the current window")
    typer.echo(f"current window: the newest {s['window']} requests, checked every "
               f"{s['check_every']}; reference: {where}; alpha {s['alpha']:g}, "
               f"classifier AUC at least {s['min_auc']:g}")
    for key, title in (("last_check", "last check"), ("last_alert", "last alert")):
        c = s[key]
        typer.echo(f"{title}: " + ("none" if c is None else f"sample {c['upto']} at "
                                   f"{c['created_at']} by {c['actor']}"))


@app.command("check")
def check(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check the newest requests now (an alert is raised as in the server)."""
    c = service.check_now(STATE.runtime, STATE.principal)
    if as_json:
        typer.echo(json.dumps(service.check_dict(c)))
        return
    _print_report(c.upto, c.fired, c.report)


@app.command("checks")
def checks(limit: int = typer.Option(20, "--limit", help="How many, newest first."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Recent checks with their verdicts."""
    found = service.list_checks(STATE.runtime, STATE.principal, limit)
    if as_json:
        typer.echo(json.dumps([service.check_dict(c) for c in found]))
        return
    if not found:
        typer.echo("no drift checks yet")
    for c in found:
        _print_report(c.upto, c.fired, c.report)


@app.command("baseline")
def baseline(
    first: int | None = typer.Option(None, "--first", help="First sample of the window "
                                     "(default: the newest drift_reference samples)."),
    last: int | None = typer.Option(None, "--last", help="Last sample (default: newest)."),
    trailing: bool = typer.Option(False, "--trailing", help="Unpin: compare with the "
                                  "requests just before the current window again."),
) -> None:
    """Pin the reference window that checks compare with (after a change you accept)."""
    b = service.pin(STATE.runtime, STATE.principal, first_id=first, last_id=last,
                    trailing=trailing)
    if b.first_id is None:
        typer.echo("reference: the requests just before the current window")
    else:
        typer.echo(f"reference pinned: samples {b.first_id} to {b.last_id}")
