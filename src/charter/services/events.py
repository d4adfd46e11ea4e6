"""Audit events of governance and admin actions: one helper, one naming scheme.

Event types are ``<subject>.<past tense>``: ``usecase.registered``, ``policy.approved``,
``review.rejected``, ``document.added``, ``user.disabled``, ``key.revoked`` and so on;
``docs/architecture.md`` lists them all.
"""

from __future__ import annotations

from typing import Any

from charter.audit import AuditRecord
from charter.core.principal import Principal
from charter.runtime import Runtime


def record(rt: Runtime, actor: Principal, event: str, subject: str,
           payload: dict[str, Any]) -> AuditRecord:
    """Append the event; ``subject`` (the id of what was acted on) is the record's key."""
    return rt.audit.append(subject, actor.id, event, payload)
