"""A child process for the shared-queue test: a server's agent engine, working the shared
run queue on PostgreSQL until the stop file appears."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from charter.core.config import load_settings
from charter.runtime import Runtime
from charter.services import agents


def main() -> None:
    rt = Runtime.open(load_settings({"CHARTER_DATABASE_URL": sys.argv[1]}))
    agents.serve(rt)
    (Path(sys.argv[2]) / f"ready-{sys.argv[3]}").write_text("ready")
    while not (Path(sys.argv[2]) / "stop").exists():
        time.sleep(0.2)
    agents.shutdown()


if __name__ == "__main__":
    main()
