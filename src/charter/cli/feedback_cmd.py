"""`charter feedback`: votes, corrections and evaluation results, linked to a request id."""

from __future__ import annotations

import typer

from charter.cli.state import STATE
from charter.core.errors import InvalidInputError
from charter.services import feedback

app = typer.Typer(help="Feedback on answers: record and list.", no_args_is_help=True)


@app.command("add")
def add(request_id: str = typer.Argument(..., help="The request id printed with the answer."),
        up: bool = typer.Option(False, "--up", help="Thumbs up."),
        down: bool = typer.Option(False, "--down", help="Thumbs down."),
        correct: bool = typer.Option(False, "--correct", help="An evaluation found it correct."),
        incorrect: bool = typer.Option(False, "--incorrect",
                                       help="An evaluation found it incorrect."),
        correction: str | None = typer.Option(None, "--correction",
                                              help="What the answer should have said."),
        note: str = typer.Option("", "--note", help="Free text kept with the feedback.")) -> None:
    """Record one piece of feedback (model switches are recorded automatically)."""
    chosen = [(k, v) for k, v, on in (("vote", "up", up), ("vote", "down", down),
                                      ("eval", "correct", correct), ("eval", "incorrect", incorrect),
                                      ("correction", correction or "", correction is not None)) if on]
    if len(chosen) != 1:
        raise InvalidInputError("give exactly one of --up, --down, --correct, --incorrect, "
                                "--correction TEXT")
    kind, value = chosen[0]
    item = feedback.record(STATE.runtime, STATE.principal, request_id, kind, value, note)
    typer.echo(f"recorded {item.kind} {item.value!r} on {item.request_id}")


@app.command("list")
def list_(request_id: str | None = typer.Option(None, "--request", help="Only this request."),
          limit: int = typer.Option(50, "--limit", min=1, help="Most recent N.")) -> None:
    """Recent feedback, newest first."""
    items = feedback.recent(STATE.runtime, STATE.principal, request_id, limit)
    for f in items:
        typer.echo(f"{f.created_at[:19]} {f.request_id} {f.kind:<10} {f.value[:60]!r} "
                   f"by {f.principal_id} {f.note}")
    if not items:
        typer.echo("no feedback")
