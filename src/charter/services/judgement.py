"""Charter's trained judgement models: train (`charter finetune TASK`), list, activate,
roll back; each audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charter.core.principal import Principal, require
from charter.judgement.artifact import Artifact
from charter.judgement.tasks import task_module
from charter.judgement.train import TrainConfig
from charter.judgement.versions import JudgementVersion
from charter.runtime import Runtime
from charter.services import events


def train(rt: Runtime, actor: Principal, task: str, data: Path, config: TrainConfig, *,
          note: str = "", activate: bool = True, ship: Path | None = None,
          progress: bool = True, options: dict[str, Any] | None = None
          ) -> tuple[int, Artifact, dict[str, Any]]:
    """Train a task's model from the packaged encoder and store it as a new version
    (active unless ``activate`` is false); ``ship`` also writes the artifact and its card
    into that folder (how the defaults in the package are made). ``options``: the task's
    own (the charter task's ``holdout``)."""
    require(actor, "admin")
    module = task_module(task)
    artifact, summary = module.train(data, config, progress=progress, **(options or {}))
    version = rt.judgement.save(artifact, author=actor.id, note=note, activate=activate)
    if ship is not None:
        artifact.save(ship)
    events.record(rt, actor, "judgement.trained", f"{task}-v{version}",
                  {"task": task, "version": version, "sha256": artifact.sha256,
                   "activated": activate, "test": summary.get("test"), "note": note})
    return version, artifact, summary


def versions(rt: Runtime, actor: Principal, task: str | None = None) -> list[JudgementVersion]:
    return rt.judgement.list(task)


def active(rt: Runtime, actor: Principal, task: str) -> int | None:
    """The active version of ``task`` (None: the shipped model serves)."""
    return rt.judgement.active_version(task)


def activate(rt: Runtime, actor: Principal, task: str, version: int) -> None:
    require(actor, "admin")
    task_module(task)
    rt.judgement.activate(task, version, actor=actor.id)
    events.record(rt, actor, "judgement.activated", f"{task}-v{version}",
                  {"task": task, "version": version})


def rollback(rt: Runtime, actor: Principal, task: str) -> int | None:
    require(actor, "admin")
    task_module(task)
    previous = rt.judgement.rollback(task, actor=actor.id)
    events.record(rt, actor, "judgement.rolled_back", f"{task}-v{previous or 0}",
                  {"task": task, "version": previous})
    return previous
