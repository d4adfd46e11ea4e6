"""`charter models`: model aliases (list, add, remove, test)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from charter.cli.state import STATE
from charter.core.aliases import AliasConfig
from charter.core.errors import InvalidInputError
from charter.services import models

app = typer.Typer(help="Model aliases: names that map to a backend, a model and options.",
                  no_args_is_help=True)


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the aliases."""
    aliases = models.list_aliases(STATE.runtime, STATE.principal)
    if as_json:
        typer.echo(json.dumps([a.__dict__ for a in aliases], indent=2))
        return
    table = Table("alias", "kind", "backend", "model", "options", "version")
    for a in aliases:
        table.add_row(a.name, a.kind, a.backend, a.model or "-",
                      json.dumps(a.options) if a.options else "-", str(a.version))
    Console(width=160).print(table)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Alias name, e.g. fast, thinking, pro, mini, local."),
    backend: str = typer.Option(..., "--backend", "-b",
                                help="Backend: llamacpp, openai_compat, extractive, scripted, "
                                     "sentence_transformers (embeddings) or a plugin's."),
    model: str = typer.Option("", "--model", "-m",
                              help="Model: a .gguf path or 'packaged' for llamacpp; the server's "
                                   "model name for openai_compat."),
    base_url: str | None = typer.Option(None, "--base-url", help="openai_compat: server URL "
                                        "ending in /v1."),
    api_key_env: str | None = typer.Option(None, "--api-key-env",
                                           help="openai_compat: NAME of the environment "
                                                "variable holding the API key (never the key)."),
    kind: str = typer.Option("chat", "--kind", help="chat or embedding."),
    sets: list[str] = typer.Option([], "--set", help="Backend option KEY=VALUE (repeatable), "
                                   "e.g. --set temperature=0.2 --set max_tokens=512."),
    replace: bool = typer.Option(False, "--replace", help="Replace an existing alias."),
) -> None:
    """Add (or with --replace, change) an alias. Options are checked against the backend."""
    if kind not in ("chat", "embedding"):
        raise InvalidInputError(f"--kind must be chat or embedding, not {kind!r}")
    options = _parse_sets(sets)
    if base_url is not None:
        options["base_url"] = base_url
    if api_key_env is not None:
        options["api_key_env"] = api_key_env
    alias = AliasConfig(name, backend, model, options, kind=kind)  # type: ignore[arg-type]
    saved = models.add_alias(STATE.runtime, STATE.principal, alias, replace=replace)
    typer.echo(f"alias '{saved.name}' -> {saved.backend} {saved.model or ''} (version {saved.version})")


@app.command("remove")
def remove(name: str = typer.Argument(..., help="Alias to remove.")) -> None:
    """Remove an alias."""
    models.remove_alias(STATE.runtime, STATE.principal, name)
    typer.echo(f"removed alias '{name}'")


@app.command("test")
def test(
    name: str = typer.Argument(..., help="Alias to test."),
    prompt: str = typer.Option("Say hello in one short sentence.", "--prompt",
                               help="What to send."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Send one request to an alias and report latency and tokens."""
    report: dict[str, Any] = models.test_alias(STATE.runtime, STATE.principal, name, prompt)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"{name}: ok in {report['latency_ms']} ms (load {report['load_ms']} ms) "
               f"via {report['backend']} {report['model']}")
    if "reply" in report:
        typer.echo(f"tokens: {report['prompt_tokens']} prompt + {report['completion_tokens']} "
                   f"completion")
        typer.echo(f"reply: {report['reply']}")
    else:
        typer.echo(f"dimension: {report['dimension']}")
