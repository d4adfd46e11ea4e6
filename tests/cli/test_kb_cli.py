"""`charter kb` and grounded `charter ask` with the real packaged embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDBOOK = ROOT / "examples" / "handbook"

pytestmark = [pytest.mark.integration]


def test_sync_ask_with_citations_show_search_remove(cli) -> None:
    hr = cli("kb", "add", str(HANDBOOK / "hr"), "--classification", "confidential",
             "--groups", "hr")
    assert hr.code == 0 and "added 1," in hr.out
    run = cli("kb", "sync", str(HANDBOOK))
    assert run.code == 0 and "added 6, updated 0, unchanged 1, removed 0, failed 0" in run.out
    docs = json.loads(cli("kb", "list", "--json").out)
    assert len(docs) == 7
    counts = json.loads(cli("kb", "status", "--json").out)["counts"]
    assert counts["documents"] == 7 and counts["chunks"] >= 7
    assert counts["screened"] == counts["chunks"] and counts["unscreened"] == 0
    assert counts["flagged"] == 0  # the handbook holds no injected instructions
    again = cli("kb", "rescreen")
    assert again.code == 0 and again.out.startswith("screened 0 chunks")  # all current
    salary = next(d for d in docs if d["uri"].endswith("salary-bands.md"))
    assert (salary["classification"], salary["groups"]) == ("confidential", ["hr"])

    answer = json.loads(cli("ask", "--json", "How many days of paid annual leave do "
                            "full-time employees get?").out)
    assert "25 days of paid annual leave" in answer["answer"]
    assert answer["citations"] and answer["citations"][0]["document"] == "Leave and holidays"
    assert "leave.md" in answer["citations"][0]["location"]
    assert answer["citations"][0]["quote"] in (HANDBOOK / "leave.md").read_text()

    unrelated = json.loads(cli("ask", "--json", "Write two sentences about audit trails.").out)
    assert unrelated["answer"].startswith("I have no sources")  # nothing close enough to hand over
    abstain = json.loads(cli("ask", "--json", "What is the hotel limit per night in Tokyo?").out)
    assert abstain["citations"] == [] and "do not answer" in abstain["answer"]

    plain = cli("ask", "When do carried-over leave days expire?")
    assert "31 March" in plain.out and "[1]" in plain.out and "leave.md" in plain.out

    found = json.loads(cli("kb", "search", "--json", "hotel per night").out)
    assert found[0]["uri"].endswith("travel.md")
    shown = cli("kb", "show", salary["id"][:8], "--chunks")
    assert "Band L1" in shown.out
    assert cli("kb", "remove", salary["id"]).code == 0
    assert len(json.loads(cli("kb", "list", "--json").out)) == 6
    again = cli("kb", "sync", str(HANDBOOK))
    assert "added 1, updated 0, unchanged 6" in again.out


def test_missing_and_unreadable_files_are_reported(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 junk")
    run = cli("kb", "add", str(bad), str(tmp_path / "missing.md"))
    assert run.code == 1
    assert "failed: " in run.out and "bad.pdf" in run.out and "no such file" in run.out
    assert_error = cli("kb", "add", str(HANDBOOK / "leave.md"), "--classification", "secret")
    assert assert_error.code == 2 and "unknown classification 'secret'" in assert_error.err
    assert cli("kb", "show", "nope").code == 2


def test_bad_input_to_kb_and_bench_commands(cli, tmp_path: Path) -> None:
    for args, fragment in [
        (("kb", "sync", str(tmp_path / "nowhere")), "not a folder"),
        (("kb", "search", "leave", "--mode", "magic"), "search mode must be"),
        (("kb", "add", str(HANDBOOK / "leave.md"), "--groups", "h r"), "invalid group name"),
        (("bench", "retrieval", "--dataset", str(tmp_path)), "corpus.jsonl"),
        (("bench", "answers", "--devset", str(tmp_path / "none.jsonl")), "not found"),
        (("kb", "job", "job_nope"), "no job 'job_nope'"),
        (("bench", "hostile", "--case", "no such case"), "no case"),
        (("bench", "loaders", "--src", str(tmp_path / "nowhere")), "not a folder"),
    ]:
        run = cli(*args)
        assert run.code == 2, (args, run.err)
        assert run.err.startswith("error: ") and fragment in run.err, (args, run.err)


def test_kb_job_shows_a_job_an_api_user_started(cli, tmp_path: Path) -> None:
    from charter.core.config import load_settings
    from charter.runtime import Runtime

    cli("init")
    rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": str(tmp_path / "data")}))
    try:
        job = rt.jobs.create("upload", "alice", note="reading leave.md")
        rt.jobs.finish(job.id, {"id": "doc-1", "chunks": 4})
    finally:
        rt.close()
    shown = cli("kb", "job", job.id, "--json")
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["result"] == {"id": "doc-1", "chunks": 4}
