"""`charter config`: the settings, their values and where each came from."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from charter.cli.state import STATE
from charter.core.config import SETTINGS
from charter.core.config import mask_url

app = typer.Typer(help="Inspect settings.", no_args_is_help=True)


def _shown(name: str, value: object, secret: bool) -> str:
    if secret and isinstance(value, str) and value:
        return mask_url(value)
    return str(value)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print every setting, its value, where the value came from, and its help."""
    settings = STATE.settings
    rows = [
        {"name": s.name, "env": s.env_var, "value": _shown(s.name, settings.values[s.name], s.secret),
         "source": settings.source(s.name), "help": s.help}
        for s in SETTINGS
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("setting", "value", "source", "help", show_lines=False)
    for r in rows:
        table.add_row(f"{r['name']}\n[dim]{r['env']}[/dim]", r["value"], r["source"], r["help"])
    Console(width=160).print(table)


@app.command("docs")
def docs() -> None:
    """Print the settings reference in Markdown (the source of docs/configuration.md)."""
    from charter.core.config import settings_markdown

    typer.echo(settings_markdown(), nl=False)
