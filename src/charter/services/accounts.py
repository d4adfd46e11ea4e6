"""Users and API keys: authenticate, add, list, disable and enable users; create, list
and revoke keys. Managing users needs the admin role; anyone manages their own keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from charter.accounts import ApiKey, User, hash_key
from charter.core.errors import InvalidInputError
from charter.core.principal import Principal, require
from charter.core.routes import TIER_FREE
from charter.runtime import Runtime
from charter.services import events


def authenticate(rt: Runtime, secret: str | None) -> Principal:
    """The principal behind an API key (``AuthError`` when there is none)."""
    return rt.accounts.authenticate(secret)


def authenticate_cached(rt: Runtime, secret: str | None) -> Principal | None:
    """As ``authenticate`` for a key seen within the read cache's TTL, without touching
    the database (safe on an event loop); None when ``authenticate`` must run."""
    return rt.accounts.authenticate_cached(secret)


def me(rt: Runtime, actor: Principal) -> dict[str, Any]:
    profile = rt.profiles.get(actor.id)
    return {"id": actor.id, "display_name": actor.display_name, "roles": sorted(actor.roles),
            "clearance": actor.clearance, "groups": sorted(actor.groups),
            "tier": rt.quotas.tier_of(actor), "personality": profile.personality,
            "instructions": profile.instructions}


def add_user(rt: Runtime, actor: Principal, user_id: str, *, roles: Sequence[str] = ("user",),
             clearance: str = "internal", groups: Sequence[str] = (), tier: str = TIER_FREE,
             display_name: str = "") -> User:
    require(actor, "admin")
    user = rt.accounts.add_user(user_id, roles=list(roles), clearance=clearance,
                                groups=list(groups), tier=tier, display_name=display_name)
    events.record(rt, actor, "user.added", user.id,
                  {"roles": list(user.roles), "clearance": user.clearance,
                   "groups": list(user.groups), "tier": user.tier})
    return user


def list_users(rt: Runtime, actor: Principal) -> list[User]:
    require(actor, "admin")
    return rt.accounts.list_users()


def count_admins(rt: Runtime) -> int:
    return rt.accounts.count_admins()


def set_disabled(rt: Runtime, actor: Principal, user_id: str, disabled: bool) -> User:
    """Disable a user (their keys stop working) or enable them again."""
    require(actor, "admin")
    if disabled and user_id == actor.id:
        raise InvalidInputError("you cannot disable yourself")
    was = rt.accounts.get_user(user_id).disabled
    user = rt.accounts.set_disabled(user_id, disabled)
    if was != disabled:  # only changes are events
        events.record(rt, actor, "user.disabled" if disabled else "user.enabled", user.id, {})
    return user


def create_key(rt: Runtime, actor: Principal, owner: str | None = None,
               name: str = "") -> tuple[ApiKey, str]:
    """A new key (the caller's own, or anyone's for an admin); the secret is returned
    once and only its hash is stored."""
    owner = owner or actor.id
    if owner != actor.id:
        require(actor, "admin")
    key, secret = rt.accounts.create_key(owner, name)
    events.record(rt, actor, "key.created", key.id, {"user_id": owner, "name": name})
    return key, secret


def list_keys(rt: Runtime, actor: Principal, user_id: str | None = None) -> list[ApiKey]:
    """The caller's keys; an admin sees everyone's (or one user's)."""
    if user_id != actor.id and not actor.has_role("admin"):
        user_id = actor.id
    return rt.accounts.list_keys(user_id)


def revoke_key(rt: Runtime, actor: Principal, key_id: str) -> ApiKey:
    own = {k.id: k for k in rt.accounts.list_keys(actor.id)}
    if key_id not in own:
        require(actor, "admin")
    was = own.get(key_id) or next((k for k in rt.accounts.list_keys() if k.id == key_id), None)
    key = rt.accounts.revoke_key(key_id)
    if was is None or was.revoked_at is None:  # only changes are events
        events.record(rt, actor, "key.revoked", key.id, {"user_id": key.user_id})
    return key
