"""What every endpoint shares: the runtime, the spine, the caller, the per-key rate limit,
request-body models that refuse unknown fields, and plain JSON of dataclasses."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from charter.core.errors import RateLimitedError
from charter.core.principal import Principal
from charter.runtime import Runtime
from charter.services import accounts
from charter.spine import Spine

MAX_INT = 2**31 - 1  # what an INTEGER column holds on every database


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def spine(request: Request) -> Spine:
    """What answers chat requests: the gateway (a bench floor may put another here)."""
    return request.app.state.spine  # type: ignore[no-any-return]


def plain(obj: Any) -> Any:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RateLimiter:
    """Sliding one-minute window of request times per key, in this process."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= 60.0:
                hits.popleft()
            if len(hits) >= self.per_minute:
                wait = 60.0 - (now - hits[0])
                raise RateLimitedError(f"more than {self.per_minute} requests in a minute for "
                                       f"this key; retry in {wait:.0f} s")
            hits.append(now)


async def caller(request: Request) -> Principal:
    """The principal behind the request's API key (401 without a valid one).

    A key seen within the read cache's TTL is answered on the event loop; otherwise the
    database lookup runs in a worker thread.
    """
    header = request.headers.get("authorization", "")
    secret = header[7:].strip() if header.lower().startswith("bearer ") else None
    rt = runtime(request)
    principal = accounts.authenticate_cached(rt, secret) or \
        await run_in_threadpool(accounts.authenticate, rt, secret)
    request.app.state.limiter.check(accounts.rate_key(secret))  # per key, not per user
    request.state.principal = principal
    return principal
