"""`charter router|usage|feedback|profile` through the real CLI (real MiniLM embeddings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.router.test_learned_and_versions import CHAT, MATHS, PREFIXES


def outcomes(path: Path) -> Path:
    rows = ["prompt,weak,strong\n"]
    for p in PREFIXES:
        rows += [f'"{p}{t}",False,True\n' for t in MATHS]
        rows += [f'"{p}{t}",True,True\n' for t in CHAT]
    path.write_text("".join(rows))
    return path


@pytest.mark.integration
def test_train_eval_list_activate_rollback(cli, tmp_path: Path) -> None:
    data = outcomes(tmp_path / "o.csv")
    r = cli("router", "train", "--data", str(data), "--deep-share", "0.4", "--note", "first")
    assert r.code == 0, r.err
    assert "router v1" in r.out and "active" in r.out
    r = cli("router", "eval", "--data", str(data), "--json")
    assert r.code == 0, r.err
    result = json.loads(r.out)
    assert {"apgr", "cpt50", "cpt80", "cost_saving_at_95", "route_p50_ms", "random",
            "oracle"} <= set(result)
    assert result["random"]["apgr"] == pytest.approx(0.5)
    assert result["apgr"] > result["random"]["apgr"]  # maths vs chat is learnable
    assert cli("router", "train", "--data", str(data), "--quality", "0.95").code == 0
    listing = cli("router", "list").out
    assert "* v2" in listing and "  v1" in listing
    assert "router v1 is active" in cli("router", "activate", "1").out
    assert "router v2 is active again" in cli("router", "rollback").out
    # The active router now decides auto requests; the reason names it.
    ask = cli("ask", "--json", "Solve the integral of x squared times sine x")
    route = json.loads(ask.out)["route"]
    assert route["router_version"] == 2 and route["score"] is not None


def test_router_bad_input(cli, tmp_path: Path) -> None:
    r = cli("router", "eval", "--data", str(tmp_path))
    assert r.code != 0 and "no router is trained yet" in r.err
    r = cli("router", "train", "--data", str(tmp_path / "missing"))
    assert r.code != 0 and "does not exist" in r.err
    r = cli("router", "train", "--no-feedback")
    assert r.code != 0 and "nothing to train on" in r.err
    assert "no router version 4" in cli("router", "activate", "4").err
    assert "no earlier version" in cli("router", "rollback").err


def test_usage_limits_tiers_and_show(cli) -> None:
    assert "free     pro        not included" in cli("usage", "limits", "--tier", "free").out
    r = cli("usage", "limit", "free", "fast", "--requests", "1", "--window", "600")
    assert r.code == 0 and "1 requests" in r.out
    assert cli("usage", "set-tier", "local-admin", "free").code == 0
    first = json.loads(cli("ask", "--json", "--model", "fast", "Where is the office?").out)
    second = json.loads(cli("ask", "--json", "--model", "fast", "Where is the office?").out)
    assert first["route"]["name"] == "fast"
    assert second["route"]["name"] == "mini" and second["route"]["quota_exhausted"]
    plain = cli("ask", "--model", "fast", "Where is the office?")
    assert "quota: the free tier's fast limit" in plain.out
    shown = cli("usage", "show", "--user", "local-admin").out
    assert "fast" in shown and "requests 1/1" in shown
    assert "no tier 'gold'" in cli("usage", "set-tier", "x", "gold").err
    assert cli("usage", "reset", "local-admin").out.startswith("cleared")


def test_feedback_and_profile_commands(cli) -> None:
    answer = json.loads(cli("ask", "--json", "Where is the office?").out)
    rid = answer["request_id"]
    r = cli("feedback", "add", rid, "--down", "--note", "too short")
    assert r.code == 0 and "recorded vote 'down'" in r.out
    assert "vote" in cli("feedback", "list", "--request", rid).out
    assert "exactly one of" in cli("feedback", "add", rid, "--up", "--down").err
    assert "no answered request" in cli("feedback", "add", "req_x", "--up").err
    assert cli("profile", "set", "--personality", "robot", "--instructions", "Be brief.").code == 0
    shown = cli("profile", "show").out
    assert "personality robot" in shown and "Be brief." in shown
    assert "unknown personality" in cli("profile", "set", "--personality", "pirate").err
    assert "unknown personality" in cli("ask", "--personality", "pirate", "hi").err


def test_router_train_flags_are_checked(cli, tmp_path: Path) -> None:
    data = outcomes(tmp_path / "o.csv")
    both = cli("router", "train", "--data", str(data), "--deep-share", "0.3", "--quality", "0.9")
    assert both.code != 0 and "not both" in both.err
    assert cli("router", "train", "--data", str(data), "--deep-share", "1.5").code != 0
    bad = tmp_path / "bad.csv"
    bad.write_text("question,a,b\nx,True,False\n")
    r = cli("router", "train", "--data", str(bad))
    assert r.code != 0 and "expected a header" in r.err


def test_gateway_bench_refuses_bad_flags(cli) -> None:
    """Checked before any server starts: a negative model time, no workers, too few requests."""
    for args, flag in ((("--backend-ms", "-5"), "--backend-ms"), (("--workers", "0"), "--workers"),
                       (("--requests-c50", "3"), "--requests-c50"),
                       (("--backend-jitter", "1.5"), "--backend-jitter")):
        r = cli("bench", "gateway", *args)
        assert r.code != 0 and flag in r.err and "Traceback" not in r.err
