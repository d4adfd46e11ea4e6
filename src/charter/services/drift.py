"""Drift checks: the windows compared, the check recorded, the alert raised.

The gateway samples each request (``spine.drift``); a check compares the newest
``drift_window`` samples with a reference window, the ``drift_reference`` samples just
before them unless an admin pinned one (``baseline``), with the tests of
``charter.drift``. A check is claimed under the sample it covers up to, so two server
processes never run the same one. An alert goes to the log (``charter.drift``, warning),
the audit trail (``drift.alerted``, with the evidence) and, when ``drift_webhook`` is set,
a JSON POST. Reading drift state is for admins: the evidence quotes users' questions
(redacted).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import numpy as np

from charter import drift
from charter.core.errors import InvalidInputError
from charter.core.principal import Principal, require
from charter.runtime import Runtime
from charter.services import events
from charter.store.drift import Baseline, Check, DriftRepository, Sample

log = logging.getLogger("charter.drift")

SYSTEM = Principal("system:drift")  # the actor of automatic checks in the audit trail
WEBHOOK_TIMEOUT_S = 5.0
MIN_PINNED = 10


def window(samples: Sequence[Sample], vector_model: str | None = None) -> drift.Window:
    """The samples as a test window; vectors only of ``vector_model`` (a window's
    most common model by default), so that a changed embedder is not read as drift."""
    models = Counter(s.vector_model for s in samples if s.vector is not None)
    model = vector_model if vector_model is not None else (
        models.most_common(1)[0][0] if models else "")
    kept = [s for s in samples if s.vector is not None and s.vector_model == model]
    dims = Counter(len(s.vector) for s in kept if s.vector is not None)
    dim = dims.most_common(1)[0][0] if dims else 0
    kept = [s for s in kept if s.vector is not None and len(s.vector) == dim]
    vectors = (np.vstack([s.vector for s in kept if s.vector is not None]) if kept
               else np.zeros((0, 0), dtype=np.float32))
    return drift.Window(vectors, [s.decision for s in samples], [s.route for s in samples],
                        [s.question for s in kept])


@dataclass(frozen=True)
class Windows:
    reference: list[Sample]
    current: list[Sample]
    pinned: bool


def windows(rt: Runtime, upto: int) -> Windows:
    repo = DriftRepository(rt.db)
    current = repo.last(rt.settings.drift_window, upto)
    pinned = repo.baseline()
    if pinned is not None and pinned.first_id is not None:
        reference = repo.between(pinned.first_id, pinned.last_id or pinned.first_id)
        size = rt.settings.drift_reference
        if len(reference) > size:  # a wide pin: evenly spaced samples, so a check's cost
            step = len(reference) / size  # stays that of drift_reference samples
            reference = [reference[int(i * step)] for i in range(size)]
        return Windows(reference, current, True)
    before = (current[0].id - 1) if current else upto
    return Windows(repo.last(rt.settings.drift_reference, before), current, False)


def run_check(rt: Runtime, upto: int, actor: Principal = SYSTEM) -> Check | None:
    """The check of the window ending at sample ``upto``; None when another process has
    claimed it. Not enough samples yet is a check that did not fire, with the reason."""
    repo = DriftRepository(rt.db)
    if not repo.claim(upto, actor.id):
        return None
    try:
        return _checked(rt, repo, upto)
    except Exception as exc:  # the claimed check is closed with what went wrong
        repo.complete(upto, False, {"fired": False, "error": type(exc).__name__})
        raise


def _checked(rt: Runtime, repo: DriftRepository, upto: int) -> Check:
    s = rt.settings
    w = windows(rt, upto)
    needed = MIN_PINNED if w.pinned else s.drift_reference
    info: dict[str, Any] = {
        "reference_ids": [w.reference[0].id, w.reference[-1].id] if w.reference else [],
        "current_ids": [w.current[0].id, w.current[-1].id] if w.current else [],
        "pinned": w.pinned}
    if len(w.current) < s.drift_window or len(w.reference) < needed:
        check = repo.complete(upto, False, {
            **info, "fired": False, "skipped": f"not enough requests yet: {len(w.reference)} "
            f"in the reference window (needs {needed}), {len(w.current)} in the current "
            f"one (needs {s.drift_window})"})
        return check
    reference = window(w.reference)
    current = window(w.current, model_of(w.reference))
    report = drift.check(reference, current, alpha=s.drift_alpha, min_auc=s.drift_min_auc,
                         seed=upto)
    check = repo.complete(upto, report.fired, {**info, **report.as_dict()})
    if report.fired:
        alert(rt, check)
    repo.prune(upto - s.drift_keep + 1, repo.baseline())
    return check


def model_of(samples: Sequence[Sample]) -> str:
    models = Counter(s.vector_model for s in samples if s.vector is not None)
    return models.most_common(1)[0][0] if models else ""


def _summary(report: dict[str, Any]) -> str:
    fired = [t for t in report.get("tests", []) if t.get("fired")]
    parts = [f"{t['name']} (p={t['p_value']:.2g}" + (f", AUC {t['auc']:.2f}" if "auc" in t
                                                      else "") + ")" for t in fired]
    return ", ".join(parts) or "none"


def alert(rt: Runtime, check: Check) -> None:
    """The alert for a check that fired: log, audit trail, webhook."""
    report = check.report
    payload = {"upto": check.upto, "summary": _summary(report), **report}
    log.warning("drift detected in the requests up to sample %d: %s", check.upto,
                payload["summary"])
    events.record(rt, SYSTEM, "drift.alerted", f"drift:{check.upto}", payload)
    url = rt.settings.drift_webhook
    if not url:
        return
    try:
        httpx.post(url, json={"event": "drift.alerted", **payload},
                   timeout=WEBHOOK_TIMEOUT_S).raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("drift alert webhook failed: %s", type(exc).__name__)


def monitor(rt: Runtime) -> None:
    """Make this process check for drift as its requests come in (the server does; a
    one-shot CLI command does not, since it would exit in the middle of a check)."""
    if rt.settings.drift:
        rt.drift.on_due = partial(run_check, rt)


# -- what admins call -------------------------------------------------------------------


def check_now(rt: Runtime, actor: Principal) -> Check:
    """A check of the newest samples now (or the stored one when they were checked)."""
    require(actor, "admin")
    repo = DriftRepository(rt.db)
    upto = repo.latest_id()
    if upto == 0:
        raise InvalidInputError("no requests have been sampled yet; drift checks compare "
                                "requests served with the drift setting on")
    done = run_check(rt, upto, actor)
    if done is not None:
        return done
    found = [c for c in repo.checks(50) if c.upto == upto]
    return found[0]


def pin(rt: Runtime, actor: Principal, *, first_id: int | None = None,
        last_id: int | None = None, trailing: bool = False) -> Baseline:
    """Pin the reference window: samples ``first_id``..``last_id``, by default the newest
    ``drift_reference``; ``trailing`` goes back to the window before the current one."""
    require(actor, "admin")
    repo = DriftRepository(rt.db)
    if trailing:
        if first_id is not None or last_id is not None:
            raise InvalidInputError("--trailing takes no --first or --last")
        base = repo.pin(None, None, actor.id)
        events.record(rt, actor, "drift.unpinned", "drift:baseline", {})
        return base
    latest = repo.latest_id()
    last = latest if last_id is None else last_id
    if last_id is not None and not 1 <= last_id <= latest:
        raise InvalidInputError(f"--last {last_id}: samples are numbered 1 to {latest}")
    if first_id is None:
        chosen = repo.last(rt.settings.drift_reference, last)
        if not chosen:
            raise InvalidInputError("no requests have been sampled yet to pin as the "
                                    "reference")
        first = chosen[0].id
    else:
        first = first_id
    if first > last:
        raise InvalidInputError(f"--first {first} is after --last {last}")
    found = len(repo.between(first, last))
    if found < MIN_PINNED:
        raise InvalidInputError(f"samples {first} to {last} hold {found} requests; a "
                                f"reference window needs at least {MIN_PINNED}")
    base = repo.pin(first, last, actor.id)
    events.record(rt, actor, "drift.pinned", "drift:baseline",
                  {"first_id": first, "last_id": last, "samples": found})
    return base


def status(rt: Runtime, actor: Principal) -> dict[str, Any]:
    require(actor, "admin")
    repo = DriftRepository(rt.db)
    s = rt.settings
    base = repo.baseline()
    recent = repo.checks(10)
    alerts = [c for c in recent if c.fired]
    return {
        "enabled": s.drift, "samples": repo.count(), "latest": repo.latest_id(),
        "window": s.drift_window, "reference": s.drift_reference,
        "check_every": s.drift_check_every, "alpha": s.drift_alpha,
        "min_auc": s.drift_min_auc,
        "baseline": ({"first_id": base.first_id, "last_id": base.last_id,
                      "actor": base.actor, "created_at": base.created_at}
                     if base is not None and base.first_id is not None else None),
        "last_check": check_dict(recent[0]) if recent else None,
        "last_alert": check_dict(alerts[0]) if alerts else None,
    }


def list_checks(rt: Runtime, actor: Principal, limit: int = 20) -> list[Check]:
    require(actor, "admin")
    if not 1 <= limit <= 1000:
        raise InvalidInputError("--limit must be from 1 to 1000")
    return DriftRepository(rt.db).checks(limit)


def check_dict(c: Check) -> dict[str, Any]:
    return {"upto": c.upto, "fired": c.fired, "actor": c.actor, "created_at": c.created_at,
            "report": c.report}

