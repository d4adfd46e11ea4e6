"""The judgement tasks: for each, its training data, split rule, metric and card.

Each task module has ``TASK`` (its name), ``train(data, config, progress=...)`` returning
the artifact (with its card) and a summary, and the default data location.
"""

from __future__ import annotations

from types import ModuleType

from charter.core.errors import InvalidInputError


def task_module(name: str) -> ModuleType:
    from charter.judgement.tasks import answerability, charter, pii

    known = {m.TASK: m for m in (answerability, charter, pii)}
    if name not in known:
        raise InvalidInputError(f"no judgement task {name!r}; tasks: {', '.join(sorted(known))}")
    return known[name]


def names() -> list[str]:
    return ["answerability", "charter", "pii"]
