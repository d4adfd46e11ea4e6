"""`charter agents` and `charter bench agents` from the command line."""

from __future__ import annotations

import json

from charter.agents import engine


def test_teams_run_show_and_list_from_the_cli(cli) -> None:  # noqa: ANN001
    teams = cli("agents", "teams")
    assert teams.code == 0 and "research" in teams.out and "review" in teams.out
    try:
        done = cli("agents", "run", "research", "What is 6 times 7?", "--steps", "2", "--json")
        assert done.code == 0, done.err
        body = json.loads(done.out)
        assert body["status"] in ("completed", "budget_exhausted")
        assert body["spent"]["steps"] <= 2
        assert [s["agent"] for s in body["steps"] if s["kind"] == "model"][0] == "researcher"
        shown = cli("agents", "show", body["id"])
        assert shown.code == 0 and body["id"] in shown.out and "researcher" in shown.out
        listed = cli("agents", "list")
        assert body["id"] in listed.out
    finally:
        engine.shutdown()


def test_bad_agent_commands_say_what_to_fix(cli) -> None:  # noqa: ANN001
    cases = [(("agents", "run", "nope", "task"), "no team 'nope'"),
             (("agents", "run", "research", "task", "--steps", "0"), "bad budget"),
             (("agents", "show", "run_missing"), "no run 'run_missing'"),
             (("agents", "resume", "run_missing"), "no run 'run_missing'"),
             (("agents", "approve", "run_missing"), "no run 'run_missing'"),
             (("bench", "agents", "--steps", "4,x"), "give step counts"),
             (("bench", "agents", "--steps", "1"), "from 2 to 200"),
             (("bench", "agents", "--only", "all"), "steps, questions or both"),
             (("bench", "agents", "--only", "questions", "--questions", "nope.jsonl", "--kb",
               "."),
              "question set nope.jsonl not found"),
             (("bench", "agents", "--only", "questions", "--questions", __file__, "--kb",
               "no-such-folder"), "knowledge folder(s) not found: no-such-folder")]
    try:
        for args, words in cases:
            got = cli(*args)
            assert got.code in (1, 2), (args, got.out)
            assert words in got.err, (args, got.err)
    finally:
        engine.shutdown()


def test_a_teams_file_that_is_not_valid_is_refused_with_its_path(cli, tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "agents.yaml"
    bad.write_text("teams:\n  x:\n    mode: parallel\n    members: [a]\n")
    got = cli("agents", "teams", env={"CHARTER_AGENTS_FILE": str(bad)})
    assert got.code == 2 and str(bad) in got.err and "mode" in got.err


def test_bench_agents_puts_compound_questions_to_each_route(cli, tmp_path) -> None:  # noqa: ANN001
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "leave.md").write_text("# Leave\n\nFull-time staff get 25 days of annual leave per "
                                 "calendar year. Leave requests go through the HR portal.")
    (kb / "bikes.md").write_text("# Cycling to work\n\nBicycles can be parked in the basement "
                                 "garage on level -1. Showers are on the ground floor.")
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({
        "id": "q1", "kind": "compound",
        "question": "How many days of annual leave do full-time staff get, and where can "
                    "bicycles be parked?",
        "parts": [{"ask": "leave?", "document": "leave.md", "facts": ["25 days"]},
                  {"ask": "bikes?", "document": "bikes.md", "facts": ["basement garage"]}]})
        + "\n")
    got = cli("bench", "agents", "--only", "questions", "--questions", str(questions),
              "--kb", str(kb), "--json")
    assert got.code == 0, got.err
    routes = json.loads(got.out)["questions"]["routes"]
    assert set(routes) == {"fast", "thinking"}
    assert routes["thinking"]["all"]["fact_recall"] == 1.0
    assert routes["thinking"]["all"]["support"] == 1.0
