"""`charter policy`: the charter's versions (show, list, diff, validate, propose, approve)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import typer

from charter.cli.state import STATE
from charter.core.errors import InvalidInputError
from charter.core.principal import as_actor
from charter.services import policies

app = typer.Typer(help="The AI charter: policy as code, versioned and approved.",
                  no_args_is_help=True)


def _read(path: Path) -> str:
    if not path.is_file():
        raise InvalidInputError(f"{path} not found; give the path of a charter YAML file")
    return path.read_text()


@app.command("show")
def show(number: int | None = typer.Argument(None, help="Version (default: the approved one)."),
         as_json: bool = typer.Option(False, "--json", help="Print the parsed charter as JSON.")) -> None:
    """Print a charter version's YAML (the enforced one by default)."""
    version = policies.get(STATE.runtime, STATE.principal, number)
    if as_json:
        typer.echo(policies.validate(version.yaml).model_dump_json(indent=2))
        return
    typer.echo(f"# charter version {version.number} ({version.state}) by {version.author}: "
               f"{version.note}")
    typer.echo(version.yaml, nl=False)


@app.command("list")
def list_() -> None:
    """List charter versions with their state."""
    for v in policies.versions(STATE.runtime, STATE.principal):
        approved = f", approved by {v.approved_by} {v.approved_at[:10]}" if v.approved_at else ""
        typer.echo(f"v{v.number:<3} {v.state:<9} {v.created_at[:10]} by {v.author}{approved}: {v.note}")


@app.command("diff")
def diff(a: int = typer.Argument(..., help="Older version."),
         b: int = typer.Argument(..., help="Newer version.")) -> None:
    """Show what changed between two versions."""
    typer.echo(policies.diff(STATE.runtime, STATE.principal, a, b) or "no differences")


@app.command("validate")
def validate(path: Path = typer.Argument(..., help="Charter YAML file.")) -> None:
    """Check a charter file against the schema without storing it."""
    charter = policies.validate(_read(path), str(path))
    typer.echo(f"valid: {charter.name}: {len(charter.categories)} categories, "
               f"{len(charter.benign_examples)} benign examples")


@app.command("propose")
def propose(path: Path = typer.Argument(..., help="Charter YAML file."),
            note: str = typer.Option(..., "--note", help="What changes and why."),
            author: str = typer.Option(getpass.getuser(), "--author", help="Who proposes it.")) -> None:
    """Store a new draft version; it is enforced only once someone else approves it."""
    version = policies.propose(STATE.runtime, as_actor(STATE.principal, author), _read(path),
                               note)
    typer.echo(f"proposed charter v{version.number} (draft); approve with "
               f"`charter policy approve {version.number} --approver NAME`")


@app.command("approve")
def approve(number: int = typer.Argument(..., help="Draft version to enforce."),
            approver: str = typer.Option(..., "--approver",
                                         help="Who approves it (not the author).")) -> None:
    """Enforce a draft version; the previously approved one is retired."""
    policies.approve(STATE.runtime, as_actor(STATE.principal, approver), number)
    typer.echo(f"charter v{number} is now enforced")


@app.command("train-injection")
def train_injection(
    data: Path = typer.Option(..., "--data", help="Labelled texts (parquet or JSONL: text, label)."),
    negatives: Path | None = typer.Option(None, "--document-negatives",
                                          help="BEIR corpus.jsonl of ordinary documents to add "
                                               "as clean examples."),
    out: Path = typer.Option(Path(__file__).resolve().parents[1] / "policy" / "models" /
                             "injection_lr.npz", "--out", help="Where to write the weights."),
) -> None:
    """Train the injection classifier on the training split; the held-out split is kept apart."""
    from charter.policy.injection_train import document_negatives, load_labelled, split, train

    parts = split(load_labelled(data))
    rows = parts.train + (document_negatives(negatives) if negatives else [])
    stats = train(STATE.runtime.embedder(), rows, out)
    typer.echo(json.dumps({**stats, "held_out_rows": len(parts.test), "weights": str(out)}))
