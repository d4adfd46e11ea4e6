"""Background jobs as callers see them: one job's state, progress and outcome.

Jobs are started by other services (``documents.start_upload``); reading them needs the
admin role, as starting them does.
"""

from __future__ import annotations

from charter.core.principal import Principal, require
from charter.jobs import Job
from charter.runtime import Runtime


def get(rt: Runtime, actor: Principal, job_id: str) -> Job:
    require(actor, "admin")
    return rt.jobs.get(job_id)
