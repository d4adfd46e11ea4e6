"""`charter agents`: teams of agents run as durable workflows."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

from charter.agents.runs import Run
from charter.cli.state import STATE
from charter.services import agents as agent_service

app = typer.Typer(help="Multi-agent runs: teams, run, list, show, approve, resume.",
                  no_args_is_help=True)
console = Console(highlight=False)


def _budget(steps: int | None, tool_calls: int | None, tokens: int | None,
            seconds: float | None) -> dict[str, Any]:
    return {k: v for k, v in {"steps": steps, "tool_calls": tool_calls, "tokens": tokens,
                              "wall_seconds": seconds}.items() if v is not None}


STEPS = typer.Option(None, "--steps", help="Model calls the run may make.")
TOOL_CALLS = typer.Option(None, "--tool-calls", help="Tool calls, retries included.")
TOKENS = typer.Option(None, "--tokens", help="Prompt and completion tokens.")
SECONDS = typer.Option(None, "--seconds", help="Seconds the run's steps may take.")


def describe(step: dict[str, Any]) -> str:
    """One line per step, as the live view and `show` print it."""
    kind = step.get("kind", "?")
    ms = f"{step.get('seconds', 0) * 1000:,.0f} ms" if "seconds" in step else ""
    if kind == "model":
        text = " ".join((step.get("text") or step.get("reason") or "").split())
        return (f"[{step['step']:>3}] {step.get('agent')}: model ({step.get('action')}, "
                f"{step.get('tokens', 0)} tokens, {ms}) {text[:100]}")
    if kind == "tool":
        result = " ".join((step.get("result") or "").split())
        flag = " reconcile" if step.get("reconcile") else ""
        return (f"[{step['step']:>3}] {step.get('agent')}: {step.get('tool')}"
                f"({json.dumps(step.get('args'))[:60]}) {ms}{flag} -> {result[:80]}")
    if kind == "screen":
        return f"[{step['step']:>3}] charter on the tool call: {step.get('action')}"
    if kind == "approval":
        return f"[{step['step']:>3}] approval asked for {step.get('tool')}: {step.get('why')}"
    if kind == "wait":
        return f"[{step['step']:>3}] waiting on a review: {step.get('state')}"
    return f"[{step.get('step', '?'):>3}] {step.get('name')}"


def _print(run: Run) -> None:
    s = run.spent
    console.print(f"run {run.id} ({run.team.spec.name}, {run.team.spec.mode}): "
                  f"[bold]{run.status}[/bold]" + (f" - {run.note}" if run.note else ""))
    console.print(f"spent: {s.steps} steps, {s.tool_calls} tool calls, {s.tokens:,} tokens, "
                  f"{s.seconds:.1f} s", style="dim")
    if run.waiting:
        w = run.waiting
        console.print(f"waiting for approval of {w.get('tool') or w.get('review_id')}: "
                      f"{w.get('why', '')}; `charter agents approve {run.id}` or --reject")
    if run.answer:
        console.print(f"\n{run.answer}")


@app.command("teams")
def teams_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The teams that can be run (built-in, and those of CHARTER_AGENTS_FILE)."""
    declared = agent_service.teams(STATE.runtime)
    if as_json:
        typer.echo(declared.model_dump_json(indent=2))
        return
    for t in declared.teams.values():
        typer.echo(f"{t.name:<12} {t.mode:<12} {', '.join(t.members)}: {t.description}")


@app.command("run")
def run(team: str = typer.Argument(..., help="Team name (see `charter agents teams`)."),
        task: str = typer.Argument(..., help="What the team should do."),
        steps: int | None = STEPS, tool_calls: int | None = TOOL_CALLS,
        tokens: int | None = TOKENS, seconds: float | None = SECONDS,
        as_json: bool = typer.Option(False, "--json", help="Print the run and its steps "
                                     "as JSON at the end.")) -> None:
    """Run a team on a task here, showing each step as it completes. Interrupted, the
    run stays resumable: `charter agents resume RUN`."""
    rt, me = STATE.runtime, STATE.principal
    started = agent_service.start(rt, me, team, task,
                                  budget=_budget(steps, tool_calls, tokens, seconds))
    if not as_json:
        console.print(f"run {started.id} started", style="dim")
    done = agent_service.wait(rt, me, started.id,
                              on_step=None if as_json else
                              (lambda s: console.print(describe(s), markup=False)))
    if as_json:
        typer.echo(json.dumps({**done.summary(), "steps": agent_service.steps(rt, me, done.id)},
                              indent=2))
        return
    _print(done)


@app.command("list")
def list_(everyone: bool = typer.Option(False, "--all", help="Everyone's runs (admins)."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Your runs, newest first."""
    found = agent_service.list_runs(STATE.runtime, STATE.principal, everyone=everyone)
    if as_json:
        typer.echo(json.dumps([r.summary() for r in found], indent=2))
        return
    for r in found:
        typer.echo(f"{r.id} {r.status:<20} {r.created_at[:19]} {r.team.spec.name}: "
                   f"{r.task[:60]}")
    if not found:
        typer.echo("no runs")


@app.command("show")
def show(run_id: str = typer.Argument(..., help="Run id."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """A run, its steps, tool calls, tokens and time."""
    rt, me = STATE.runtime, STATE.principal
    found = agent_service.get(rt, me, run_id)
    steps = agent_service.steps(rt, me, run_id)
    if as_json:
        typer.echo(json.dumps({**found.summary(), "steps": steps}, indent=2))
        return
    for s in steps:
        console.print(describe(s), markup=False)
    _print(found)


@app.command("waiting")
def waiting(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Tool calls waiting for a person's approval (reviewers)."""
    found = agent_service.waiting(STATE.runtime, STATE.principal)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    for w in found:
        typer.echo(f"{w['run_id']} {w['tool']}({json.dumps(w['arguments'])[:80]}) by "
                   f"{w['principal_id']}: {w['why']}")
    if not found:
        typer.echo("no tool call is waiting")


@app.command("approve")
def approve(run_id: str = typer.Argument(..., help="Run id."),
            reject: bool = typer.Option(False, "--reject", help="Reject the call instead."),
            note: str = typer.Option("", "--note", help="Why.")) -> None:
    """Approve (or reject) the tool call a run waits on; the run goes on here."""
    rt, me = STATE.runtime, STATE.principal
    r = agent_service.approve(rt, me, run_id, approve=not reject, note=note, then="here")
    console.print(f"{'rejected' if reject else 'approved'} the call of {r.id}", style="dim")
    _print(agent_service.wait(rt, me, run_id,
                              on_step=lambda s: console.print(describe(s), markup=False)))


@app.command("resume")
def resume(run_id: str = typer.Argument(..., help="Run id."),
           steps: int | None = STEPS, tool_calls: int | None = TOOL_CALLS,
           tokens: int | None = TOKENS, seconds: float | None = SECONDS) -> None:
    """Continue a run from its last completed step (with a larger budget when it ran
    out); completed steps are not made again."""
    rt, me = STATE.runtime, STATE.principal
    agent_service.resume(rt, me, run_id, budget=_budget(steps, tool_calls, tokens, seconds))
    _print(agent_service.wait(rt, me, run_id,
                              on_step=lambda s: console.print(describe(s), markup=False)))


@app.command("reconcile")
def reconcile(run_id: str = typer.Argument(..., help="Run id."),
              took_effect: bool = typer.Option(..., "--took-effect/--no-effect",
                                               help="Whether the interrupted call took effect."),
              result: str = typer.Option("", "--result", help="Its outcome, if it did.")) -> None:
    """Settle an irreversible tool call that began and never finished, then `resume`."""
    r = agent_service.reconcile(STATE.runtime, STATE.principal, run_id,
                                took_effect=took_effect, result=result)
    typer.echo(f"reconciled {r.id}; continue with `charter agents resume {r.id}`")


@app.command("cancel")
def cancel(run_id: str = typer.Argument(..., help="Run id.")) -> None:
    """Stop a run that is queued, running or waiting."""
    r = agent_service.cancel(STATE.runtime, STATE.principal, run_id)
    typer.echo(f"{r.id}: {r.status}")
