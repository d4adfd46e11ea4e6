"""`charter users` and `charter keys`: accounts for the server (the first admin is made here)."""

from __future__ import annotations

import typer

from charter.cli.state import STATE

users_app = typer.Typer(help="Server users: add, list, disable, enable.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@users_app.command("add")
def add(user_id: str = typer.Argument(..., help="User id, e.g. an email address."),
        roles: str = typer.Option("user", "--roles", help="Comma-separated: user, reviewer, admin."),
        clearance: str = typer.Option("internal", "--clearance",
                                      help="public, internal, confidential or restricted."),
        groups: str = typer.Option("", "--groups", help="Comma-separated groups, e.g. hr,legal."),
        tier: str = typer.Option("free", "--tier", help="Quota tier."),
        name: str = typer.Option("", "--name", help="Display name."),
        key: bool = typer.Option(True, "--key/--no-key", help="Also create an API key.")) -> None:
    """Add a user (and, by default, print a new API key for them once)."""
    acc = STATE.runtime.accounts
    user = acc.add_user(user_id, roles=_split(roles), clearance=clearance, groups=_split(groups),
                        tier=tier, display_name=name)
    typer.echo(f"added {user.id}: roles {','.join(user.roles)}, clearance {user.clearance}, "
               f"tier {user.tier}")
    if key:
        record, secret = acc.create_key(user.id, "created with the user")
        typer.echo(f"API key {record.id} (shown once, keep it safe):\n{secret}")


@users_app.command("list")
def list_() -> None:
    """List users."""
    users = STATE.runtime.accounts.list_users()
    for u in users:
        typer.echo(f"{u.id:<30} {','.join(u.roles):<20} {u.clearance:<12} {u.tier:<6} "
                   f"groups {','.join(u.groups) or '-'}{'  DISABLED' if u.disabled else ''}")
    if not users:
        typer.echo("no users (add the first admin: `charter users add you@example.com --roles admin`)")


@users_app.command("disable")
def disable(user_id: str = typer.Argument(..., help="User id.")) -> None:
    """Disable a user: their keys stop working at once."""
    STATE.runtime.accounts.set_disabled(user_id, True)
    typer.echo(f"disabled {user_id}")


@users_app.command("enable")
def enable(user_id: str = typer.Argument(..., help="User id.")) -> None:
    """Enable a disabled user again."""
    STATE.runtime.accounts.set_disabled(user_id, False)
    typer.echo(f"enabled {user_id}")


@keys_app.command("create")
def create(user_id: str = typer.Argument(..., help="User the key belongs to."),
           name: str = typer.Option("", "--name", help="What the key is for.")) -> None:
    """Create a key; the secret is printed once and only its hash is stored."""
    record, secret = STATE.runtime.accounts.create_key(user_id, name)
    typer.echo(f"API key {record.id} for {user_id} (shown once, keep it safe):\n{secret}")


@keys_app.command("list")
def keys_list(user_id: str | None = typer.Option(None, "--user", help="Only this user.")) -> None:
    """List keys (prefix only; the secret is never shown again)."""
    keys = STATE.runtime.accounts.list_keys(user_id)
    for k in keys:
        state = f"revoked {k.revoked_at[:19]}" if k.revoked_at else "active"
        typer.echo(f"{k.id} {k.prefix}… {k.user_id:<30} {k.created_at[:19]} {state} {k.name}")
    if not keys:
        typer.echo("no keys")


@keys_app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="Key id (key_...).")) -> None:
    """Revoke a key: it stops working at once."""
    STATE.runtime.accounts.revoke_key(key_id)
    typer.echo(f"revoked {key_id}")


def serve(host: str | None = typer.Option(None, "--host", help="Listen address (setting server_host)."),
          port: int | None = typer.Option(None, "--port", min=1, max=65535,
                                          help="Port (setting server_port)."),
          workers: int | None = typer.Option(None, "--workers", min=1,
                                             help="Worker processes (setting server_workers).")) -> None:
    """Run the HTTP server: OpenAI-compatible API, Charter API and web UI."""
    import uvicorn

    s = STATE.settings
    overrides = {k: v for k, v in (("server_host", host), ("server_port", port),
                                   ("server_workers", workers)) if v is not None}
    s = s.with_overrides(**overrides) if overrides else s
    STATE.runtime  # open (and migrate) the database once, before workers start
    if not STATE.runtime.accounts.count_admins():
        typer.secho("note: no admin user yet; create one with `charter users add ID --roles "
                    "admin`", err=True)
    typer.echo(f"Charter on http://{s.server_host}:{s.server_port} (OpenAI base URL: "
               f"http://{s.server_host}:{s.server_port}/v1)", err=True)
    access = s.log_level in ("debug", "info")  # one line per request: the audit log has more
    if s.server_workers > 1:
        import os

        for name in ("database_url", "data_dir"):
            os.environ[f"CHARTER_{name.upper()}"] = str(getattr(s, name))
        uvicorn.run("charter.server.main:app", host=s.server_host, port=s.server_port,
                    workers=s.server_workers, log_level=s.log_level, access_log=access)
    else:
        from charter.server.app import create_app

        uvicorn.run(create_app(s, STATE.runtime), host=s.server_host, port=s.server_port,
                    log_level=s.log_level, access_log=access)
