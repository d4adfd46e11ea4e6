"""`charter init`: database, migrations and default aliases."""

from __future__ import annotations

import typer

from charter.cli.state import STATE
from charter.services import models, setup


def init(
    skip_models: bool = typer.Option(False, "--skip-models",
                                     help="Do not prepare the packaged GGUF model file."),
) -> None:
    rt = STATE.runtime
    added = setup.init(rt)
    current = setup.revision(rt)
    typer.echo(f"database: {rt.settings.resolved_database_url.split('://')[0]} at schema {current}")
    names = ", ".join(a.name for a in models.list_aliases(rt, STATE.principal))
    typer.echo(f"model aliases: {names}" + (f" (added now: {', '.join(added)})" if added else ""))
    if not skip_models:
        from charter.backends.llamacpp import packaged_model_path

        typer.echo(f"packaged model: {packaged_model_path()}")
    typer.echo("ready: try `charter ask --model local \"Write two sentences about audit trails.\"`")
