"""Suites, metrics, gates and stored runs (charter.evaluation, services.evaluation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter import evaluation
from charter.core.errors import CharterError, ForbiddenError, InvalidInputError
from charter.core.principal import Principal, local_admin
from charter.runtime import Runtime
from charter.services import evaluation as service

USER = Principal("u-1", frozenset({"user"}))
REVIEWER = Principal("u-2", frozenset({"user", "reviewer"}))


def test_builtin_suites_name_a_known_scorer_and_their_data() -> None:
    names = {s.name: s for s in evaluation.suites()}
    assert set(names) == {"policy", "answers", "compound", "sycophancy", "counterfactual",
                          "pii", "injection", "routing", "retrieval"}
    assert all(s.scorer in evaluation.SCORERS and s.data for s in names.values())
    assert evaluation.load_suite("compound").kb == ["examples/handbook",
                                                    "../shared/data/seed-corpus"]


def test_metrics_are_the_numbers_of_the_figures_under_dotted_names() -> None:
    figures = {"red_line": {"recall": 0.9, "n": 10}, "over_refusal": 0.02, "ok": True,
               "misses": [{"text": "x"}], "note": "text", "none": None}
    assert evaluation.flatten(figures) == {"red_line.recall": 0.9, "red_line.n": 10.0,
                                           "over_refusal": 0.02}


def test_a_gate_names_each_threshold_a_run_fails(tmp_path: Path) -> None:
    gate = tmp_path / "gate.yaml"
    gate.write_text("policy:\n  red_line.recall: {min: 0.95}\n  over_refusal: {max: 0.03}\n"
                    "  high_risk.recall: {min: 0.5}\nanswers:\n  x: {min: 1}\n")
    failed = evaluation.gate(gate, "policy", {"red_line.recall": 0.9, "over_refusal": 0.01})
    assert failed == ["red_line.recall = 0.9, below the minimum 0.95",
                      "high_risk.recall: not measured by this run"]
    # A run that is not a number fails the bound rather than slipping past it.
    assert evaluation.gate(gate, "answers", {"x": float("nan")}) == [
        "x = nan, not a finite number"]
    # A gate with nothing to say of the suite is refused, not passed.
    with pytest.raises(InvalidInputError, match="no thresholds for suite 'compound'"):
        evaluation.gate(gate, "compound", {})
    with pytest.raises(InvalidInputError, match="not found"):
        evaluation.gate(tmp_path / "none.yaml", "policy", {})


@pytest.mark.parametrize("bound, words", [
    ("{min: .nan}", "give a finite number"), ("{min: high}", "give a finite number"),
    ("{min: true}", "give a finite number"), ("{least: 1}", "needs min and/or max"),
    ("0.9", "needs min and/or max")])
def test_a_gate_bound_that_is_not_a_finite_number_is_refused(tmp_path: Path, bound: str,
                                                             words: str) -> None:
    gate = tmp_path / "gate.yaml"
    gate.write_text(f"policy:\n  red_line.recall: {bound}\n")
    with pytest.raises(InvalidInputError, match=words):
        evaluation.load_gate(gate, "policy")


def test_a_suite_files_paths_are_read_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "cases.jsonl").write_text("")
    suite = tmp_path / "mine.yaml"
    suite.write_text("scorer: answers\ndata: cases.jsonl\nkb: [docs]\n")
    loaded = evaluation.load_suite(str(suite))
    assert loaded.name == "mine"
    assert Path(loaded.data) == tmp_path.resolve() / "cases.jsonl"
    assert [Path(k) for k in loaded.kb] == [tmp_path.resolve() / "docs"]


def test_a_run_is_stored_with_its_versions_for_admins_and_read_by_reviewers(
        runtime: Runtime) -> None:
    versions = service.versions(runtime)
    assert versions["charter"]["version"] == 1 and "fast" in versions["aliases"]
    assert versions["charter"]["approved"] is True
    with pytest.raises(ForbiddenError):
        service.record(runtime, REVIEWER, suite="policy", scorer="policy", target="",
                       run_versions=versions, metrics={"a": 1.0})
    a = service.record(runtime, local_admin(), suite="policy", scorer="policy", target="",
                       run_versions=versions, metrics={"a": 1.0, "b": 2.0})
    b = service.record(runtime, local_admin(), suite="policy", scorer="policy", target="2",
                       run_versions=versions, metrics={"a": 0.5, "c": 3.0})
    assert [r.id for r in service.list_runs(runtime, REVIEWER)] == [b.id, a.id]
    with pytest.raises(ForbiddenError):
        service.list_runs(runtime, USER)
    rows = {r["metric"]: r for r in service.compare(runtime, REVIEWER, a.id, b.id)}
    assert rows["a"]["change"] == -0.5 and rows["b"]["second"] is None
    other = service.record(runtime, local_admin(), suite="answers", scorer="answers",
                           target="", run_versions=versions, metrics={})
    with pytest.raises(InvalidInputError, match="different suites"):
        service.compare(runtime, REVIEWER, a.id, other.id)


def test_the_pii_suite_scores_spans_with_patterns_and_the_model(tmp_path: Path,
                                                                 runtime: Runtime) -> None:
    rows = [("Write to jane.roe@example.org about the invoice.", "EMAIL_ADDRESS",
             "jane.roe@example.org"),
            ("Catherine Miller signed the form yesterday.", "PERSON", "Catherine Miller")]
    data = [{"full_text": text, "masked": None, "template_id": None, "metadata": None,
             "spans": [{"entity_type": kind, "entity_value": value,
                        "start_position": text.index(value),
                        "end_position": text.index(value) + len(value)}]}
            for text, kind, value in rows]
    import json

    (tmp_path / "pii.json").write_text(json.dumps(data))
    (tmp_path / "suite.yaml").write_text("scorer: pii\ndata: pii.json\n")
    metrics = evaluation.run(runtime, evaluation.load_suite(str(tmp_path / "suite.yaml")))
    assert metrics["before.entities.EMAIL_ADDRESS.recall"] == 1.0
    assert "before.entities.PERSON.recall" not in metrics  # patterns never claim names
    assert metrics["after.entities.PERSON.recall"] == 1.0  # the shipped PII model does
    assert metrics["after.entities.PERSON.gold"] == 1.0


def test_the_routing_suite_needs_a_router_and_a_version_number(tmp_path: Path,
                                                               runtime: Runtime) -> None:
    (tmp_path / "mmlu").mkdir()
    (tmp_path / "suite.yaml").write_text("scorer: routing\ndata: mmlu\n")
    suite = evaluation.load_suite(str(tmp_path / "suite.yaml"))
    with pytest.raises(InvalidInputError, match="router version number"):
        evaluation.run(runtime, suite, target="champion")
    with pytest.raises(CharterError, match="router"):
        evaluation.run(runtime, suite)


def test_the_retrieval_suite_reports_ndcg_and_recall_per_search_mode(tmp_path: Path,
                                                                     runtime: Runtime) -> None:
    import json

    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    docs = {"d1": "Penguins live in the southern hemisphere and cannot fly.",
            "d2": "Volcanic eruptions release sulfur dioxide into the atmosphere.",
            "d3": "The mitochondrion produces most of the cell's chemical energy."}
    (beir / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": k, "title": "", "text": v}) + "\n" for k, v in docs.items()))
    (beir / "queries.jsonl").write_text(
        json.dumps({"_id": "q1", "text": "Where do penguins live?"}) + "\n"
        + json.dumps({"_id": "q2", "text": "What do volcanoes emit?"}) + "\n")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n"
                                             "q2\td2\t1\n")
    (tmp_path / "suite.yaml").write_text("scorer: retrieval\ndata: beir\n")
    metrics = evaluation.run(runtime, evaluation.load_suite(str(tmp_path / "suite.yaml")))
    assert metrics["sqlite.hybrid.ndcg@10"] == 1.0 and metrics["sqlite.dense.recall@100"] == 1.0
    assert metrics["sqlite.bm25.recall@100"] == 0.5  # "volcanoes emit" shares no word
    assert {k.split(".")[1] for k in metrics} == {"bm25", "dense", "hybrid"}
    with pytest.raises(InvalidInputError, match="unknown backend"):
        evaluation.run(runtime, evaluation.load_suite(str(tmp_path / "suite.yaml")),
                       target="oracle")
