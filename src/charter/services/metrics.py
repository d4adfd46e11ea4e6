"""Prometheus metrics for a scraper: this process's counters (every worker's, under
``--workers N``) and the queues read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select

from charter import metrics
from charter.core.errors import NotFoundError
from charter.core.principal import Principal, require
from charter.runtime import Runtime
from charter.store.tables import agent_runs, jobs, reviews

QUEUES = (
    (("charter_reviews", "Held requests in the review queue, by state."), reviews.c.state),
    (("charter_agent_runs", "Agent runs, by status."), agent_runs.c.status),
    (("charter_jobs", "Background jobs (large uploads), by state."), jobs.c.state),
)


def _depths(rt: Runtime) -> Mapping[tuple[str, str], Mapping[str, int]]:
    out: dict[tuple[str, str], dict[str, int]] = {}
    with rt.db.connect() as conn:
        for metric, column in QUEUES:
            rows = conn.execute(select(column, func.count()).group_by(column))
            out[metric] = {str(state): int(count) for state, count in rows}
    return out


def exposition(rt: Runtime, actor: Principal) -> tuple[bytes, str]:
    """The metrics text and its content type (reviewers and admins: the figures say how
    much each route and decision is used)."""
    require(actor, "reviewer")
    if not rt.settings.metrics:
        raise NotFoundError("metrics are off on this server (setting metrics=false)")
    return metrics.exposition(lambda: _depths(rt))
