"""The use-case register: list, show, register (classified by the charter), decide."""

from __future__ import annotations

from collections.abc import Sequence

from charter.core.principal import Principal, require
from charter.policy.register import UseCase
from charter.runtime import Runtime
from charter.services import events


def list_all(rt: Runtime, actor: Principal) -> list[UseCase]:
    return rt.use_cases.list()


def get(rt: Runtime, actor: Principal, key: str) -> UseCase:
    return rt.use_cases.get(key)


def register(rt: Runtime, actor: Principal, *, name: str, purpose: str, owner: str,
             data_categories: Sequence[str] = (), affected_people: str = "",
             automation: str = "assistive") -> UseCase:
    """Register a use case; the charter classifies its purpose and sets what it needs:
    red-line ones are rejected, high-risk ones wait for approvals, the rest are approved."""
    version, charter = rt.policies.active()
    case = rt.use_cases.register(
        name=name, purpose=purpose, owner=owner,
        data_categories=[d.strip() for d in data_categories if d.strip()],
        affected_people=affected_people, automation=automation, charter=charter,
        version=version, classifier=rt.screen.assessor().classifier)
    events.record(rt, actor, "usecase.registered", case.id,
                  {"name": case.name, "tier": case.tier, "category": case.category,
                   "state": case.state, "policy_version": version})
    return case


def decide(rt: Runtime, actor: Principal, key: str, *, approve: bool, note: str,
           role: str | None = None) -> UseCase:
    """Record a reviewer's approval or rejection; a high-risk use case is approved once
    enough reviewers with distinct roles agree."""
    require(actor, "reviewer")
    case = rt.use_cases.decide(key, actor, approve=approve, note=note, role=role)
    events.record(rt, actor, "usecase.approved" if approve else "usecase.rejected", case.id,
                  {"name": case.name, "state": case.state, "role": role, "note": note})
    return case
