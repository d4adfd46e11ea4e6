"""`charter users` and `charter keys`: accounts for the server (the first admin is made here)."""

from __future__ import annotations

import typer

from charter.cli.state import STATE
from charter.core.routes import TIER_FREE
from charter.services import accounts

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
        tier: str = typer.Option(TIER_FREE, "--tier", help="Quota tier."),
        name: str = typer.Option("", "--name", help="Display name."),
        key: bool = typer.Option(True, "--key/--no-key", help="Also create an API key.")) -> None:
    """Add a user (and, by default, print a new API key for them once)."""
    rt, me = STATE.runtime, STATE.principal
    user = accounts.add_user(rt, me, user_id, roles=_split(roles), clearance=clearance,
                             groups=_split(groups), tier=tier, display_name=name)
    typer.echo(f"added {user.id}: roles {','.join(user.roles)}, clearance {user.clearance}, "
               f"tier {user.tier}")
    if key:
        record, secret = accounts.create_key(rt, me, user.id, "created with the user")
        typer.echo(f"API key {record.id} (shown once, keep it safe):\n{secret}")


@users_app.command("list")
def list_() -> None:
    """List users."""
    users = accounts.list_users(STATE.runtime, STATE.principal)
    for u in users:
        typer.echo(f"{u.id:<30} {','.join(u.roles):<20} {u.clearance:<12} {u.tier:<6} "
                   f"groups {','.join(u.groups) or '-'}{'  DISABLED' if u.disabled else ''}")
    if not users:
        typer.echo("no users (add the first admin: `charter users add you@example.com --roles admin`)")


@users_app.command("disable")
def disable(user_id: str = typer.Argument(..., help="User id.")) -> None:
    """Disable a user: their keys stop working at once."""
    accounts.set_disabled(STATE.runtime, STATE.principal, user_id, True)
    typer.echo(f"disabled {user_id}")


@users_app.command("enable")
def enable(user_id: str = typer.Argument(..., help="User id.")) -> None:
    """Enable a disabled user again."""
    accounts.set_disabled(STATE.runtime, STATE.principal, user_id, False)
    typer.echo(f"enabled {user_id}")


@keys_app.command("create")
def create(user_id: str = typer.Argument(..., help="User the key belongs to."),
           name: str = typer.Option("", "--name", help="What the key is for.")) -> None:
    """Create a key; the secret is printed once and only its hash is stored."""
    record, secret = accounts.create_key(STATE.runtime, STATE.principal, user_id, name)
    typer.echo(f"API key {record.id} for {user_id} (shown once, keep it safe):\n{secret}")


@keys_app.command("list")
def keys_list(user_id: str | None = typer.Option(None, "--user", help="Only this user.")) -> None:
    """List keys (prefix only; the secret is never shown again)."""
    keys = accounts.list_keys(STATE.runtime, STATE.principal, user_id)
    for k in keys:
        state = f"revoked {k.revoked_at[:19]}" if k.revoked_at else "active"
        typer.echo(f"{k.id} {k.prefix}… {k.user_id:<30} {k.created_at[:19]} {state} {k.name}")
    if not keys:
        typer.echo("no keys")


@keys_app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="Key id (key_...).")) -> None:
    """Revoke a key: it stops working at once."""
    accounts.revoke_key(STATE.runtime, STATE.principal, key_id)
    typer.echo(f"revoked {key_id}")
