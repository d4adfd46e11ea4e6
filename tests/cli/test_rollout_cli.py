"""`charter rollout`: start, status, check (judged and acted on), list, stop, and the
errors a wrong argument gets."""

from __future__ import annotations

import json
import os
from pathlib import Path

from charter.core.chat import ChatMessage
from charter.core.config import load_settings
from charter.core.principal import Principal
from charter.runtime import Runtime
from charter.services import policies
from charter.spine.request import AskRequest
from tests.services.test_rollouts import AUTHOR, DEGRADED, QUESTION


def _open(data_dir: Path) -> Runtime:
    return Runtime.open(load_settings({"CHARTER_DATA_DIR": str(data_dir),
                                       "CHARTER_ONNX_CACHE_DIR": os.environ[
                                           "CHARTER_ONNX_CACHE_DIR"]}))


def test_rollout_commands_start_judge_and_end_a_rollout(cli, tmp_path: Path) -> None:  # noqa: ANN001
    rt = _open(tmp_path / "data")
    try:
        draft = policies.propose(rt, AUTHOR, DEGRADED, "refuse more").number
    finally:
        rt.close()
    assert "no rollouts yet" in cli("rollout", "list").out
    bad = cli("rollout", "start", "charter", str(draft), "--share", "1.5")
    assert bad.code != 0 and "share" in bad.err
    word = cli("rollout", "start", "charter", "latest")
    assert word.code != 0 and "version number, not 'latest'" in word.err
    kind = cli("rollout", "start", "prompt", str(draft))
    assert kind.code != 0 and "charter, router, alias" in kind.err
    started = cli("rollout", "start", "charter", str(draft), "--share", "0.5",
                  "--min-requests", "4", "--min-users", "2")
    assert started.code == 0, started.err
    assert f"charter v{draft} against v1" in started.out and "running" in started.out
    rid = started.out.split()[0]
    rt = _open(tmp_path / "data")  # requests served elsewhere, without judgement
    try:
        for i in range(30):
            rt.gateway.ask(AskRequest([ChatMessage("user", QUESTION)],
                                      Principal(f"u-{i}", frozenset({"user"}))))
    finally:
        rt.close()
    status = json.loads(cli("rollout", "status", rid, "--json").out)
    assert status["status"] == "running" and status["verdict"]["action"] == "rollback"
    checked = cli("rollout", "check", rid)
    assert checked.code == 0 and "rolled_back by system:rollout" in checked.out
    listed = json.loads(cli("rollout", "list", "--json").out)
    assert [r["status"] for r in listed] == ["rolled_back"]
    stopped = cli("rollout", "stop", rid)
    assert stopped.code != 0 and "already ended" in stopped.err
    missing = cli("rollout", "status", "ro_missing")
    assert missing.code != 0 and "no rollout" in missing.err
