"""`charter drift`: status, a check now, the checks made, and the reference window."""

from __future__ import annotations

import json
import os
from pathlib import Path

from charter.core.chat import ChatMessage
from charter.core.config import load_settings
from charter.core.principal import local_admin
from charter.runtime import Runtime
from charter.spine.request import AskRequest
from tests.services.test_drift import CHEMISTRY, LEAVE, _questions


def _serve(data_dir: Path, questions: list[str]) -> None:
    rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": str(data_dir),
                                     "CHARTER_ONNX_CACHE_DIR": os.environ[
                                         "CHARTER_ONNX_CACHE_DIR"],
                                     "CHARTER_DRIFT_WINDOW": "10",
                                     "CHARTER_DRIFT_REFERENCE": "10"}))
    try:
        for q in questions:
            rt.gateway.ask(AskRequest([ChatMessage("user", q)], local_admin()))
    finally:
        rt.close()


def test_drift_commands_report_a_shift_and_pin_a_reference(cli, tmp_path: Path) -> None:  # noqa: ANN001
    env = {"CHARTER_DRIFT_WINDOW": "10", "CHARTER_DRIFT_REFERENCE": "10"}
    empty = cli("drift", "check", env=env)
    assert empty.code != 0 and "no requests have been sampled" in empty.err
    _serve(tmp_path / "data", _questions(LEAVE, 20) + _questions(CHEMISTRY, 10))
    status = cli("drift", "status", env=env)
    assert status.code == 0 and "30 samples kept (newest 30)" in status.out
    assert "last check: none" in status.out
    check = cli("drift", "check", env=env)
    assert check.code == 0, check.err
    assert "check up to sample 30: DRIFT" in check.out and "embeddings" in check.out
    assert "grown cluster" in check.out
    listed = json.loads(cli("drift", "checks", "--json", env=env).out)
    assert [c["upto"] for c in listed] == [30] and listed[0]["fired"] is True
    assert listed[0]["actor"] == "local-admin"
    bad = cli("drift", "baseline", "--first", "20", "--last", "3", env=env)
    assert bad.code != 0 and "is after" in bad.err
    pinned = cli("drift", "baseline", "--first", "21", "--last", "30", env=env)
    assert pinned.code == 0 and "samples 21 to 30" in pinned.out
    assert "pinned samples 21-30" in cli("drift", "status", env=env).out
    assert cli("drift", "checks", "--limit", "0", env=env).code != 0
