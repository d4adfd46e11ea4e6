"""Principals: who is asking, with roles, clearance, groups and a tier."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("user", "reviewer", "admin")
# Ordered from least to most sensitive; a principal sees documents at or below its level.
CLEARANCE_LEVELS = ("public", "internal", "confidential", "restricted")


@dataclass(frozen=True)
class Principal:
    id: str
    roles: frozenset[str] = frozenset({"user"})
    clearance: str = "internal"
    groups: frozenset[str] = field(default_factory=frozenset)
    tier: str = "free"
    display_name: str = ""

    def has_role(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles

    def may_see(self, classification: str) -> bool:
        return CLEARANCE_LEVELS.index(classification) <= CLEARANCE_LEVELS.index(self.clearance)

    def may_read(self, classification: str, groups: list[str] | tuple[str, ...]) -> bool:
        """A document: clearance at least its classification and, when it names groups,
        one of them shared (the wildcard group ``*`` shares all). Search applies the same
        rule in SQL."""
        return self.may_see(classification) and (
            not groups or "*" in self.groups or bool(set(groups) & set(self.groups)))


def local_admin() -> Principal:
    """The principal the CLI acts as: the operator at the keyboard of this install."""
    return Principal(
        id="local-admin", roles=frozenset(ROLES), clearance="restricted", tier="team",
        groups=frozenset({"*"}),
        display_name="Local administrator",
    )


def require(principal: Principal, role: str) -> None:
    """Raise ``ForbiddenError`` unless the principal holds ``role`` (admins hold every role)."""
    from charter.core.errors import ForbiddenError

    if not principal.has_role(role):
        raise ForbiddenError(f"this needs the {role} role; {principal.id} has "
                             f"{', '.join(sorted(principal.roles))}")


def as_actor(principal: Principal, actor_id: str) -> Principal:
    """The same rights under another name: the CLI operator acting as a named person
    (``--reviewer``, ``--approver``, ``--author``)."""
    return Principal(actor_id, principal.roles, principal.clearance, principal.groups,
                     principal.tier, principal.display_name)
