"""`charter router`: train, evaluate, list, activate and roll back the learned router."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from charter.cli.state import STATE
from charter.services import routing

app = typer.Typer(help="The learned router: train, eval, list, activate, rollback.",
                  no_args_is_help=True)


def _progress(label: str):  # type: ignore[no-untyped-def]
    def report(done: int, total: int) -> None:
        typer.echo(f"\r{label}: {done}/{total}", nl=done >= total, err=True)
    return report


@app.command("train")
def train_(
    data: Path | None = typer.Option(None, "--data", help="Outcome data: a folder of CSVs "
                                     "(prompt, weak correct, strong correct) or one CSV; only "
                                     "its train split is used."),
    use_feedback: bool = typer.Option(True, "--feedback/--no-feedback",
                                      help="Add the feedback recorded by Charter."),
    feedback_weight: float = typer.Option(3.0, "--feedback-weight", min=0.0,
                                          help="Weight of one feedback sample against one "
                                               "outcome row."),
    deep_share: float | None = typer.Option(None, "--deep-share", min=0.0, max=1.0,
                                            help="Calibrate the threshold to send this share "
                                                 "of requests to the deeper path (default 0.3)."),
    quality: float | None = typer.Option(None, "--quality", min=0.01, max=1.0,
                                         help="Calibrate to the smallest deep share reaching "
                                              "this fraction of strong-only accuracy."),
    note: str = typer.Option("", "--note", help="Why this version was trained."),
    activate: bool = typer.Option(True, "--activate/--no-activate",
                                  help="Make the new version the active router."),
) -> None:
    """Train a router version from outcome data and recorded feedback."""
    version, report = routing.train_version(
        STATE.runtime, STATE.principal, data=data, use_feedback=use_feedback,
        feedback_weight=feedback_weight, deep_share=deep_share, quality=quality, note=note,
        activate=activate, progress=_progress("embedding"))
    typer.echo(f"router v{version}: {report.samples} samples ({report.feedback_samples} from "
               f"feedback), threshold {report.model.threshold:.3f} "
               f"({report.model.meta['calibration']})" + (", active" if activate else ""))
    if report.validation.get("n"):
        typer.echo(f"validation: {json.dumps(report.validation)}")


@app.command("eval")
def eval_(
    data: Path = typer.Option(..., "--data", help="Outcome data (folder or one CSV); only its "
                              "test split is used, which training never sees."),
    version: int | None = typer.Option(None, "--version", help="Router version (default: active)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Quality against strong-model share, APGR, CPT(50%/80%), cost saving at 95%."""
    version, result = routing.evaluate(STATE.runtime, STATE.principal, data, version,
                                       progress=None if as_json else _progress("embedding"))
    if as_json:
        typer.echo(json.dumps({k: v for k, v in result.items() if k != "sweep"}))
        return
    typer.echo(f"router v{version} on {result['n']} held-out prompts (weak {result['weak_accuracy']}, "
               f"strong {result['strong_accuracy']})")
    typer.echo("strong share  accuracy  recovered")
    for row in result["sweep"]:
        typer.echo(f"{row['strong_share']:>11.0%}  {row['accuracy']:>8.4f}  {row['pgr']:>9.3f}")
    for name in ("router", "random", "oracle"):
        s = result if name == "router" else result[name]
        typer.echo(f"{name:<7} APGR {s['apgr']}  CPT(50%) {s['cpt50']}  CPT(80%) {s['cpt80']}  "
                   f"cost saving at 95% {s['cost_saving_at_95']}")
    t = result["at_threshold"]
    typer.echo(f"at the calibrated threshold {t['threshold']}: strong share {t['strong_share']}, "
               f"accuracy {t['accuracy']}")
    typer.echo(f"routing time p50 {result['route_p50_ms']} ms (embedding reused from screening)")


@app.command("list")
def list_() -> None:
    """Trained router versions; * marks the active one."""
    versions, active = routing.versions(STATE.runtime, STATE.principal)
    for v in versions:
        mark = "*" if v.version == active else " "
        cal = v.meta.get("calibration")
        counts = v.meta.get("counts", {})
        typer.echo(f"{mark} v{v.version} {v.created_at[:19]} by {v.author}: "
                   f"{counts.get('samples')} samples ({counts.get('feedback')} feedback), "
                   f"threshold {v.meta.get('threshold'):.3f} {cal} {v.note}")
    if not versions:
        typer.echo("no router trained yet (`charter router train --data DIR`)")


@app.command("activate")
def activate_(version: int = typer.Argument(..., help="Router version to make active.")) -> None:
    """Point the active router at a version."""
    routing.activate(STATE.runtime, STATE.principal, version)
    typer.echo(f"router v{version} is active")


@app.command("rollback")
def rollback() -> None:
    """Go back to the version that was active before the current one."""
    previous = routing.rollback(STATE.runtime, STATE.principal)
    typer.echo(f"router v{previous} is active again" if previous else
               "no router is active now (rules and conversation features decide)")
