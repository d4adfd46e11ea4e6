"""Agent runs against scripted models, on a DBOS engine per test's data folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from charter.agents import engine
from charter.core.aliases import AliasConfig
from charter.runtime import Runtime


@pytest.fixture
def rt(runtime: Runtime) -> Iterator[Runtime]:
    yield runtime
    engine.shutdown()


def scripted(rt: Runtime, name: str, replies: list[str], **options: Any) -> str:
    rt.aliases.add(AliasConfig(name, "scripted", "", {"replies": replies, **options}),
                   replace=True)
    return name


def team(name: str, mode: str, members: dict[str, dict[str, Any]], **extra: Any
         ) -> dict[str, Any]:
    """A teams-file mapping declaring one team of ``members`` (agent name -> fields)."""
    agents = {n: {"role": n.title(), **fields} for n, fields in members.items()}
    return {"agents": agents,
            "teams": {name: {"mode": mode, "members": list(members), **extra}}}


def wait_for(rt: Runtime, run_id: str, status: str, timeout: float = 30.0):  # noqa: ANN201
    """The run once it reaches ``status`` (fails the test after ``timeout``)."""
    import time

    from charter.agents.runs import RunRepository

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = RunRepository(rt.db).get(run_id)
        if run.status == status:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} is {run.status} ({run.note}), not {status}, "
                         f"after {timeout} s")


class Recorder:
    """A tool with a side-effect class of its choosing that counts its calls."""

    description = "records what it is asked"
    arguments = {"to": "who"}

    def __init__(self, name: str, side_effect: str) -> None:
        self.name, self.side_effect = name, side_effect
        self.calls: list[tuple[dict, str]] = []

    def run(self, args, ctx):  # noqa: ANN001, ANN201
        self.calls.append((dict(args), ctx.idempotency_key))
        return f"sent to {args.get('to')}"
