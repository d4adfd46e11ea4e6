"""/metrics: Prometheus's text format (reviewer or admin key; point the scraper's
``authorization`` at one)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from charter.core.principal import Principal
from charter.server.deps import caller, runtime
from charter.services import metrics

router = APIRouter(tags=["metrics"])


@router.get("/metrics", summary="Prometheus metrics (reviewer)")
def scrape(request: Request, p: Principal = Depends(caller)) -> Response:
    body, content_type = metrics.exposition(runtime(request), p)
    return Response(body, media_type=content_type)
