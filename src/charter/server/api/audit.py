"""/api/audit: the audit trail, filtered, and its export."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from charter.core.principal import Principal
from charter.server.deps import caller, plain, runtime
from charter.services import audit as audit_service

router = APIRouter(prefix="/api", tags=["audit"])


@router.get("/audit", summary="Audit events, newest first, filtered (reviewer)")
def audit(request: Request, actor: str | None = None, event: str | None = None,
          since: str | None = None, until: str | None = None,
          limit: int = Query(100, ge=1, le=10000),
          p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    return [plain(r) for r in audit_service.records(runtime(request), p, actor_id=actor,
                                                    event=event, since=since, until=until,
                                                    limit=limit)]


@router.get("/audit/export", summary="Audit events as JSON lines (admin)",
            response_class=PlainTextResponse)
def audit_export(request: Request, actor: str | None = None, event: str | None = None,
                 since: str | None = None, until: str | None = None,
                 limit: int = Query(10000, ge=1, le=100000),
                 p: Principal = Depends(caller)) -> PlainTextResponse:
    rows = audit_service.export(runtime(request), p, actor_id=actor, event=event, since=since,
                                until=until, limit=limit)
    lines = [json.dumps(plain(r), sort_keys=True) for r in rows]
    return PlainTextResponse("\n".join(lines) + ("\n" if lines else ""),
                             media_type="application/x-ndjson",
                             headers={"Content-Disposition": "attachment; filename=audit.jsonl"})
