"""The OpenAI-compatible API: chat completions (plain and SSE), models, embeddings.

Any OpenAI client works by changing its base URL. Charter's additions travel in a
``charter`` object (the one result schema) that plain clients ignore; requests may carry
their own ``charter`` object with ``use_case``, ``personality`` and ``instructions``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from charter.core.chat import ChatMessage
from charter.core.errors import CharterError, InvalidInputError
from charter.core.principal import Principal
from charter.core.result import Result
from charter.core.routes import AUTO
from charter.profiles import check_instructions, check_personality
from charter.server.deps import caller, runtime, spine
from charter.services import models as model_service
from charter.spine.request import AskRequest, Delta

log = logging.getLogger("charter.server")
router = APIRouter(prefix="/v1", tags=["openai"])


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        parts = [p.text or "" for p in self.content if p.type == "text"]
        if len(parts) != len(self.content):
            raise InvalidInputError("only text content parts are supported")
        return "\n".join(parts)


class CharterOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    use_case: str | None = None
    personality: str | None = None
    instructions: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = True


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send fields Charter ignores
    model: str = AUTO
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=2**31 - 1)
    max_completion_tokens: int | None = Field(None, ge=1, le=2**31 - 1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    n: int = Field(1, ge=1, le=1)
    charter: CharterOptions | None = None


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = "embed"
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"


def to_ask(body: ChatCompletionRequest, principal: Principal) -> AskRequest:
    messages = [ChatMessage("system" if m.role == "developer" else m.role, m.text())
                for m in body.messages if m.role in ("system", "developer", "user", "assistant")]
    opts = body.charter or CharterOptions()
    return AskRequest(
        messages=messages, principal=principal, model=body.model,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature, seed=body.seed, use_case=opts.use_case,
        personality=check_personality(opts.personality) if opts.personality else None,
        instructions=check_instructions(opts.instructions) if opts.instructions is not None else None)


def completion_body(result: Result) -> dict[str, Any]:
    return {
        "id": result.request_id, "object": "chat.completion", "created": int(time.time()),
        "model": result.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": result.answer},
                     "finish_reason": result.finish_reason}],
        "usage": {"prompt_tokens": result.usage.prompt_tokens,
                  "completion_tokens": result.usage.completion_tokens,
                  "total_tokens": result.usage.prompt_tokens + result.usage.completion_tokens},
        "charter": result.model_dump(),
    }


@router.post("/chat/completions", summary="Chat completion (OpenAI-compatible)")
async def chat_completions(body: ChatCompletionRequest, request: Request,
                           principal: Principal = Depends(caller)) -> Any:
    answer = spine(request)
    ask = to_ask(body, principal)
    if not body.stream:
        result = await _unless_disconnected(request, answer.ask, ask)
        response = fast_json(completion_body(result))
        t = result.timing
        response.headers["Server-Timing"] = (f"charter;dur={t.total_ms - t.backend_ms:.3f}, "
                                             f"backend;dur={t.backend_ms:.3f}")
        return response
    # Everything before the first token (screening, routing, quota) runs here, so its
    # errors are ordinary error responses, not a broken stream.
    events = await run_in_threadpool(answer.ask_stream, ask)
    return StreamingResponse(_sse(events, principal.has_role("admin")), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


_DONE = object()
DISCONNECT_POLL_S = 0.25


async def _unless_disconnected(request: Request, ask: Callable[..., Result],
                               req: AskRequest) -> Result:
    """``ask(req, cancel)`` in the thread pool, with ``cancel`` set when the client
    disconnects: a local model then stops generating instead of answering nobody."""
    cancel = threading.Event()
    work = asyncio.ensure_future(run_in_threadpool(ask, req, cancel))
    while not work.done():
        await asyncio.wait({work}, timeout=DISCONNECT_POLL_S)
        if not work.done() and not cancel.is_set() and await request.is_disconnected():
            cancel.set()
    return work.result()


def fast_json(body: dict[str, Any]) -> Response:
    """Serialised in one call (pydantic-core), not walked by ``jsonable_encoder`` first."""
    return Response(to_json(body), media_type="application/json")


async def _sse(events: Iterator[Delta | Result], admin: bool = False) -> AsyncIterator[str]:
    """OpenAI chunks as server-sent events, then a usage chunk and [DONE].

    The gateway's generator is driven one item at a time in the thread pool and closed in
    ``finally``: when the client disconnects, this coroutine is cancelled, the generator
    is closed, and the backend stream with it.
    """
    created = int(time.time())
    rid, model = "", ""
    first = True
    try:
        while True:
            item = await run_in_threadpool(next, events, _DONE)
            if item is _DONE:
                break
            if isinstance(item, Delta):
                delta: dict[str, Any] = {"content": item.text}
                if first:
                    delta["role"] = "assistant"
                    first = False
                rid = rid or item.request_id
                yield _event({"id": rid, "object": "chat.completion.chunk",
                              "created": created, "model": model,
                              "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            else:
                assert isinstance(item, Result)
                rid, model = item.request_id, item.model
                yield _event({"id": rid, "object": "chat.completion.chunk", "created": created,
                              "model": model,
                              "choices": [{"index": 0, "delta": {},
                                           "finish_reason": item.finish_reason}],
                              "charter": item.model_dump()})
                usage = item.usage
                yield _event({"id": rid, "object": "chat.completion.chunk", "created": created,
                              "model": model, "choices": [],
                              "usage": {"prompt_tokens": usage.prompt_tokens,
                                        "completion_tokens": usage.completion_tokens,
                                        "total_tokens": usage.prompt_tokens + usage.completion_tokens}})
        yield "data: [DONE]\n\n"
    except CharterError as exc:
        yield _event({**exc.for_viewer(admin), "status": exc.status})
    except Exception:  # noqa: BLE001 - the stream ends with an error chunk, not a reset
        log.exception("stream %s failed", rid or "?")
        error = CharterError("the answer failed part-way; try again")
        yield _event({**error.to_dict(), "status": error.status})
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            await run_in_threadpool(close)


def _event(data: dict[str, Any]) -> str:
    return f"data: {to_json(data).decode()}\n\n"


@router.get("/models", summary="Models this key may use")
def models(request: Request, principal: Principal = Depends(caller)) -> dict[str, Any]:
    names = [AUTO, *model_service.chat_models(runtime(request), principal)]
    return {"object": "list",
            "data": [{"id": n, "object": "model", "created": 0, "owned_by": "charter"}
                     for n in names]}


@router.post("/embeddings", summary="Embeddings (OpenAI-compatible)")
async def embeddings(body: EmbeddingRequest, request: Request,
                     principal: Principal = Depends(caller)) -> dict[str, Any]:
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts or any(not isinstance(t, str) or not t for t in texts):
        raise InvalidInputError("input must be a non-empty string or a list of non-empty strings")
    if len(texts) > 256:
        raise InvalidInputError(f"{len(texts)} inputs; send at most 256 per request")
    name, vectors = await run_in_threadpool(model_service.embed, runtime(request), principal,
                                            body.model, texts)
    tokens = sum(len(t.split()) for t in texts)
    return {"object": "list", "model": name,
            "data": [{"object": "embedding", "index": i,
                      "embedding": _b64(v) if body.encoding_format == "base64" else v}
                     for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _b64(vector: list[float]) -> str:
    """OpenAI's base64 encoding: little-endian float32 bytes."""
    import base64

    import numpy as np

    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
