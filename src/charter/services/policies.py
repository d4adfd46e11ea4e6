"""The charter's versions: list, show, diff, validate, propose, approve."""

from __future__ import annotations

from charter.core.principal import Principal, require
from charter.policy.schema import Charter, parse_charter
from charter.policy.versions import PolicyVersion
from charter.runtime import Runtime
from charter.services import events


def versions(rt: Runtime, actor: Principal) -> list[PolicyVersion]:
    return rt.policies.list()


def get(rt: Runtime, actor: Principal, number: int | None = None) -> PolicyVersion:
    """One version; the enforced one when ``number`` is None."""
    return rt.policies.get(number if number is not None else rt.policies.active()[0])


def diff(rt: Runtime, actor: Principal, a: int, b: int) -> str:
    return rt.policies.diff(a, b)


def validate(body: str, origin: str = "charter") -> Charter:
    """Parse a charter file against the schema without storing it."""
    return parse_charter(body, origin)


def propose(rt: Runtime, actor: Principal, body: str, note: str) -> PolicyVersion:
    """Store a draft; it is enforced only once someone else approves it."""
    require(actor, "admin")
    version = rt.policies.propose(body, actor.id, note)
    events.record(rt, actor, "policy.proposed", f"policy-v{version.number}",
                  {"version": version.number, "sha256": version.sha256, "note": note})
    return version


def approve(rt: Runtime, actor: Principal, number: int) -> PolicyVersion:
    """Enforce a draft (not by its author); the version it replaces is retired."""
    require(actor, "admin")
    version = rt.policies.approve(number, actor.id)
    events.record(rt, actor, "policy.approved", f"policy-v{number}",
                  {"version": number, "sha256": version.sha256, "author": version.author,
                   "note": version.note})
    return version
