"""`charter finetune`: train Charter's judgement models from the packaged encoder, and
manage their versions (list, activate, rollback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from charter.cli.state import STATE
from charter.judgement.train import TrainConfig
from charter.services import judgement

app = typer.Typer(help="Charter's own judgement models: train (answerability, charter, pii), list, "
                       "activate, rollback.", no_args_is_help=True)

SHIP = Path(__file__).resolve().parents[1] / "judgement" / "models"


def _config(freeze: int, depth: int, epochs: int, seed: int, learning_rate: float,
            batch_size: int, patience: int) -> TrainConfig:
    from charter.core.errors import InvalidInputError

    if not 0 <= freeze <= depth <= 6:
        raise InvalidInputError(f"need 0 <= --freeze ({freeze}) <= --depth ({depth}) <= 6")
    return TrainConfig(freeze=freeze, depth=depth, epochs=epochs, seed=seed,
                       learning_rate=learning_rate, batch_size=batch_size, patience=patience)


def _train(task: str, data: Path, config: TrainConfig, note: str, activate: bool,
           ship: bool, out: Path | None, as_json: bool, **options: Any) -> None:
    folder = SHIP / task if ship else out
    version, artifact, summary = judgement.train(
        STATE.runtime, STATE.principal, task, data, config, note=note, activate=activate,
        ship=folder, progress=not as_json, options=options)
    if as_json:
        typer.echo(json.dumps({"task": task, "version": version, "sha256": artifact.sha256,
                               **summary}))
        return
    typer.echo(f"{task} v{version} ({len(artifact.to_bytes()) / 1e6:.1f} MB)"
               + (", active" if activate else "") + (f"; written to {folder}" if folder else ""))
    test = summary.get("test", {})
    for name in ("before", "after"):
        typer.echo(f"test {name}: {json.dumps(test.get(name, {}))}")
    t = summary["training"]
    typer.echo(f"trained in {t['seconds']} s, peak memory {t['peak_rss_mb']} MB")


def _freeze(default: int) -> Any:
    return typer.Option(default, "--freeze", min=0, max=6,
                        help="Lower encoder layers kept as packaged.")


def _depth(default: int) -> Any:
    return typer.Option(default, "--depth", min=1, max=6,
                        help="Encoder layers used (fewer: cheaper).")


def _epochs(default: int, every: bool = False) -> Any:
    return typer.Option(default, "--epochs", min=1, max=50,
                        help="Epochs (every one runs; --patience does not apply)." if every
                        else "Most epochs (early stopping may end sooner).")


def _lr(default: float) -> Any:
    return typer.Option(default, "--learning-rate", min=1e-7, max=1e-2,
                        help="Peak learning rate.")


# Each task's defaults are the configuration its shipped model was trained with.
SEED = typer.Option(13, "--seed", help="Seed for initialisation and shuffling.")
BATCH = typer.Option(32, "--batch-size", min=1, max=512, help="Examples per step.")
def _patience(default: int) -> Any:
    return typer.Option(default, "--patience", min=0, max=10,
                        help="Epochs without a better validation metric before stopping.")


PATIENCE = _patience(1)
NOTE = typer.Option("", "--note", help="Why this version was trained.")
ACTIVATE = typer.Option(True, "--activate/--no-activate", help="Make the new version active.")
SHIP_OPT = typer.Option(False, "--ship", help="Also write the artifact and its card into the "
                        "package (how the shipped defaults are made; source checkouts only).")
OUT = typer.Option(None, "--out", help="Also write the artifact (model.safetensors) and its "
                   "card (CARD.md) into this folder.")
JSON = typer.Option(False, "--json", help="Print the summary as JSON.")


@app.command("answerability")
def answerability(
    data: Path = typer.Option(Path("../shared/data/answerability"), "--data",
                              help="SQuAD 2.0 JSON (or its folder)."),
    freeze: int = _freeze(3), depth: int = _depth(5), epochs: int = _epochs(3),
    seed: int = SEED, learning_rate: float = _lr(5e-5), batch_size: int = BATCH,
    patience: int = PATIENCE, note: str = NOTE, activate: bool = ACTIVATE,
    ship: bool = SHIP_OPT, out: Path | None = OUT, as_json: bool = JSON,
) -> None:
    """Train the answerability cross-encoder the extractive composer decides with."""
    _train("answerability", data, _config(freeze, depth, epochs, seed, learning_rate,
                                          batch_size, patience), note, activate, ship, out,
           as_json)


@app.command("charter")
def charter_(
    data: Path = typer.Option(Path("../shared/data"), "--data",
                              help="Folder holding safety/, router/mmlu/, answerability/, "
                              "scifact/, pii/ and injection/."),
    freeze: int = _freeze(5), depth: int = _depth(6), epochs: int = _epochs(10, every=True),
    seed: int = SEED, learning_rate: float = _lr(5e-4), batch_size: int = BATCH,
    patience: int = PATIENCE, note: str = NOTE, activate: bool = ACTIVATE,
    ship: bool = SHIP_OPT, out: Path | None = OUT, as_json: bool = JSON,
    holdout: str = typer.Option("strongreject", "--holdout",
                                help="The public harmful set kept out of training as the "
                                "test: harmbench, advbench or strongreject (the other two "
                                "train)."),
) -> None:
    """Train the charter classifier the policy screen decides with (harmful or not, and
    which category). Every epoch runs; validation (benign sources only) sets the flag
    threshold."""
    from charter.judgement.tasks.charter import check_holdout

    check_holdout(holdout)
    _train("charter", data, _config(freeze, depth, epochs, seed, learning_rate, batch_size,
                                    patience), note, activate, ship, out, as_json,
           holdout=holdout)


@app.command("pii")
def pii_(
    data: Path = typer.Option(Path("../shared/data/pii/presidio_synth_dev.json"), "--data",
                              help="Presidio's synthetic PII sentences (research JSON with "
                              "full_text, masked, spans and template_id), or its folder."),
    freeze: int = _freeze(3), depth: int = _depth(6), epochs: int = _epochs(7),
    seed: int = SEED, learning_rate: float = _lr(3e-4), batch_size: int = BATCH,
    patience: int = _patience(3), note: str = NOTE, activate: bool = ACTIVATE,
    ship: bool = SHIP_OPT, out: Path | None = OUT, as_json: bool = JSON,
) -> None:
    """Train the PII model (names, street addresses, places, organisations, dates) the
    PII detector runs beside its pattern recognizers. Split by template: id mod 5 = 0
    validation (epoch and per-entity thresholds), 1 test, the rest training."""
    _train("pii", data, _config(freeze, depth, epochs, seed, learning_rate, batch_size,
                                patience), note, activate, ship, out, as_json)


@app.command("list")
def list_(task: str | None = typer.Argument(None, help="Only this task.")) -> None:
    """Trained versions per task; * marks the active one (none: the shipped model)."""
    rt = STATE.runtime
    rows = judgement.versions(rt, STATE.principal, task)
    for v in rows:
        mark = "*" if judgement.active(rt, STATE.principal, v.task) == v.version else " "
        test = v.meta.get("metrics", {}).get("test", {}).get("after", {})
        typer.echo(f"{mark} {v.task} v{v.version} {v.created_at[:19]} by {v.author} "
                   f"{v.sha256[:12]} test {json.dumps(test)} {v.note}")
    if not rows:
        typer.echo("no trained versions: the shipped models serve")


@app.command("activate")
def activate_(task: str = typer.Argument(..., help="Task."),
              version: int = typer.Argument(..., help="Version to make active.")) -> None:
    """Point a task at one of its versions."""
    judgement.activate(STATE.runtime, STATE.principal, task, version)
    typer.echo(f"{task} v{version} is active")


@app.command("rollback")
def rollback(task: str = typer.Argument(..., help="Task.")) -> None:
    """Back to the version active before the current one (or the shipped model)."""
    previous = judgement.rollback(STATE.runtime, STATE.principal, task)
    typer.echo(f"{task} v{previous} is active again" if previous else
               f"the shipped {task} model serves again")
