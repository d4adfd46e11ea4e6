"""The learned router: train, evaluate, list, activate and roll back its versions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from charter.core.errors import InvalidInputError
from charter.core.principal import Principal, require
from charter.router.train import TrainReport, evaluate_router, train
from charter.router.versions import RouterVersion
from charter.runtime import Runtime
from charter.services import events

ProgressFn = Callable[[int, int], None]


def train_version(rt: Runtime, actor: Principal, *, data: Path | None, use_feedback: bool = True,
                  feedback_weight: float = 3.0, deep_share: float | None = None,
                  quality: float | None = None, note: str = "", activate: bool = True,
                  progress: ProgressFn | None = None) -> tuple[int, TrainReport]:
    """Train a router version from outcome data and recorded feedback, and store it."""
    require(actor, "admin")
    feedback = rt.feedback.samples(feedback_weight) if use_feedback else []
    report = train(rt.embedder(), data=data, feedback=feedback, deep_share=deep_share,
                   quality=quality, progress=progress)
    version = rt.routers.save(report.model, author=actor.id, note=note, activate=activate)
    events.record(rt, actor, "router.trained", f"router-v{version}",
                  {"version": version, "samples": report.samples,
                   "feedback_samples": report.feedback_samples,
                   "threshold": report.model.threshold, "activated": activate, "note": note})
    return version, report


def evaluate(rt: Runtime, actor: Principal, data: Path, version: int | None = None,
             progress: ProgressFn | None = None) -> tuple[int, dict[str, Any]]:
    """APGR, CPT and cost saving of a version (the active one by default) on held-out data."""
    if version is None:
        active = rt.routers.active()
        if active is None:
            raise InvalidInputError("no router is trained yet: run `charter router train --data "
                                    "DIR` first")
        version, model = active
    else:
        model = rt.routers.load(version)
    return version, evaluate_router(rt.embedder(), model, version, data, progress=progress)


def versions(rt: Runtime, actor: Principal) -> tuple[list[RouterVersion], int | None]:
    """Every version, and the active one's number."""
    return rt.routers.list(), rt.routers.active_version()


def activate(rt: Runtime, actor: Principal, version: int) -> None:
    require(actor, "admin")
    rt.routers.activate(version, actor=actor.id)
    events.record(rt, actor, "router.activated", f"router-v{version}", {"version": version})


def rollback(rt: Runtime, actor: Principal) -> int | None:
    """Back to the version active before the current one (None: no router)."""
    require(actor, "admin")
    previous = rt.routers.rollback(actor=actor.id)
    events.record(rt, actor, "router.rolled_back", f"router-v{previous or 0}",
                  {"version": previous})
    return previous
