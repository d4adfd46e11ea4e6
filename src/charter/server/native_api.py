"""Charter's own API under /api: documents, feedback, reviews, use cases, policy versions,
audit events, usage, users and keys. Every endpoint checks the caller's role; document
listings are filtered by the caller's clearance and groups."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path as PathParam, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from charter import reviewing
from charter.auth import Principal
from charter.errors import ForbiddenError, InvalidInputError, NotFoundError
from charter.server.deps import caller, require, runtime

router = APIRouter(prefix="/api", tags=["charter"])
MAX_INT = 2**31 - 1  # what an INTEGER column holds on every database


def _plain(obj: Any) -> Any:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- who am I ------------------------------------------------------------------------------

@router.get("/me", summary="The caller: roles, clearance, groups, tier, profile")
def me(request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    profile = rt.profiles.get(p.id)
    return {"id": p.id, "display_name": p.display_name, "roles": sorted(p.roles),
            "clearance": p.clearance, "groups": sorted(p.groups), "tier": rt.quotas.tier_of(p),
            "personality": profile.personality, "instructions": profile.instructions}


class ProfileIn(Strict):
    personality: str | None = None
    instructions: str | None = Field(None, max_length=5000)


@router.put("/me/profile", summary="Set your personality and custom instructions")
def set_profile(body: ProfileIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    prof = runtime(request).profiles.set(p.id, personality=body.personality,
                                         instructions=body.instructions)
    return _plain(prof)


# -- documents ----------------------------------------------------------------------------------

@router.get("/documents", summary="Documents the caller may see")
def documents(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    rt = runtime(request)
    from charter.knowledge.store import KnowledgeStore

    out = []
    for d in KnowledgeStore(rt.db).list():
        if p.may_read(d.classification, d.groups):
            out.append({"id": d.id, "uri": d.uri, "title": d.title,
                        "classification": d.classification, "groups": d.groups,
                        "tags": d.tags, "chunks": d.chunk_count, "version": d.version,
                        "updated_at": d.updated_at})
    return out


@router.post("/documents", summary="Upload one document (raw body; admin)")
async def upload(request: Request, filename: str = Query(..., min_length=1, max_length=200),
                 classification: str = Query("internal"), groups: str = Query(""),
                 p: Principal = Depends(caller)) -> dict[str, Any]:
    require(p, "admin")
    name = Path(filename).name
    if not name or name.startswith("."):
        raise InvalidInputError("filename must be a plain file name such as policy.pdf")
    body = await request.body()
    if not body:
        raise InvalidInputError("the request body is empty: send the file's bytes")
    rt = runtime(request)

    def ingest() -> dict[str, Any]:
        from charter.knowledge.ingest import IngestOptions, Ingestor

        folder = rt.settings.data_path / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
            tmp.write(body)
        Path(tmp.name).replace(target)
        report = Ingestor(rt.db, rt.embedder()).add(
            [target], IngestOptions(classification=classification,
                                    groups=[g for g in groups.split(",") if g], source="upload"))
        return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
                "failed": [{"file": f, "reason": r} for f, r in report.failed],
                "chunks": report.chunks}

    return await run_in_threadpool(ingest)


@router.delete("/documents/{doc_id}", summary="Remove a document (admin)")
def delete_document(doc_id: str, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    require(p, "admin")
    from charter.knowledge.store import KnowledgeStore

    store = KnowledgeStore(runtime(request).db)
    store.get(doc_id)  # 404 when unknown
    store.remove([doc_id])
    return {"removed": doc_id}


@router.get("/documents/status", summary="Knowledge-base counts and index (reviewer)")
def kb_status(request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    require(p, "reviewer")
    from charter.knowledge.store import KnowledgeStore

    store = KnowledgeStore(runtime(request).db)
    info = store.index_info()
    return {"counts": store.counts(), "embedding_model": info[0] if info else None,
            "dimension": info[1] if info else None, "generation": store.generation()}


# -- feedback --------------------------------------------------------------------------------

class FeedbackIn(Strict):
    request_id: str = Field(min_length=1, max_length=64)
    kind: Literal["vote", "correction", "eval"]
    value: str = Field(min_length=1, max_length=5000)
    note: str = Field("", max_length=2000)


@router.post("/feedback", summary="Vote, correct or evaluate an answer")
def feedback(body: FeedbackIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    if body.kind == "eval":
        require(p, "reviewer")
    owner = rt.gateway.route_log.owner(body.request_id)
    if owner is not None and owner != p.id and not p.has_role("reviewer"):
        raise ForbiddenError("you can give feedback only on your own requests")
    return _plain(rt.feedback.record(body.request_id, p.id, body.kind, body.value, body.note))


# -- reviews ------------------------------------------------------------------------------------

@router.get("/reviews", summary="Held requests (reviewer)")
def reviews(request: Request, state: str | None = Query("pending"),
            p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    require(p, "reviewer")
    return [{k: v for k, v in _plain(r).items() if k != "request"}
            for r in runtime(request).reviews.list(state or None)]


@router.get("/reviews/mine", summary="Your own held requests and their answers")
def my_reviews(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [{k: v for k, v in _plain(r).items() if k != "request"}
            for r in runtime(request).reviews.list(None) if r.principal_id == p.id]


class DecisionIn(Strict):
    note: str = Field(min_length=1, max_length=2000)


@router.post("/reviews/{review_id}/approve", summary="Approve: the request is answered (reviewer)")
async def approve(review_id: str, body: DecisionIn, request: Request,
                  p: Principal = Depends(caller)) -> dict[str, Any]:
    require(p, "reviewer")
    r = await run_in_threadpool(reviewing.decide, runtime(request), review_id, p, approve=True,
                                note=body.note)
    return {k: v for k, v in _plain(r).items() if k != "request"}


@router.post("/reviews/{review_id}/reject", summary="Reject: never answered (reviewer)")
def reject(review_id: str, body: DecisionIn, request: Request,
           p: Principal = Depends(caller)) -> dict[str, Any]:
    require(p, "reviewer")
    r = reviewing.decide(runtime(request), review_id, p, approve=False, note=body.note)
    return {k: v for k, v in _plain(r).items() if k != "request"}


# -- use cases -----------------------------------------------------------------------------------

class UseCaseIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=5000)
    owner: str = Field(min_length=1, max_length=200)
    data_categories: list[str] = Field(default_factory=list, max_length=50)
    affected_people: str = Field("", max_length=2000)
    automation: str = "assistive"


@router.get("/use-cases", summary="The use-case register")
def use_cases(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [_plain(u) for u in runtime(request).use_cases.list()]


@router.post("/use-cases", summary="Register a use case (classified by the charter)")
def register_use_case(body: UseCaseIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    rt = runtime(request)
    version, charter = rt.policies.active()
    case = rt.use_cases.register(name=body.name, purpose=body.purpose, owner=body.owner,
                                 data_categories=body.data_categories,
                                 affected_people=body.affected_people, automation=body.automation,
                                 charter=charter, version=version,
                                 classifier=rt.screen.assessor().classifier)
    rt.audit.append(case.id, p.id, "usecase.registered",
                    {"name": case.name, "tier": case.tier, "category": case.category,
                     "state": case.state, "policy_version": version})
    return _plain(case)


class UseCaseDecisionIn(Strict):
    approve: bool
    note: str = Field(min_length=1, max_length=2000)


@router.post("/use-cases/{key}/decide", summary="Approve or reject a use case (reviewer)")
def decide_use_case(key: str, body: UseCaseDecisionIn, request: Request,
                    p: Principal = Depends(caller)) -> dict[str, Any]:
    require(p, "reviewer")
    return _plain(runtime(request).use_cases.decide(key, p, approve=body.approve, note=body.note))


# -- policy -------------------------------------------------------------------------------------

@router.get("/policy/versions", summary="Charter versions")
def policy_versions(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [{k: v for k, v in _plain(v).items() if k != "yaml"}
            for v in runtime(request).policies.list()]


@router.get("/policy/versions/{number}", summary="One charter version with its YAML")
def policy_version(request: Request, number: int = PathParam(ge=1, le=MAX_INT),
                   p: Principal = Depends(caller)) -> dict[str, Any]:
    return _plain(runtime(request).policies.get(number))


# -- audit --------------------------------------------------------------------------------------

def _audit(request: Request, actor: str | None, event: str | None, since: str | None,
           until: str | None, limit: int) -> list[dict[str, Any]]:
    return [_plain(r) for r in runtime(request).audit.records(
        newest_first=True, limit=limit, actor=actor, event=event, since=since, until=until)]


@router.get("/audit", summary="Audit events, newest first, filtered (reviewer)")
def audit(request: Request, actor: str | None = None, event: str | None = None,
          since: str | None = None, until: str | None = None,
          limit: int = Query(100, ge=1, le=10000),
          p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    require(p, "reviewer")
    return _audit(request, actor, event, since, until, limit)


@router.get("/audit/export", summary="Audit events as JSON lines (admin)",
            response_class=PlainTextResponse)
def audit_export(request: Request, actor: str | None = None, event: str | None = None,
                 since: str | None = None, until: str | None = None,
                 limit: int = Query(10000, ge=1, le=100000),
                 p: Principal = Depends(caller)) -> PlainTextResponse:
    require(p, "admin")
    lines = [json.dumps(r, sort_keys=True) for r in _audit(request, actor, event, since, until, limit)]
    return PlainTextResponse("\n".join(lines) + ("\n" if lines else ""),
                             media_type="application/x-ndjson",
                             headers={"Content-Disposition": "attachment; filename=audit.jsonl"})


# -- usage -------------------------------------------------------------------------------------

@router.get("/usage", summary="Usage per route and window (yours; admins: anyone's)")
def usage(request: Request, user: str | None = None,
          p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    if user and user != p.id:
        require(p, "admin")
    who = user if user else (None if p.has_role("admin") else p.id)
    return [_plain(u) for u in runtime(request).quotas.usage(who)]


@router.get("/usage/limits", summary="Tier limits")
def usage_limits(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [_plain(x) for x in runtime(request).quotas.limits()]


class LimitIn(Strict):
    window_s: int = Field(3 * 3600, ge=1, le=MAX_INT)
    max_requests: int | None = Field(None, ge=0, le=MAX_INT)
    max_tokens: int | None = Field(None, ge=0, le=MAX_INT)


@router.put("/usage/limits/{tier}/{route}", summary="Set a tier's limit for a route (admin)")
def set_limit(tier: str, route: str, body: LimitIn, request: Request,
              p: Principal = Depends(caller)) -> dict[str, Any]:
    require(p, "admin")
    return _plain(runtime(request).quotas.set_limit(tier, route, window_s=body.window_s,
                                                    max_requests=body.max_requests,
                                                    max_tokens=body.max_tokens))


# -- users and keys ---------------------------------------------------------------------------------

class UserIn(Strict):
    id: str = Field(min_length=1, max_length=200)
    display_name: str = Field("", max_length=200)
    roles: list[str] = Field(default_factory=lambda: ["user"], min_length=1, max_length=3)
    clearance: str = "internal"
    groups: list[str] = Field(default_factory=list, max_length=50)
    tier: str = "free"


@router.get("/users", summary="Users (admin)")
def users(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    require(p, "admin")
    return [_plain(u) for u in runtime(request).accounts.list_users()]


@router.post("/users", summary="Add a user (admin)")
def add_user(body: UserIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    require(p, "admin")
    return _plain(runtime(request).accounts.add_user(
        body.id, roles=body.roles, clearance=body.clearance, groups=body.groups, tier=body.tier,
        display_name=body.display_name))


@router.post("/users/{user_id}/disable", summary="Disable a user (admin)")
def disable_user(user_id: str, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    require(p, "admin")
    if user_id == p.id:
        raise InvalidInputError("you cannot disable yourself")
    return _plain(runtime(request).accounts.set_disabled(user_id, True))


class KeyIn(Strict):
    user_id: str | None = Field(None, max_length=200)
    name: str = Field("", max_length=200)


@router.post("/keys", summary="Create an API key (yours; admins: anyone's); shown once")
def create_key(body: KeyIn, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    owner = body.user_id or p.id
    if owner != p.id:
        require(p, "admin")
    key, secret = runtime(request).accounts.create_key(owner, body.name)
    return {**_plain(key), "key": secret}


@router.get("/keys", summary="API keys (yours; admins: all)")
def keys(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    acc = runtime(request).accounts
    return [_plain(k) for k in acc.list_keys(None if p.has_role("admin") else p.id)]


@router.delete("/keys/{key_id}", summary="Revoke an API key (yours; admins: anyone's)")
def revoke_key(key_id: str, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    acc = runtime(request).accounts
    mine = {k.id for k in acc.list_keys(p.id)}
    if key_id not in mine:
        require(p, "admin")
    return _plain(acc.revoke_key(key_id))


# -- dashboard ------------------------------------------------------------------------------------

@router.get("/stats", summary="Dashboard figures per day (reviewer)")
def stats(request: Request, days: int = Query(14, ge=1, le=365),
          p: Principal = Depends(caller)) -> dict[str, Any]:
    require(p, "reviewer")
    from charter.server.stats import dashboard

    return dashboard(runtime(request), days)


__all__ = ["router", "NotFoundError"]
