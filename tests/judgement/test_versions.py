"""Judgement model versions: stored, activated, rolled back to the shipped model, and
served to backends through the runtime's registration."""

from __future__ import annotations

import pytest

from charter.core.errors import ConflictError, NotFoundError
from charter.judgement import serving
from charter.judgement.artifact import Artifact
from charter.judgement.versions import shipped
from charter.runtime import Runtime
from tests.judgement.test_train import trained  # noqa: F401 - a fixture

pytestmark = pytest.mark.slow


def _as_task(artifact: Artifact, task: str) -> Artifact:
    from charter.judgement.artifact import Meta

    return Artifact(Meta(**{**artifact.meta.__dict__, "task": task}), artifact.state, "card")


def test_versions_activate_and_roll_back_to_the_shipped_model(runtime: Runtime,
                                                              trained) -> None:  # noqa: ANN001
    _, artifact = trained
    repo = runtime.judgement
    model = _as_task(artifact, "answerability")
    assert repo.active("answerability") == (None, shipped("answerability"))
    v1 = repo.save(model, author="ann", note="first")
    v2 = repo.save(model, author="ann", note="second", activate=False)
    assert (v1, v2) == (1, 2) and repo.active_version("answerability") == 1
    assert repo.active("answerability")[1].sha256 == model.sha256
    repo.activate("answerability", 2, actor="bob")
    assert repo.rollback("answerability", actor="bob") == 1
    assert repo.rollback("answerability", actor="bob") is None  # the shipped model again
    assert repo.active("answerability") == (None, shipped("answerability"))
    with pytest.raises(ConflictError):
        repo.rollback("answerability", actor="bob")
    with pytest.raises(NotFoundError):
        repo.activate("answerability", 9, actor="bob")
    assert [(v.version, v.note) for v in repo.list("answerability")] == [(1, "first"),
                                                                          (2, "second")]


def test_backends_get_the_model_active_in_their_database(runtime: Runtime,
                                                         trained) -> None:  # noqa: ANN001
    _, artifact = trained
    model = _as_task(artifact, "toy-task")
    assert serving.artifact("toy-task", runtime.settings) is None  # nothing ships for it
    runtime.judgement.save(model, author="ann")
    assert serving.artifact("toy-task", runtime.settings).sha256 == model.sha256
    assert serving.scorer("toy-task", runtime.settings) is serving.scorer("toy-task",
                                                                           runtime.settings)
