"""Audit events of governance and admin actions: one helper, one naming scheme.

Event types are ``<subject>.<past tense>``: ``usecase.registered``, ``policy.approved``,
``review.rejected``, ``document.added``, ``user.disabled``, ``key.revoked`` and so on;
``docs/architecture.md`` lists them all.
"""

from __future__ import annotations

from typing import Any, Final

from charter.audit import AuditRecord
from charter.core.principal import Principal
from charter.runtime import Runtime


# Events only admins read: accounts, keys, aliases, quotas and profiles were admin-only
# before they were audited, and reviewers read the rest of the trail. Drift evidence
# quotes users' (redacted) questions.
ADMIN_ONLY: Final = ("user.", "key.", "alias.", "quota.", "profile.", "drift.")


def record(rt: Runtime, actor: Principal, event: str, subject: str,
           payload: dict[str, Any]) -> AuditRecord:
    """Append the event; ``subject`` (the id of what was acted on) is the record's key."""
    return rt.audit.append(subject, actor.id, event, payload)
