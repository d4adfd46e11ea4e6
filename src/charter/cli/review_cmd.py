"""`charter review`: the queue of requests the charter held for a human decision."""

from __future__ import annotations

import json

import typer

from charter.cli.state import STATE
from charter.services import reviews as review_service

app = typer.Typer(help="Held requests: list, show, approve, reject.", no_args_is_help=True)


@app.command("list")
def list_(state: str | None = typer.Option("pending", "--state",
                                           help="pending, approved, rejected, or '' for all."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List reviews (pending ones by default)."""
    reviews = review_service.list_reviews(STATE.runtime, STATE.principal, state)
    if as_json:
        typer.echo(json.dumps([review_service.public(r, STATE.principal) for r in reviews], indent=2))
        return
    for r in reviews:
        typer.echo(f"{r.id} {r.state:<8} {r.created_at[:19]} {r.category or '-'} "
                   f"(charter v{r.policy_version}) {r.principal_id}: {r.question_redacted[:80]}")
    if not reviews:
        typer.echo("no reviews")


@app.command("show")
def show(review_id: str = typer.Argument(..., help="Review id.")) -> None:
    """Show one review and, once approved, its answer."""
    r = review_service.get(STATE.runtime, STATE.principal, review_id)
    typer.echo(f"review {r.id}: {r.state}")
    typer.echo(f"asked by {r.principal_id} at {r.created_at}; held as {r.category} ({r.tier}) "
               f"under charter v{r.policy_version}")
    typer.echo(f"question: {r.question_redacted}")
    if r.state != "pending":
        typer.echo(f"decided by {r.reviewer} at {r.decided_at}: {r.note}")
    if r.answer is not None and r.principal_id == STATE.principal.id:
        typer.echo(f"\nanswer:\n{r.answer}")  # the asker's: reviewers see the decision only
    elif r.answer is not None:
        typer.echo("answered (the answer is the asker's to read)")


@app.command("approve")
def approve(review_id: str = typer.Argument(..., help="Review id."),
            note: str = typer.Option(..., "--note", help="Why it may be answered.")) -> None:
    """Approve a held request: it is answered now and the answer kept for the asker."""
    r = review_service.decide(STATE.runtime, STATE.principal, review_id, approve=True,
                              note=note)
    typer.echo(f"approved {r.id}; answer stored for {r.principal_id}")


@app.command("reject")
def reject(review_id: str = typer.Argument(..., help="Review id."),
           note: str = typer.Option(..., "--note", help="Why it may not be answered.")) -> None:
    """Reject a held request: it is never answered."""
    r = review_service.decide(STATE.runtime, STATE.principal, review_id, approve=False,
                              note=note)
    typer.echo(f"rejected {r.id}")
