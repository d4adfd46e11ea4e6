"""The FastAPI app factory: one runtime per process, one error shape, limits at the edge."""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from inspect import signature
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from charter import __version__
from charter.core.config import Settings
from charter.core.errors import CharterError, PayloadTooLargeError
from charter.core.text import MAX_JSON_DEPTH, value_problem
from charter.runtime import Runtime
from charter.server.api import ROUTERS
from charter.server.deps import RateLimiter
from charter.services import agents as agent_service
from charter.services import drift as drift_service
from charter.services import rollouts as rollout_service
from charter.spine import Spine

_STATUS_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
                 403: "invalid_request_error", 404: "invalid_request_error",
                 405: "invalid_request_error", 409: "invalid_request_error",
                 413: "invalid_request_error", 422: "invalid_request_error",
                 429: "rate_limit_error"}


def error_body(status: int, message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": _STATUS_TYPES.get(status, "server_error"),
                      "code": code}}


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise PayloadTooLargeError(self._message())
            return message

        await self.app(scope, counted, send)

    def _message(self) -> str:
        return f"the request body is over {self.limit // (1024 * 1024)} MiB; send less"

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse(error_body(413, self._message(), "payload_too_large"), 413)
        await response({"type": "http"}, None, send)  # type: ignore[arg-type]


class WellFormedJson:
    """Refuses a JSON request body holding text that cannot be stored or sent on (a lone
    UTF-16 surrogate from a ``\\ud800`` escape, a NUL) or nested too deeply, with a 400
    that names the field (``core/text.py:value_problem``), before any route parses it.
    Bodies that are not JSON, or not valid JSON, pass on to the route's own checks."""

    def __init__(self, app: ASGIApp, chat_chars: int | None = None) -> None:
        self.app = app
        # A chat body this large holds more characters than max_conversation_chars
        # whatever it says (JSON spends at most 12 bytes on a character: an escaped
        # surrogate pair), so it is refused before parsing, which costs more than this.
        self.chat_bytes = 12 * chat_chars + (1 << 14) if chat_chars else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        # Any casing: FastAPI parses APPLICATION/JSON as JSON too.
        if b"json" not in headers.get(b"content-type", b"").lower():
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client left: nothing to check
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except CharterError as exc:  # over the body limit
            await JSONResponse(exc.to_dict(), exc.status)(scope, receive, send)
            return
        body = b"".join(chunks)
        if self.chat_bytes is not None and len(body) > self.chat_bytes and \
                scope.get("path") == "/v1/chat/completions":
            limit = (self.chat_bytes - (1 << 14)) // 12
            await JSONResponse(error_body(
                400, f"the request body is {len(body):,} bytes, more than {limit:,} characters "
                "of messages can take (setting max_conversation_chars): shorten them, or send "
                "long documents to the knowledge base instead", "conversation_too_large"),
                400)(scope, receive, send)
            return
        problem = _body_problem(body)
        if problem is not None:
            where, why = problem
            await JSONResponse(error_body(400, f"{where} {why}", "invalid_text"), 400)(
                scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # a disconnect, for streaming responses

        await self.app(scope, replay, send)


def _body_problem(body: bytes) -> tuple[str, str] | None:
    import json

    if not body:
        return None
    try:
        value = json.loads(body)
    except RecursionError:
        return "body", f"is nested more than {MAX_JSON_DEPTH} levels deep; flatten it"
    except ValueError:
        return None  # not JSON: the route answers with its own validation error
    return value_problem(value)


def _warm(rt: Runtime) -> None:
    import logging

    from charter.services import setup

    try:
        setup.warm_up(rt)
    except Exception as exc:  # noqa: BLE001 - a request will show the real error
        logging.getLogger("charter.server").warning("warm-up failed: %s", exc)


def create_app(settings: Settings, runtime: Runtime | None = None, *,
               spine: Spine | None = None) -> FastAPI:
    """The app; ``runtime`` is opened from ``settings`` when not given. Chat requests go to
    ``spine``, the runtime's gateway unless another is given (the bench's floors)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests run their blocking stages in threads; anyio's default of 40 would queue
        # the 41st concurrent request behind a slow model call.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.server_threads
        # Concurrency comes from requests; BLAS threads per small matrix product only spin
        # (about a quarter of the CPU of a request at one client was OpenBLAS waiting).
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            if settings.server_warmup:
                # Load the models screening needs before the first request, not during it
                # (each worker process of `charter serve --workers N` does its own).
                await run_in_threadpool(_warm, app.state.runtime)
                # The loaded models are half a million objects that live as long as the
                # process; a full garbage collection walked them all (about 340 ms, every
                # thread stopped). Frozen, they are left out of collections.
                gc.collect()
                gc.freeze()
            agent_service.serve_queue()
            drift_service.monitor(app.state.runtime)  # checks run as requests come in
            rollout_service.watch(app.state.runtime)  # judged after challenger requests
            try:
                resumed = await run_in_threadpool(agent_service.recover, app.state.runtime)
                if resumed:
                    logging.getLogger("charter.server").warning(
                        "resumed %d agent runs whose process had stopped", len(resumed))
            except CharterError as exc:
                logging.getLogger("charter.server").warning("agent runs not recovered: %s",
                                                            exc.message)
            try:
                yield
            finally:
                if settings.server_warmup:
                    gc.unfreeze()
                agent_service.shutdown()
        if runtime is None:
            app.state.runtime.close()

    extra: dict[str, Any] = {}
    if not settings.server_telemetry and "telemetry" in signature(FastAPI.__init__).parameters:
        # FastAPI's native OpenTelemetry (recent versions) is off unless asked for: its
        # per-request provider checks cost ~8% of a chat request's CPU with no SDK set up.
        extra["telemetry"] = {"tracing": False, "metrics": False, "logs": False}
    app = FastAPI(title="Charter", version=__version__, lifespan=lifespan, **extra,
                  description="A governed AI assistant: OpenAI-compatible API under /v1, "
                              "Charter's own API under /api, web UI at /.")
    app.state.runtime = runtime or Runtime.open(settings)
    app.state.spine = spine or app.state.runtime.gateway
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
    # Guessing keys costs a database read each: a client that keeps failing is refused
    # before its next lookup.
    app.state.auth_failures = RateLimiter(settings.auth_failures_per_minute,
                                          what="failed sign-ins from this address")

    @app.exception_handler(CharterError)
    async def charter_error(request: Request, exc: CharterError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        # Internals (server URLs, database hosts, file paths) only for administrators.
        caller = getattr(request.state, "principal", None)
        admin = caller is not None and caller.has_role("admin")
        return JSONResponse(exc.for_viewer(admin), exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid value')}" if where else \
            str(first.get("msg", "invalid request"))
        return JSONResponse(error_body(422, message, "invalid_value"), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(exc.status_code, str(exc.detail), code), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        import logging

        reference = secrets.token_hex(4)
        logging.getLogger("charter.server").exception("unexpected error, reference %s",
                                                      reference)
        return JSONResponse(error_body(500, "internal error; an administrator can find it "
                                       f"in the server log under reference {reference}",
                                       "internal_error"), 500)

    for router in ROUTERS:
        app.include_router(router)

    ui = files("charter.server").joinpath("ui")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(ui.joinpath("index.html")))

    app.mount("/ui", StaticFiles(directory=str(ui)), name="ui")
    # Inside the body limit: it reads the whole body.
    app.add_middleware(WellFormedJson, chat_chars=settings.max_conversation_chars)
    app.add_middleware(BodyLimit, limit=int(settings.max_body_mb * 1024 * 1024))
    return app
