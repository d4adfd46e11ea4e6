"""`charter serve`: the HTTP server (OpenAI-compatible API, Charter's API, web UI)."""

from __future__ import annotations

import typer

from charter.cli.state import STATE
from charter.services import accounts


def serve(host: str | None = typer.Option(None, "--host", help="Listen address (setting server_host)."),
          port: int | None = typer.Option(None, "--port", min=1, max=65535,
                                          help="Port (setting server_port)."),
          workers: int | None = typer.Option(None, "--workers", min=1,
                                             help="Worker processes (setting server_workers).")) -> None:
    """Run the HTTP server: OpenAI-compatible API, Charter API and web UI."""
    from charter.server.app import create_app
    from charter.server.launch import serve as run

    overrides = {k: v for k, v in (("server_host", host), ("server_port", port),
                                   ("server_workers", workers)) if v is not None}
    s = STATE.settings.with_overrides(**overrides) if overrides else STATE.settings
    rt = STATE.runtime  # open (and migrate) the database once, before workers start
    if not accounts.count_admins(rt):
        typer.secho("note: no admin user yet; create one with `charter users add ID --roles "
                    "admin`", err=True)
    typer.echo(f"Charter on http://{s.server_host}:{s.server_port} (OpenAI base URL: "
               f"http://{s.server_host}:{s.server_port}/v1)", err=True)
    run(s, create_app(s, rt) if s.server_workers <= 1 else None)
