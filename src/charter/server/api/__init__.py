"""The HTTP API: one router per resource. ``openai`` is the OpenAI-compatible surface
under /v1; the others are Charter's own API under /api. Every endpoint calls a function
in ``charter.services`` (or the spine, for chat) and holds no business logic."""

from __future__ import annotations

from fastapi import APIRouter

from charter.server.api import (audit, documents, drift, evaluation, feedback, jobs, keys,
                                me, metrics, openai, policy, reviews, rollouts, runs, stats,
                                usage, use_cases, users)

ROUTERS: tuple[APIRouter, ...] = (
    openai.router, me.router, documents.router, feedback.router, reviews.router,
    use_cases.router, policy.router, audit.router, usage.router, users.router, keys.router,
    stats.router, jobs.router, runs.router, metrics.router, drift.router,
    rollouts.router, evaluation.router)
