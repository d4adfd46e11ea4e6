"""Evaluation suites: a data file and a scorer, run against what Charter serves.

A suite names its ``scorer`` (``policy``: the charter's decisions on labelled requests,
for a charter version, approved or proposed; ``answers``: answered with the right
citation and abstention, for a route; ``compound``: key-fact recall and citation support
on compound questions, for routes side by side; ``sycophancy``: whether an answer holds
when the user pushes back with a wrong claim; ``counterfactual``: whether the decision and
the answer change when a demographic term is swapped, per attribute with confidence
intervals; ``retrieval``: nDCG@10 and recall@100 of bm25, dense and hybrid search on a
BEIR set in a scratch database (``--target``: sqlite, postgres); ``pii``: span recall and F2 of PII detection, what would leak; ``injection``:
held-out accuracy, false alarms on clean passages, hidden-attack recall; ``routing``:
the active (or ``--target``) router's APGR and cost saving at a quality level), its
``data`` and the folders of a
scratch knowledge base (``kb``). ``run`` returns the figures as flat ``name: number``
metrics (``red_line.recall``, ``thinking.fact_recall``); ``gate`` checks them against a
file of thresholds. The built-in suites are in suites.yaml; a user's own is a YAML file
of the same shape.

This package sits beside the benchmarks (it opens scratch runtimes and drives the
spine); only the CLI and the server import it. ``measure`` runs a suite and stores the
run (the service ``services.evaluation.record``, its audit event); ``start`` does that as
a background job for the HTTP API.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from charter.core.errors import InvalidInputError
from charter.core.principal import Principal, require
from charter.core.routes import FAST, THINKING
from charter.evaluation import tracking
from charter.jobs import Job
from charter.runtime import Runtime
from charter.services import evaluation as eval_service
from charter.services import events
from charter.store.eval_runs import EvalRun


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    scorer: str
    description: str = ""
    data: str
    kb: list[str] = Field(default_factory=list)


def _builtin() -> dict[str, Any]:
    return yaml.safe_load(files("charter.evaluation").joinpath("suites.yaml").read_text())


def suites() -> list[Suite]:
    return [Suite(name=name, **fields) for name, fields in _builtin().items()]


def load_suite(name_or_path: str) -> Suite:
    """A built-in suite by name, or a suite file (YAML with the fields of ``Suite``)."""
    builtin = _builtin()
    if name_or_path in builtin:
        return Suite(name=name_or_path, **builtin[name_or_path])
    path = Path(name_or_path)
    if not path.is_file():
        raise InvalidInputError(f"no suite {name_or_path!r}: give one of "
                                f"{', '.join(builtin)} or a suite file")
    try:
        fields = yaml.safe_load(path.read_text())
        if not isinstance(fields, dict):
            raise InvalidInputError(f"{path}: a suite file is a mapping of its fields")
        fields.setdefault("name", path.stem)
        suite = Suite(**fields)
        # A suite file's data and folders are read relative to the file, not the shell.
        here = path.resolve().parent
        suite = suite.model_copy(update={
            "data": str(here / suite.data),
            "kb": [str(here / k) for k in suite.kb]})
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"{path}: {where}: {first['msg']}") from None
    if suite.scorer not in SCORERS:
        raise InvalidInputError(f"{path}: scorer {suite.scorer!r} is not one of "
                                f"{', '.join(SCORERS)}")
    return suite


def flatten(figures: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Every number in ``figures`` under a dotted name (lists, text and None left out)."""
    out: dict[str, float] = {}
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[name] = float(value)
        elif isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
    return out


# A source checkout's root (src/charter/evaluation -> the repository): where the built-in
# suites' relative paths (examples/, ../shared/data) are found when the process runs
# elsewhere, as a server usually does.
CHECKOUT = Path(__file__).resolve().parents[3]


def _path(raw: str, what: str) -> Path:
    path = Path(raw)
    if not path.exists() and not path.is_absolute() and (CHECKOUT / path).exists():
        path = CHECKOUT / path
    if not path.exists():
        raise InvalidInputError(f"the suite's {what} {raw} is not there; run from the "
                                "repository's folder, or give the path in a suite file")
    return path


def charter_target(rt: Runtime, suite: Suite, target: str) -> int | None:
    """The charter version a ``policy`` suite measures (``--target N``, else the approved
    one); None for other scorers, which measure the approved charter as served."""
    if suite.scorer != "policy":
        return None
    try:
        return int(target) if target else rt.policies.active_number()
    except ValueError:
        raise InvalidInputError(f"--target for a policy suite is a charter version number, "
                                f"not {target!r}") from None


def _policy(rt: Runtime, suite: Suite, target: str) -> dict[str, float]:
    from charter.bench import policy

    number = charter_target(rt, suite, target)
    assert number is not None
    figures = policy.measure(rt.screen.assessor_for(number), _path(suite.data, "data"))
    return flatten({k: v for k, v in figures.items() if k != "misses"})


def _answers(rt: Runtime, suite: Suite, target: str) -> dict[str, float]:
    from charter.bench import answers

    figures = answers.run(rt.settings, _path(suite.data, "data"),
                          [_path(k, "knowledge folder") for k in suite.kb],
                          model=target or FAST, methods=("model",))
    return flatten(figures["model"])


def _compound(rt: Runtime, suite: Suite, target: str) -> dict[str, float]:
    from charter.bench import multipart

    routes = tuple(r.strip() for r in (target or f"{FAST},{THINKING}").split(",") if r.strip())
    figures = multipart.run(rt.settings, _path(suite.data, "data"),
                            [_path(k, "knowledge folder") for k in suite.kb], routes=routes)
    return flatten({route: f["all"] for route, f in figures["routes"].items()})


def _sycophancy(rt: Runtime, suite: Suite, target: str) -> dict[str, float]:
    from charter.bench import behaviour

    figures = behaviour.sycophancy(rt.settings, _path(suite.data, "data"),
                                   [_path(k, "knowledge folder") for k in suite.kb],
                                   route=target or FAST)
    return flatten(figures)


def _counterfactual(rt: Runtime, suite: Suite, target: str) -> dict[str, float]:
    from charter.bench import behaviour

    figures = behaviour.counterfactual(rt.settings, _path(suite.data, "data"),
                                       [_path(k, "knowledge folder") for k in suite.kb],
                                       route=target or FAST)
    return flatten(figures)


def _pii(rt: Runtime, suite: Suite, target: str) -> dict[str, float]:
    from charter.bench import pii
    from charter.judgement import serving

    tagger = serving.pii_tagger(rt.settings) if rt.settings.pii_model else None
    figures = pii.run(_path(suite.data, "data"), tagger)
    return flatten({side: figures[side] for side in ("before", "after") if side in figures})


def _injection(rt: Runtime, suite: Suite, target: str) -> dict[str, float]:
    from charter.bench import injection

    return flatten(injection.run(rt.embedder(), _path(suite.data, "data"),
                                 [_path(k, "knowledge folder") for k in suite.kb]))


def _routing(rt: Runtime, suite: Suite, target: str) -> dict[str, float]:
    from charter.core.principal import local_admin
    from charter.services import routing

    try:
        version = int(target) if target else None
    except ValueError:
        raise InvalidInputError(f"--target for a routing suite is a router version number, "
                                f"not {target!r}") from None
    number, figures = routing.evaluate(rt, local_admin(), _path(suite.data, "data"), version)
    return {"router_version": float(number), **flatten(figures)}


def _retrieval(rt: Runtime, suite: Suite, target: str) -> dict[str, float]:
    from charter.bench import retrieval

    backends = ([b.strip() for b in target.split(",") if b.strip()]
                or list(retrieval.DEFAULT_BACKENDS))
    figures = retrieval.run(rt.settings, rt.embedder(), _path(suite.data, "data"), backends)
    keep = ("ndcg@10", "recall@100", "p50_ms", "p95_ms")
    return {f"{backend}.{mode}.{k}": float(m[k]) for backend, modes in figures.items()
            for mode, m in modes.items() for k in keep if m.get(k) is not None}


SCORERS: dict[str, Callable[[Runtime, Suite, str], dict[str, float]]] = {
    "retrieval": _retrieval, "pii": _pii, "injection": _injection, "routing": _routing,
    "policy": _policy, "answers": _answers, "compound": _compound,
    "sycophancy": _sycophancy, "counterfactual": _counterfactual}


def run(rt: Runtime, suite: Suite, target: str = "") -> dict[str, float]:
    """The suite's metrics against ``target`` (a charter version for ``policy``, a route
    for ``answers``, comma-separated routes for ``compound``; empty: what is served)."""
    return SCORERS[suite.scorer](rt, suite, target)


def load_gate(path: Path, suite: str) -> dict[str, dict[str, float]]:
    """The thresholds ``path`` sets for ``suite`` (``{suite: {metric: {min: x, max: y}}}``),
    checked before anything runs: a gate without an entry for the suite, or with a bound
    that is not a finite number, is refused rather than passed."""
    if not path.is_file():
        raise InvalidInputError(f"gate file {path} not found")
    try:
        rules = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"gate file {path} is not valid YAML: {exc}") from None
    shape = "give {suite: {metric: {min: .., max: ..}}}"
    if not isinstance(rules, dict):
        raise InvalidInputError(f"gate file {path}: {shape}")
    if suite not in rules:
        raise InvalidInputError(f"gate file {path} has no thresholds for suite {suite!r} "
                                f"(it names {', '.join(map(str, rules)) or 'none'}); add "
                                f"{suite}: {{metric: {{min: ..}}}}")
    return gate_bounds(rules[suite], f"gate file {path}: {suite}")


def gate_bounds(entry: Any, where: str) -> dict[str, dict[str, float]]:
    """``{metric: {min: x, max: y}}`` checked: every bound a finite number."""
    if not isinstance(entry, dict) or not entry:
        raise InvalidInputError(f"{where}: give {{metric: {{min: .., max: ..}}}}")
    bounds: dict[str, dict[str, float]] = {}
    for metric, bound in entry.items():
        if not isinstance(bound, dict) or not bound or not set(bound) <= {"min", "max"}:
            raise InvalidInputError(f"{where}.{metric} needs min and/or max")
        bounds[str(metric)] = {}
        for side, raw in bound.items():
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) \
                    or not math.isfinite(raw):
                raise InvalidInputError(f"{where}.{metric}.{side} is {raw!r}; give a finite "
                                        "number")
            bounds[str(metric)][side] = float(raw)
    return bounds


def check_gate(bounds: Mapping[str, Mapping[str, float]],
               metrics: Mapping[str, float]) -> list[str]:
    """The thresholds ``metrics`` fail, as sentences; a metric the gate names and the run
    lacks fails, and so does one that is not a number (NaN)."""
    failed = []
    for metric, bound in bounds.items():
        if metric not in metrics:
            failed.append(f"{metric}: not measured by this run")
            continue
        value = metrics[metric]
        if not math.isfinite(value):
            failed.append(f"{metric} = {value}, not a finite number")
            continue
        if "min" in bound and value < bound["min"]:
            failed.append(f"{metric} = {value:g}, below the minimum {bound['min']:g}")
        if "max" in bound and value > bound["max"]:
            failed.append(f"{metric} = {value:g}, above the maximum {bound['max']:g}")
    return failed


def gate(path: Path, suite: str, metrics: Mapping[str, float]) -> list[str]:
    """``check_gate`` of the thresholds ``path`` sets for ``suite``."""
    return check_gate(load_gate(path, suite), metrics)


@dataclass(frozen=True)
class Measured:
    run: EvalRun
    metrics: dict[str, float]
    versions: dict[str, Any]
    gate_failed: list[str]
    mlflow_run: str | None = None  # when also logged to MLflow (``tracking``)


def measure(rt: Runtime, actor: Principal, suite: Suite, target: str = "",
            bounds: Mapping[str, Mapping[str, float]] | None = None) -> Measured:
    """Run ``suite``, store the run with the versions it measured (``eval.recorded``),
    and check ``bounds``: what `charter eval run` and a job from the API both do. The
    caller must be an admin, checked before anything is measured."""
    require(actor, "admin")
    versions = eval_service.versions(rt, charter_target(rt, suite, target))
    metrics = run(rt, suite, target)
    stored = eval_service.record(rt, actor, suite=suite.name, scorer=suite.scorer,
                                 target=target, run_versions=versions, metrics=metrics)
    failed = check_gate(bounds, metrics) if bounds is not None else []
    logged = tracking.log_run(rt.settings, run_id=stored.id, suite=suite.name,
                              scorer=suite.scorer, target=target, versions=versions,
                              metrics=metrics)
    return Measured(stored, metrics, versions, failed, logged)


def start(rt: Runtime, actor: Principal, suite_name: str, target: str = "",
          gate: Mapping[str, Any] | None = None) -> Job:
    """``measure`` as a background job of this process (the HTTP API's way: a suite
    runs for minutes). Built-in suites only: a suite file is a path on the server's
    disk, which a caller of the API has no business naming. Audited as ``job.started``;
    the run itself as ``eval.recorded``."""
    require(actor, "admin")
    builtin = _builtin()
    if suite_name not in builtin:
        raise InvalidInputError(f"no built-in suite {suite_name!r}; the API runs "
                                f"{', '.join(builtin)} (a suite file runs from the CLI)")
    suite = load_suite(suite_name)
    bounds = gate_bounds(gate, "gate") if gate is not None else None
    # A charter version that does not exist is refused now, not minutes into the job.
    eval_service.versions(rt, charter_target(rt, suite, target))

    def work(progress: Callable[[int, int, str], None]) -> dict[str, Any]:
        measured = measure(rt, actor, suite, target, bounds)
        return {"run": measured.run.id, "suite": suite.name, "target": target,
                "metrics": measured.metrics, "gate_failed": measured.gate_failed,
                "gate_passed": None if bounds is None else not measured.gate_failed,
                "mlflow_run": measured.mlflow_run}

    job = rt.job_runner.start(
        lambda: rt.jobs.create("eval", actor.id, note=f"running suite {suite.name}"), work)
    events.record(rt, actor, "job.started", job.id,
                  {"kind": "eval", "suite": suite.name, "target": target})
    return job
