"""Evaluation suites: a data file and a scorer, run against what Charter serves.

A suite names its ``scorer`` (``policy``: the charter's decisions on labelled requests,
for a charter version, approved or proposed; ``answers``: answered with the right
citation and abstention, for a route; ``compound``: key-fact recall and citation support
on compound questions, for routes side by side), its ``data`` and the folders of a
scratch knowledge base (``kb``). ``run`` returns the figures as flat ``name: number``
metrics (``red_line.recall``, ``thinking.fact_recall``); ``gate`` checks them against a
file of thresholds. The built-in suites are in suites.yaml; a user's own is a YAML file
of the same shape.

This package sits beside the benchmarks (it opens scratch runtimes and drives the
spine); only the CLI and the server import it, and storing a run is the service
``services.evaluation.record``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from charter.core.errors import InvalidInputError
from charter.core.routes import FAST, THINKING
from charter.runtime import Runtime


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


def _path(raw: str, what: str) -> Path:
    path = Path(raw)
    if not path.exists():
        raise InvalidInputError(f"the suite's {what} {raw} is not there; run from the "
                                "repository's folder, or give the path in a suite file")
    return path


def _policy(rt: Runtime, suite: Suite, target: str) -> dict[str, float]:
    from charter.bench import policy

    try:
        number = int(target) if target else rt.policies.active_number()
    except ValueError:
        raise InvalidInputError(f"--target for a policy suite is a charter version number, "
                                f"not {target!r}") from None
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


SCORERS: dict[str, Callable[[Runtime, Suite, str], dict[str, float]]] = {
    "policy": _policy, "answers": _answers, "compound": _compound}


def run(rt: Runtime, suite: Suite, target: str = "") -> dict[str, float]:
    """The suite's metrics against ``target`` (a charter version for ``policy``, a route
    for ``answers``, comma-separated routes for ``compound``; empty: what is served)."""
    return SCORERS[suite.scorer](rt, suite, target)


def gate(path: Path, suite: str, metrics: Mapping[str, float]) -> list[str]:
    """The thresholds of ``path`` (``{suite: {metric: {min: x, max: y}}}``) that
    ``metrics`` fail, as sentences; a metric the gate names and the run lacks fails."""
    if not path.is_file():
        raise InvalidInputError(f"gate file {path} not found")
    try:
        rules = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"gate file {path} is not valid YAML: {exc}") from None
    if not isinstance(rules, dict) or not isinstance(rules.get(suite, {}), dict):
        raise InvalidInputError(f"gate file {path}: give {{suite: {{metric: {{min: .., max: ..}}}}}}")
    failed = []
    for metric, bound in (rules.get(suite) or {}).items():
        if not isinstance(bound, dict) or not set(bound) <= {"min", "max"} or not bound:
            raise InvalidInputError(f"gate file {path}: {suite}.{metric} needs min and/or max")
        if metric not in metrics:
            failed.append(f"{metric}: not measured by this run")
            continue
        value = metrics[metric]
        if "min" in bound and value < float(bound["min"]):
            failed.append(f"{metric} = {value:g}, below the minimum {bound['min']}")
        if "max" in bound and value > float(bound["max"]):
            failed.append(f"{metric} = {value:g}, above the maximum {bound['max']}")
    return failed
