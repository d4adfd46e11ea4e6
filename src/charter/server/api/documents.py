"""/api/documents: listing (inside the caller's access), upload, removal, status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from charter.core.principal import Principal, require
from charter.server.deps import caller, runtime
from charter.services import documents

router = APIRouter(prefix="/api", tags=["documents"])


@router.get("/documents", summary="Documents the caller may see")
def list_documents(request: Request, p: Principal = Depends(caller)) -> list[dict[str, Any]]:
    """Ids and names; the stored path (``uri``) only for administrators."""
    admin = p.has_role("admin")
    return [{"id": d.id, "name": documents.display_name(d), "title": d.title,
             "classification": d.classification, "groups": d.groups, "tags": d.tags,
             "chunks": d.chunk_count, "version": d.version, "updated_at": d.updated_at,
             **({"uri": d.uri} if admin else {})}
            for d in documents.list_documents(runtime(request), p)]


@router.post("/documents", summary="Upload one document (raw body; admin)",
             responses={202: {"description": "Larger than kb_background_mb: ingesting as a "
                              "background job; poll the job's url"}})
async def upload(request: Request, filename: str = Query(..., min_length=1, max_length=200),
                 document: str | None = Query(
                     None, description="The id of an uploaded document this file is a new "
                     "version of; omitted: a new document, even when the name is taken"),
                 classification: str | None = Query(
                     None, description="internal, confidential, ...; omitted: the stored "
                     "document's (a new one: internal)"),
                 groups: str | None = Query(
                     None, description="Comma-separated groups; omitted: the stored "
                     "document's (a new one: none); empty: no groups"),
                 p: Principal = Depends(caller)) -> Any:
    """Small files are ingested inside the request (200 with the document); files over
    ``kb_background_mb`` as a background job (202 with the job to poll)."""
    require(p, "admin")  # before the body is read
    body = await request.body()
    rt = runtime(request)
    access = {"document": document, "classification": classification,
              "groups": groups.split(",") if groups is not None else None}
    if len(body) > rt.settings.kb_background_mb * (1 << 20):
        job = await run_in_threadpool(documents.start_upload, rt, p, filename, body, **access)
        return JSONResponse(status_code=202, content={"job": job.to_dict(),
                                                      "url": f"/api/jobs/{job.id}"})
    done = await run_in_threadpool(documents.upload, rt, p, filename, body, **access)
    return done.to_dict()


@router.delete("/documents/{doc_id}", summary="Remove a document (admin)")
def delete_document(doc_id: str, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    documents.remove(runtime(request), p, [doc_id], exact=True)
    return {"removed": doc_id}


@router.get("/documents/status", summary="Knowledge-base counts and index (reviewer)")
def kb_status(request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return documents.status(runtime(request), p)
