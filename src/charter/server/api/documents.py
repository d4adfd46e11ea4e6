"""/api/documents: listing (inside the caller's access), upload, removal, status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
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


@router.post("/documents", summary="Upload one document (raw body; admin)")
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
                 p: Principal = Depends(caller)) -> dict[str, Any]:
    require(p, "admin")  # before the body is read
    body = await request.body()
    done = await run_in_threadpool(
        documents.upload, runtime(request), p, filename, body, document=document,
        classification=classification, groups=groups.split(",") if groups is not None else None)
    return {"id": done.document_id, "name": done.name, "version": done.version,
            "outcome": done.outcome, "chunks": done.chunks}


@router.delete("/documents/{doc_id}", summary="Remove a document (admin)")
def delete_document(doc_id: str, request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    documents.remove(runtime(request), p, [doc_id], exact=True)
    return {"removed": doc_id}


@router.get("/documents/status", summary="Knowledge-base counts and index (reviewer)")
def kb_status(request: Request, p: Principal = Depends(caller)) -> dict[str, Any]:
    return documents.status(runtime(request), p)
