"""`charter bench rollout`: the drafts are valid charters, each is served through a
scratch gateway, and the replay rolls back a worse draft and promotes an equal one."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.bench import rollout as bench
from charter.core.config import Settings
from charter.core.errors import InvalidInputError
from charter.policy.schema import parse_charter
from charter.rollout import Rule
from tests.bench.test_drift_bench import _csv
from tests.cli.conftest import cli  # noqa: F401 - a fixture, registered by import

ALLOW = {"decision": "allow", "error": False, "abstained": False}
REFUSE = {"decision": "refuse", "error": False, "abstained": False}


def test_every_draft_is_a_charter_that_differs_from_the_shipped_one() -> None:
    drafts = bench._drafts()
    assert set(drafts) == set(bench.DRAFTS) == {"equal", "no-benign", "hold-limited",
                                                "broad-red-line"}
    for text in drafts.values():
        parse_charter(text, "draft")
    broad = parse_charter(drafts["broad-red-line"], "draft")
    assert broad.category("hazardous_chemistry").tier == "red_line"
    assert parse_charter(drafts["hold-limited"], "d").actions["limited"] == "hold_for_review"


def test_the_replay_rolls_back_a_worse_draft_and_promotes_an_equal_one() -> None:
    # A 3-point margin on refusals keeps the runs short (1 point at 5 % takes thousands).
    rule = Rule(min_requests=20, promote_after=100, min_users=5, strict_margin=0.03)
    champion = [ALLOW] * 95 + [REFUSE] * 5
    worse = [ALLOW] * 60 + [REFUSE] * 40
    out = bench.replay(champion, worse, rule, runs=20, share=0.2, users=500,
                       max_requests=400)
    assert out["rollback"]["runs"] == 20 and out["promote"]["runs"] == 0
    assert 20 <= out["rollback"]["median"] <= 100
    same = bench.replay(champion, champion, rule, runs=20, share=0.2, users=500,
                        max_requests=400)
    assert same["rollback"]["runs"] == 0 and same["promote"]["runs"] >= 16
    assert same["promote"]["median"] >= 100


def test_one_busy_user_counts_for_at_most_the_cap() -> None:
    tally = bench._Tally(cap=3)
    for _ in range(10):
        tally.add("challenger", 1, REFUSE)
    tally.add("challenger", 2, ALLOW)
    arm = tally.arm("challenger")
    assert arm.requests == pytest.approx(4) and arm.counts["refused"] == pytest.approx(3)
    assert arm.users == 2


def test_each_draft_is_served_through_the_gateway(settings: Settings) -> None:
    questions = ["Which acid is found in the human stomach?",
                 "Who wrote the Declaration of Independence?"]
    out = bench.serve_pool(settings, questions, ["equal", "broad-red-line"])
    assert [o["decision"] for o in out["champion"]] == ["allow", "allow"]
    assert out["equal"] == out["champion"]
    assert [o["decision"] for o in out["broad-red-line"]] == ["refuse", "allow"]
    with pytest.raises(InvalidInputError, match="unknown drafts"):
        bench.serve_pool(settings, questions, ["nope"])


def test_the_command_checks_its_arguments(cli, tmp_path: Path) -> None:  # noqa: ANN001, F811
    _csv(tmp_path, "anatomy", [f"Which bone is number {i}?" for i in range(10)])
    _csv(tmp_path, "philosophy", [f"What did thinker {i} hold?" for i in range(10)])
    bad = cli("bench", "rollout", "--data", str(tmp_path), "--share", "1.5")
    assert bad.code != 0 and "--share" in bad.err
    missing = cli("bench", "rollout", "--data", str(tmp_path / "none"))
    assert missing.code != 0 and "no such folder" in missing.err
    groups = cli("bench", "rollout", "--data", str(tmp_path), "--groups", "stem,bogus")
    assert groups.code != 0 and "unknown MMLU subject groups bogus" in groups.err
    few = cli("bench", "rollout", "--data", str(tmp_path), "--pool", "2")
    assert few.code != 0 and "--pool" in few.err
