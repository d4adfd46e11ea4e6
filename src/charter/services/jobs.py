"""Background jobs as callers see them: one job's state, progress and outcome.

Jobs are started by other services (``documents.start_upload``); reading one needs the
admin role, as starting it does, and is its starter's alone (and the local operator's,
who runs the CLI on the server): another admin's job (its progress notes name files)
answers as if it did not exist.
"""

from __future__ import annotations

from charter.core.principal import Principal, local_admin, require
from charter.jobs import Job, no_job
from charter.runtime import Runtime


def get(rt: Runtime, actor: Principal, job_id: str) -> Job:
    require(actor, "admin")
    job = rt.jobs.get(job_id)
    if job.actor != actor.id and actor.id != local_admin().id:  # the operator reads any
        raise no_job(job_id)
    return job
