"""A child process for the crash test: starts or resumes a run whose tool kills the
process the first time (``CRASH=1``), as a power cut would."""

from __future__ import annotations

import json
import os
import sys

from charter.core.config import load_settings
from charter.core.principal import local_admin
from charter.runtime import Runtime
from charter.services import agents

SPEC = {"agents": {"solo": {"role": "Solo", "tools": ["flaky"], "model": "crashy"}},
        "teams": {"crashy": {"members": ["solo"]}}}


class Flaky:
    name, description, side_effect = "flaky", "dies once", "read"
    arguments: dict = {}

    def run(self, args, ctx):  # noqa: ANN001, ANN201
        if os.environ.get("CRASH") == "1":
            os._exit(9)
        return "flaky result"


def main() -> None:
    rt = Runtime.open(load_settings())
    tools = {"flaky": Flaky()}
    if sys.argv[1] == "start":
        run = agents.start(rt, local_admin(), "crashy", "Work.", team_spec=SPEC, tools=tools)
    else:
        run = agents.resume(rt, local_admin(), sys.argv[2], tools=tools)
    done = agents.wait(rt, local_admin(), run.id, timeout=60)
    print(json.dumps({"id": done.id, "status": done.status, "answer": done.answer}))


if __name__ == "__main__":
    main()
