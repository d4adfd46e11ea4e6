"""Evaluation runs logged to MLflow as well, when MLflow is installed.

Charter keeps its own record of every run (``eval_runs``, with the versions measured);
teams that already compare experiments in MLflow get each run there too: one MLflow
experiment per suite (``charter-eval-SUITE``), one MLflow run per Charter run, the
metrics, the target and the versions as parameters, Charter's run id as a tag. Setting
``mlflow_tracking_uri``: ``local`` logs to an SQLite store in the data folder when the
``mlflow`` package (``mlflow-skinny`` is enough) can be imported and does nothing
otherwise; ``off`` never logs; any other value is the tracking URI to use. Logging
never fails an evaluation: the run is already stored, and a failure is a warning.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from charter.core.config import Settings

log = logging.getLogger("charter.evaluation")

LOCAL, OFF = "local", "off"
# MLflow's names allow letters, digits, _ - . / and spaces; anything else becomes _.
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-./ ]")


def tracking_uri(settings: Settings) -> str | None:
    """Where runs are logged, or None when they are not."""
    wanted = settings.mlflow_tracking_uri.strip()
    if wanted == OFF:
        return None
    if importlib.util.find_spec("mlflow") is None:
        if wanted != LOCAL:
            log.warning("mlflow_tracking_uri is set but the mlflow package is not "
                        "installed (pip install mlflow-skinny); runs are not logged to it")
        return None
    if wanted == LOCAL:
        folder = Path(settings.data_dir).resolve()
        return f"sqlite:///{folder / 'mlflow.db'}"
    return wanted


def _flat(versions: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in versions.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = str(value)
    return out


def log_run(settings: Settings, *, run_id: str, suite: str, scorer: str, target: str,
            versions: Mapping[str, Any], metrics: Mapping[str, float]) -> str | None:
    """The MLflow run id the evaluation was logged as (None: not logged)."""
    uri = tracking_uri(settings)
    if uri is None:
        return None
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # its table set-up notes
        client = MlflowClient(tracking_uri=uri)
        name = f"charter-eval-{suite}"
        experiment = client.get_experiment_by_name(name)
        experiment_id = (experiment.experiment_id if experiment is not None
                         else client.create_experiment(name))
        run = client.create_run(experiment_id, run_name=run_id,
                                tags={"charter.run": run_id, "charter.scorer": scorer})
        params = {"target": target or "served", **_flat(versions, "versions.")}
        stamp = 0
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(_UNSAFE.sub("_", k), float(v), stamp, 0)
                     for k, v in sorted(metrics.items())],
            params=[Param(_UNSAFE.sub("_", k)[:250], v[:6000])
                    for k, v in sorted(params.items())],
            tags=[RunTag("charter.suite", suite)])
        client.set_terminated(run.info.run_id)
        return str(run.info.run_id)
    except Exception as exc:  # a tracking store that fails never fails the evaluation
        log.warning("evaluation run %s was not logged to MLflow at %s: %s", run_id, uri, exc)
        return None
