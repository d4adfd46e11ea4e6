"""`charter policy`, `charter review`, `charter usecase` and policy decisions in `charter ask`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from charter.policy.versions import default_charter_text

pytestmark = pytest.mark.integration


def test_refusal_in_ask_json_and_plain_output(cli) -> None:
    data = json.loads(cli("ask", "--json", "Reject all job applicants over 50.").out)
    d = data["decision"]
    assert (d["action"], d["tier"], d["category"]) == ("refuse", "red_line", "discrimination")
    assert d["reason"] and d["alternatives"] and data["label"]
    plain = cli("ask", "Reject all job applicants over 50.")
    assert "policy: refuse (discrimination)" in plain.out and "instead:" in plain.out
    assert data["label"] in plain.out


def test_hold_review_approve_flow(cli) -> None:
    held = json.loads(cli("ask", "--json", "Decide which of these employees should be laid off.").out)
    review_id = held["decision"]["review_id"]
    assert held["decision"]["action"] == "hold_for_review" and review_id
    listing = cli("review", "list")
    assert review_id in listing.out and "automated_decisions" in listing.out
    assert "pending" in cli("review", "show", review_id).out
    approved = cli("review", "approve", review_id, "--note", "workforce plan signed off")
    assert approved.code == 0 and "answer stored" in approved.out
    shown = cli("review", "show", review_id)
    assert "approved" in shown.out and "answer:" in shown.out
    again = cli("review", "reject", review_id, "--note", "late")
    assert again.code == 2 and "already approved" in again.err
    events = [json.loads(x)["event"] for x in cli("audit", "list", "--json", "--limit", "10").out.splitlines()]
    assert "review.approved" in events


def test_policy_versions_from_the_cli(cli, tmp_path: Path) -> None:
    assert "v1" in cli("policy", "list").out and "approved" in cli("policy", "list").out
    assert "name: Default charter" in cli("policy", "show").out
    edited = tmp_path / "charter.yaml"
    edited.write_text(default_charter_text().replace(
        "label: \"AI-generated content by Charter. It can be wrong: check important facts.\"",
        "label: \"Written with AI assistance.\""))
    assert cli("policy", "validate", str(edited)).code == 0
    proposed = cli("policy", "propose", str(edited), "--note", "shorter label", "--author", "alice")
    assert "v2 (draft)" in proposed.out
    assert cli("policy", "approve", "2", "--approver", "alice").code == 2
    assert cli("policy", "approve", "2", "--approver", "bob").code == 0
    assert "+label: \"Written with AI assistance.\"" in cli("policy", "diff", "1", "2").out
    assert json.loads(cli("ask", "--json", "Hello?").out)["label"] == "Written with AI assistance."
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nprinciples: []\n")
    run = cli("policy", "validate", str(bad))
    assert run.code == 2 and "does not match the charter schema" in run.err


def test_usecase_register_and_approvals(cli) -> None:
    red = cli("usecase", "register", "protest-watch", "--purpose",
              "Identify every person at protests using face recognition on CCTV",
              "--owner", "security", "--automation", "fully_automated")
    assert red.code == 1 and "rejected" in red.out
    high = cli("usecase", "register", "layoffs", "--purpose",
               "Decide which employees should be laid off", "--owner", "hr", "--data",
               "performance reviews", "--affected", "employees")
    assert high.code == 0 and "pending (high_risk" in high.out
    refused = json.loads(cli("ask", "--json", "--use-case", "layoffs", "Hello?").out)
    assert refused["decision"]["action"] == "refuse"
    assert cli("usecase", "approve", "layoffs", "--note", "ok", "--role", "reviewer",
               "--reviewer", "rita").code == 0
    assert "pending" in cli("usecase", "show", "layoffs").out
    last = cli("usecase", "approve", "layoffs", "--note", "ok", "--role", "admin",
               "--reviewer", "amir")
    assert "approved" in last.out
    listing = cli("usecase", "list")
    assert "layoffs" in listing.out and "protest-watch" in listing.out


def test_bad_input_to_policy_commands(cli, tmp_path: Path) -> None:
    not_presidio = tmp_path / "other.json"
    not_presidio.write_text(json.dumps([{"text": "Ann lives here", "labels": []}]))
    untemplated = tmp_path / "untemplated.json"
    untemplated.write_text(json.dumps([{"full_text": "Hi Ann", "spans": [
        {"entity_type": "PERSON", "entity_value": "Ann", "start_position": 3,
         "end_position": 6}]}]))
    for args, fragment in [
        (("review", "approve", "rev_nope", "--note", "x"), "no review 'rev_nope'"),
        (("usecase", "register", "x", "--purpose", "y", "--owner", "z", "--automation", "robots"),
         "automation must be one of"),
        (("usecase", "approve", "ghost", "--note", "x"), "no use case 'ghost'"),
        (("ask", "--use-case", "ghost", "Hello?"), "no use case 'ghost'"),
        (("policy", "show", "7"), "no charter version 7"),
        (("policy", "propose", str(tmp_path / "missing.yaml"), "--note", "n"), "not found"),
        (("bench", "policy", "--data", str(tmp_path / "none.jsonl")), "not found"),
        (("finetune", "charter", "--data", str(tmp_path / "nodata")), "is missing"),
        (("finetune", "answerability", "--data", str(tmp_path / "nodata")), "no SQuAD file"),
        (("finetune", "activate", "charter", "3"), "charter"),
        (("finetune", "charter", "--holdout", "jailbreakbench"),
         "harmbench, advbench, strongreject"),
        (("bench", "policy", "--heldout", str(tmp_path / "nodata")), "holds no safety/"),
        (("finetune", "pii", "--data", str(tmp_path / "nodata.json")), "is missing"),
        (("bench", "pii", "--data", str(tmp_path / "nodata.json")), "is missing"),
        (("bench", "pii", "--data", str(not_presidio)), "research format"),
        (("finetune", "pii", "--data", str(untemplated)), "template_id"),
        (("bench", "gateway", "--peer", "nginx"), "peer must be one of litellm"),
        (("bench", "gateway", "--database", "mysql"), "database must be one of sqlite, postgres"),
        (("bench", "gateway", "--scripted", "--peer", "litellm"), "drop --scripted"),
        (("bench", "gateway", "--scripted", "--servers", "2"), "drop --scripted"),
        (("bench", "gateway", "--floors"), "add --scripted"),
        (("bench", "gateway", "--peer", "litellm", "--peer-python",
          str(tmp_path / "nowhere" / "python")), "scripts/bench-peer.sh"),
    ]:
        run = cli(*args)
        assert run.code == 2, (args, run.err)
        assert run.err.startswith("error: ") and fragment in run.err, (args, run.err)
        assert "Traceback" not in run.err
