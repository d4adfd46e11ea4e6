"""`charter eval`: run evaluation suites, keep the runs, compare them, gate on them."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from charter.cli.state import STATE
from charter.services import evaluation as service

app = typer.Typer(help="Evaluation suites: stored runs, comparisons and release gates.",
                  no_args_is_help=True)


@app.command("suites")
def suites() -> None:
    """The built-in suites (a suite file of your own runs the same way)."""
    from charter import evaluation

    for s in evaluation.suites():
        typer.echo(f"{s.name:<10} {s.scorer:<9} {s.description}")


@app.command("run")
def run(
    suite: str = typer.Argument(..., help="A built-in suite (see `charter eval suites`) or "
                                "a suite file (YAML: scorer, data, kb, description)."),
    target: str = typer.Option("", "--target", help="What to measure: a charter version "
                               "(policy), a route or alias (answers), comma-separated "
                               "routes (compound). Empty: what is served."),
    gate: Path | None = typer.Option(None, "--gate", help="YAML of thresholds, "
                                     "{suite: {metric: {min: x, max: y}}}: exit 1 when "
                                     "one fails."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run a suite, store the run with the versions it measured, and check a gate."""
    from charter import evaluation

    spec = evaluation.load_suite(suite)
    # A gate that cannot be read is refused before minutes of measuring, not after.
    bounds = evaluation.load_gate(gate, spec.name) if gate is not None else None
    measured = evaluation.measure(STATE.runtime, STATE.principal, spec, target, bounds)
    stored, metrics, versions = measured.run, measured.metrics, measured.versions
    failed = measured.gate_failed
    if as_json:
        typer.echo(json.dumps({"id": stored.id, "suite": spec.name, "target": target,
                               "metrics": metrics, "versions": versions,
                               "mlflow_run": measured.mlflow_run,
                               "gate_failed": failed}))
    else:
        typer.echo(f"{stored.id}  {spec.name} ({spec.scorer}) target {target or 'served'}")
        if measured.mlflow_run:
            typer.echo(f"  logged to MLflow as run {measured.mlflow_run}")
        for name, value in sorted(metrics.items()):
            typer.echo(f"  {name:<32} {value:g}")
        if gate is not None:
            typer.echo("gate: " + ("passed" if not failed else "FAILED"))
            for line in failed:
                typer.echo(f"  {line}")
    if failed:
        raise typer.Exit(1)


@app.command("list")
def list_(suite: str = typer.Option("", "--suite", help="Only runs of this suite."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Stored runs, newest first."""
    runs = service.list_runs(STATE.runtime, STATE.principal, suite or None)
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in runs]))
        return
    for r in runs:
        typer.echo(f"{r.id}  {r.created_at[:19]}  {r.suite:<10} target {r.target or 'served':<12} "
                   f"charter v{r.versions.get('charter', {}).get('version')}  {len(r.metrics)} "
                   "metrics")


@app.command("show")
def show(run_id: str = typer.Argument(..., help="An evaluation run id.")) -> None:
    """A run's metrics and the versions it measured."""
    r = service.get(STATE.runtime, STATE.principal, run_id)
    typer.echo(json.dumps(r.__dict__, indent=2, sort_keys=True))


@app.command("compare")
def compare(first: str = typer.Argument(..., help="The earlier run."),
            second: str = typer.Argument(..., help="The later run."),
            as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Each metric of two runs of one suite, and how it changed."""
    rows = service.compare(STATE.runtime, STATE.principal, first, second)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    typer.echo(f"{'metric':<32} {'first':>10} {'second':>10} {'change':>10}")
    for row in rows:
        cells = ["-" if row[k] is None else f"{row[k]:g}" for k in ("first", "second", "change")]
        typer.echo(f"{row['metric']:<32} {cells[0]:>10} {cells[1]:>10} {cells[2]:>10}")
