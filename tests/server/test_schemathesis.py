"""Schemathesis against the served OpenAPI spec: no endpoint answers 500."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import Served


@pytest.mark.integration
def test_no_endpoint_returns_a_server_error(served: Served) -> None:
    st = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    if not Path(st).exists():
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    proc = subprocess.run(
        [st, "run", f"{served.url}/openapi.json", "--checks", "not_a_server_error",
         "--header", f"Authorization: Bearer {served.keys['admin']}",
         "--max-examples", "25", "--request-timeout", "30", "--seed", "1",
         "--suppress-health-check", "all"],
        capture_output=True, text=True, timeout=900)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    assert "not_a_server_error" in proc.stdout or "passed" in proc.stdout.lower(), tail
