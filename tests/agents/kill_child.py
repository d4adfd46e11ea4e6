"""A child process for the kill test: starts or resumes a run that pays once through an
irreversible tool whose effects land in a file outside every process."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from charter.core.config import load_settings
from charter.core.principal import local_admin
from charter.runtime import Runtime
from charter.services import agents, setup

SPEC = {"agents": {"payer": {"role": "Payer", "tools": ["pay"], "model": "payer-model"}},
        "teams": {"pay": {"members": ["payer"],
                          "budget": {"steps": 40, "repeats": 10, "tool_calls": 40}}}}
EFFECTS = Path(os.environ["EFFECTS_FILE"])


def trace(what: str, key: str) -> None:
    """Where the tool was when (the test tells from it where its kills landed)."""
    with EFFECTS.with_suffix(".trace").open("a") as f:
        f.write(f"{what} {key}\n")


class Pay:
    name, description, side_effect = "pay", "pays once", "irreversible"
    arguments = {"to": "payee"}

    def run(self, args, ctx):  # noqa: ANN001, ANN201
        trace("begin", ctx.idempotency_key)
        time.sleep(0.2)  # a kill may land before the effect...
        with EFFECTS.open("a") as f:
            f.write(ctx.idempotency_key + "\n")
            f.flush()
            os.fsync(f.fileno())
        trace("effect", ctx.idempotency_key)
        time.sleep(0.4)  # ...or after it, before the call is recorded as done
        trace("end", ctx.idempotency_key)
        return f"paid {args.get('to')}"

    def status(self, key, ctx):  # noqa: ANN001, ANN201
        done = EFFECTS.read_text().split() if EFFECTS.exists() else []
        return "paid (settled after a restart)" if key in done else None


def main() -> None:
    rt = Runtime.open(load_settings())
    setup.warm_up(rt)  # models loaded first, so kills land in the run, not in loading
    tools = {"pay": Pay()}
    if sys.argv[1] == "start":
        run = agents.start(rt, local_admin(), "pay", "Pay the invoice.", team_spec=SPEC,
                           tools=tools)
    else:
        run = agents.resume(rt, local_admin(), sys.argv[2], tools=tools)
    done = agents.wait(rt, local_admin(), run.id, timeout=120)
    print(json.dumps({"id": done.id, "status": done.status}))


if __name__ == "__main__":
    main()
