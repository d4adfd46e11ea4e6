"""Canary rollouts of charter drafts, router versions and model aliases: start, judge,
promote, roll back.

``start`` serves a challenger version to ``share`` of the users (sticky per user, see
``charter.rollout``); the champion is the version in force. After each challenger
request the server judges the rollout (``watch``): a challenger past a threshold is
rolled back at once (traffic returns to the champion), one shown to hold is promoted
(the charter draft approved, the router version activated, or the alias given the
challenger alias's backend and options: ``alias.added``). An admin can stop or
promote a rollout by hand. Every move is an audit event: ``rollout.started``,
``rollout.rolled_back``, ``rollout.promoted`` (with ``policy.approved``,
``router.activated`` or ``alias.added``), ``rollout.stopped``.

A charter rollout's promotion approves the draft, so the four-eyes rule of approval
applies when it starts: the admin who starts it must not be the draft's author, and is
recorded as its approver.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from charter import rollout
from charter.core.aliases import AliasConfig
from charter.core.errors import CharterError, ConflictError, InvalidInputError
from charter.core.principal import Principal, require
from charter.rollout import CHALLENGER, CHAMPION, KINDS, Rule, Verdict
from charter.runtime import Runtime
from charter.services import events
from charter.services import models as models_service
from charter.store.rollouts import Rollout

log = logging.getLogger("charter.rollout")

# The actor of automatic verdicts in the audit trail. It acts for the admin who started
# the rollout, with an admin's role: a promotion moves an alias as that admin could.
SYSTEM = Principal("system:rollout", frozenset({"admin"}))


def rule_of(rt: Runtime, **given: float | int | None) -> Rule:
    """The settings' rule with the values given for one rollout, checked."""
    s = rt.settings
    values: dict[str, Any] = {
        "margin": s.rollout_margin, "strict_margin": s.rollout_strict_margin,
        "alpha": s.rollout_alpha,
        "min_requests": s.rollout_min_requests, "promote_after": s.rollout_promote_after,
        "min_users": s.rollout_min_users, "per_user_cap": s.rollout_per_user_cap}
    for name, value in given.items():
        if name not in values:
            raise InvalidInputError(f"unknown rollout rule {name!r}")
        if value is not None:
            values[name] = value
    checks = {"margin": (0.0, 1.0), "strict_margin": (0.0, 1.0), "alpha": (1e-6, 0.5),
              "min_requests": (1, 1_000_000), "promote_after": (1, 10_000_000),
              "min_users": (1, 1_000_000), "per_user_cap": (1, 1_000_000)}
    for name, (low, high) in checks.items():
        v = values[name]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) \
                or not low <= v <= high:
            raise InvalidInputError(f"rollout {name} must be a number from {low:g} to "
                                    f"{high:g}, not {v!r}")
    if values["promote_after"] < values["min_requests"]:
        raise InvalidInputError("rollout promote_after must be at least min_requests "
                                f"({values['min_requests']})")
    return Rule(margin=float(values["margin"]), alpha=float(values["alpha"]),
                min_requests=int(values["min_requests"]),
                promote_after=int(values["promote_after"]), min_users=int(values["min_users"]),
                per_user_cap=int(values["per_user_cap"]),
                strict_margin=float(values["strict_margin"]))


def start(rt: Runtime, actor: Principal, kind: str, version: int | str, *,
          to: str | None = None, share: float | None = None,
          **rule: float | int | None) -> Rollout:
    """Start a rollout: of a charter draft or a router version (``version`` its number),
    or of a model alias (``version`` the alias's name, ``to`` the alias that serves the
    challenger arm in its place)."""
    require(actor, "admin")
    if kind not in KINDS:
        raise InvalidInputError(f"a rollout is of {', '.join(KINDS)}, not {kind!r}")
    if kind == "alias":
        return _start_alias(rt, actor, str(version), to, share, rule)
    if to is not None:
        raise InvalidInputError("--to names the challenger alias of an alias rollout only")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**31:
        raise InvalidInputError(f"version is a version number from 1, not {version!r}")
    share = _share(rt, share)
    checked = rule_of(rt, **rule)
    if kind == "charter":
        draft = rt.policies.get(version)
        if draft.state != "draft":
            raise ConflictError(f"charter version {version} is {draft.state}; a rollout "
                                "serves a draft (`charter policy propose FILE`)")
        if draft.author == actor.id:
            raise ConflictError(f"charter version {version} was proposed by {actor.id}; its "
                                "promotion approves it, so a different admin starts its "
                                "rollout")
        champion: int | None = rt.policies.active_number()
    else:
        rt.routers.load(version)  # it exists
        champion = rt.routers.active_version()
        if champion == version:
            raise ConflictError(f"router version {version} is already the active one")
    started = rt.rollouts.create(kind=kind, champion=champion, challenger=version,
                                 share=share, rule=checked, actor=actor.id)
    events.record(rt, actor, "rollout.started", started.id,
                  {"kind": kind, "champion": champion, "challenger": version,
                   "share": started.share, "rule": checked.__dict__})
    return started


def _start_alias(rt: Runtime, actor: Principal, name: str, to: str | None,
                 share: float | None, rule: dict[str, float | int | None]) -> Rollout:
    if not to:
        raise InvalidInputError(f"name the alias that serves the challenger arm in place of "
                                f"{name!r}: --to ALIAS (add it first with `charter models "
                                "add`)")
    if to == name:
        raise InvalidInputError("the challenger alias must differ from the alias rolled out")
    champion, challenger = rt.aliases.get(name, kind="chat"), rt.aliases.get(to, kind="chat")
    share = _share(rt, share)
    checked = rule_of(rt, **rule)
    started = rt.rollouts.create(kind="alias", subject=name, challenger_alias=to,
                                 champion=champion.version, challenger=challenger.version,
                                 share=share, rule=checked, actor=actor.id)
    events.record(rt, actor, "rollout.started", started.id,
                  {"kind": "alias", "alias": name, "challenger_alias": to,
                   "champion": champion.version, "challenger": challenger.version,
                   "share": share, "rule": checked.__dict__})
    return started


def _share(rt: Runtime, share: float | None) -> float:
    share = rt.settings.rollout_share if share is None else share
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
        raise InvalidInputError(f"share is the challenger's part of the users, above 0 and "
                                f"below 1 (0.2 for 20%), not {share!r}")
    return float(share)


def get(rt: Runtime, actor: Principal, rid: str) -> Rollout:
    require(actor, "admin")
    return rt.rollouts.get(rid)


def list_rollouts(rt: Runtime, actor: Principal, limit: int = 50) -> list[Rollout]:
    require(actor, "admin")
    return rt.rollouts.list(limit)


def verdict_of(rt: Runtime, r: Rollout) -> tuple[Verdict, dict[str, rollout.ArmCounts]]:
    counts = rt.rollouts.counts(r.id, r.rule.per_user_cap)
    return rollout.judge(counts[CHAMPION], counts[CHALLENGER], r.rule), counts


def judge_now(rt: Runtime, rid: str, actor: Principal = SYSTEM) -> Verdict | None:
    """Judge a running rollout and act on the verdict (None: it is not running)."""
    r = rt.rollouts.get(rid)
    if not r.running:
        return None
    verdict, _ = verdict_of(rt, r)
    if verdict.action == "rollback":
        _end(rt, r, "rolled_back", actor, verdict)
    elif verdict.action == "promote":
        _promote(rt, r, actor, verdict, approver=r.started_by)
    return verdict


def _end(rt: Runtime, r: Rollout, status: str, actor: Principal, verdict: Verdict,
         reason: str | None = None) -> bool:
    reason = reason or verdict.reason
    if not rt.rollouts.end(r.id, status=status, actor=actor.id, reason=reason,
                           verdict=verdict.as_dict()):
        return False  # another worker or admin ended it first
    event = {"rolled_back": "rollout.rolled_back", "promoted": "rollout.promoted",
             "stopped": "rollout.stopped"}[status]
    events.record(rt, actor, event, r.id,
                  {"kind": r.kind, "champion": r.champion, "challenger": r.challenger,
                   "reason": reason, "verdict": verdict.as_dict()})
    if status == "rolled_back":
        log.warning("rollout %s: %s v%s rolled back: %s", r.id, r.kind, r.challenger, reason)
    return True


def _promote(rt: Runtime, r: Rollout, actor: Principal, verdict: Verdict, *,
             approver: str) -> bool:
    if not _end(rt, r, "promoted", actor, verdict):
        return False
    try:
        if r.kind == "charter":
            version = rt.policies.approve(r.challenger, approver)
            events.record(rt, actor, "policy.approved", f"policy-v{r.challenger}",
                          {"version": r.challenger, "sha256": version.sha256,
                           "author": version.author, "note": version.note,
                           "rollout": r.id, "approver": approver})
        elif r.kind == "router":
            rt.routers.activate(r.challenger, actor=actor.id)
            events.record(rt, actor, "router.activated", f"router-v{r.challenger}",
                          {"version": r.challenger, "rollout": r.id})
        else:  # the alias rolled out takes the challenger alias's backend and options
            assert r.subject is not None and r.challenger_alias is not None
            source = rt.aliases.get(r.challenger_alias, kind="chat")
            models_service.add_alias(rt, actor, AliasConfig(
                r.subject, source.backend, source.model, source.options, kind=source.kind),
                replace=True)
    except CharterError as exc:  # e.g. the draft was approved by hand meanwhile
        log.warning("rollout %s was to be promoted, but %s", r.id, exc.message)
        events.record(rt, actor, "rollout.stopped", r.id,
                      {"kind": r.kind, "reason": f"promotion failed: {exc.message}"})
        return False
    return True


def stop(rt: Runtime, actor: Principal, rid: str, reason: str = "") -> Rollout:
    """End a rollout by hand: every user is served the champion again."""
    require(actor, "admin")
    r = rt.rollouts.get(rid)
    if not r.running:
        raise ConflictError(f"rollout {rid} has already ended ({r.status})")
    verdict, _ = verdict_of(rt, r)
    _end(rt, r, "stopped", actor, verdict, reason or f"stopped by {actor.id}")
    return rt.rollouts.get(rid)


def promote(rt: Runtime, actor: Principal, rid: str) -> Rollout:
    """Promote a rollout's challenger by hand, whatever the verdict so far (a charter
    draft is approved by ``actor``, who must not be its author)."""
    require(actor, "admin")
    r = rt.rollouts.get(rid)
    if not r.running:
        raise ConflictError(f"rollout {rid} has already ended ({r.status})")
    if r.kind == "charter" and rt.policies.get(r.challenger).author == actor.id:
        raise ConflictError(f"charter version {r.challenger} was proposed by {actor.id}; a "
                            "different admin must promote it")
    verdict, _ = verdict_of(rt, r)
    _promote(rt, r, actor, verdict, approver=actor.id)
    return rt.rollouts.get(rid)


def watch(rt: Runtime) -> None:
    """Judge rollouts in this process after each of their challenger requests."""
    rt.canary.on_challenger = lambda rid: judge_now(rt, rid)


def as_dict(rt: Runtime, r: Rollout) -> dict[str, Any]:
    """A rollout with both arms' counts and, while it runs, the verdict so far."""
    out: dict[str, Any] = {
        "id": r.id, "kind": r.kind, "alias": r.subject, "challenger_alias": r.challenger_alias,
        "champion": r.champion, "challenger": r.challenger,
        "share": r.share, "status": r.status, "reason": r.reason, "rule": r.rule.__dict__,
        "started_by": r.started_by, "created_at": r.created_at, "ended_by": r.ended_by,
        "ended_at": r.ended_at}
    verdict, counts = verdict_of(rt, r)
    out["arms"] = {arm: {"requests": round(c.requests, 2), "users": c.users,
                         "rates": {name: round(c.rate(name), 4) for name in rollout.RATES}}
                   for arm, c in counts.items()}
    out["verdict"] = verdict.as_dict() if r.running else r.verdict
    return out
