"""Personality and custom instructions: yours, or anyone's for an admin."""

from __future__ import annotations

from charter.core.principal import Principal, require
from charter.profiles import Profile
from charter.runtime import Runtime
from charter.services import events


def _whose(actor: Principal, user: str | None) -> str:
    if user and user != actor.id:
        require(actor, "admin")
        return user
    return actor.id


def get(rt: Runtime, actor: Principal, user: str | None = None) -> Profile:
    return rt.profiles.get(_whose(actor, user))


def set_profile(rt: Runtime, actor: Principal, *, personality: str | None = None,
                instructions: str | None = None, user: str | None = None) -> Profile:
    profile = rt.profiles.set(_whose(actor, user), personality=personality,
                              instructions=instructions)
    events.record(rt, actor, "profile.updated", profile.principal_id,
                  {"personality": profile.personality,
                   "instructions_chars": len(profile.instructions)})
    return profile
