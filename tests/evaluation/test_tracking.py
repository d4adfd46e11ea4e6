"""Evaluation runs logged to MLflow (charter.evaluation.tracking): metrics, versions and
Charter's run id in an SQLite store in the data folder; off, missing or failing MLflow
never fails a run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from charter import evaluation
from charter.core.config import Settings
from charter.core.principal import local_admin
from charter.evaluation import tracking
from charter.runtime import Runtime

mlflow = pytest.importorskip("mlflow", reason="mlflow-skinny is in the test extras")


def _pii_suite(tmp_path: Path) -> evaluation.Suite:
    text = "Write to jane.roe@example.org about the invoice."
    start = text.index("jane")
    (tmp_path / "pii.json").write_text(json.dumps([{
        "full_text": text, "masked": None, "template_id": None, "metadata": None,
        "spans": [{"entity_type": "EMAIL_ADDRESS", "entity_value": "jane.roe@example.org",
                   "start_position": start, "end_position": start + 20}]}]))
    (tmp_path / "suite.yaml").write_text("scorer: pii\ndata: pii.json\n")
    return evaluation.load_suite(str(tmp_path / "suite.yaml"))


def test_a_measured_run_is_logged_with_its_metrics_versions_and_id(
        tmp_path: Path, runtime: Runtime) -> None:
    measured = evaluation.measure(runtime, local_admin(), _pii_suite(tmp_path))
    assert measured.mlflow_run is not None
    uri = tracking.tracking_uri(runtime.settings)
    assert uri is not None and uri.endswith("/mlflow.db")
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    logged = client.get_run(measured.mlflow_run)
    assert logged.data.tags["charter.run"] == measured.run.id
    assert logged.data.metrics["before.recall"] == measured.metrics["before.recall"] == 1.0
    assert logged.data.params["versions.charter.version"] == "1"
    assert logged.data.params["target"] == "served"
    experiment = client.get_experiment(logged.info.experiment_id)
    assert experiment.name == "charter-eval-suite"


def test_names_mlflow_refuses_are_made_safe(settings: Settings) -> None:
    run = tracking.log_run(settings, run_id="eval_x", suite="retrieval", scorer="retrieval",
                           target="", versions={"charter": {"version": 1}},
                           metrics={"sqlite.hybrid.ndcg@10": 0.7})
    client = mlflow.tracking.MlflowClient(tracking_uri=tracking.tracking_uri(settings))
    assert client.get_run(run).data.metrics == {"sqlite.hybrid.ndcg_10": 0.7}


def test_off_missing_or_failing_mlflow_logs_nothing_and_fails_nothing(
        settings: Settings, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    args = {"run_id": "eval_y", "suite": "policy", "scorer": "policy", "target": "",
            "versions": {}, "metrics": {"a": 1.0}}
    assert tracking.log_run(settings.with_overrides(mlflow_tracking_uri="off"), **args) is None
    blocker = Path(settings.data_dir).parent / "a-file"
    blocker.write_text("not a folder")
    broken = settings.with_overrides(mlflow_tracking_uri=f"sqlite:///{blocker}/m.db")
    with caplog.at_level(logging.WARNING, logger="charter.evaluation"):
        assert tracking.log_run(broken, **args) is None
    assert "was not logged to MLflow" in caplog.text
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None)
    assert tracking.tracking_uri(settings) is None
    with caplog.at_level(logging.WARNING, logger="charter.evaluation"):
        assert tracking.tracking_uri(broken) is None
    assert "not installed" in caplog.text
