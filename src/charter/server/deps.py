"""What every endpoint shares: the runtime, the caller, role checks, the per-key rate limit."""

from __future__ import annotations

import threading
import time
from collections import deque

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from charter.accounts import hash_key
from charter.auth import Principal
from charter.errors import ForbiddenError, RateLimitedError
from charter.runtime import Runtime


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


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
    principal = rt.accounts.authenticate_cached(secret) or \
        await run_in_threadpool(rt.accounts.authenticate, secret)
    request.app.state.limiter.check(hash_key(secret or "")[:16])  # per key, not per user
    request.state.principal = principal
    return principal


def require(principal: Principal, role: str) -> None:
    if not principal.has_role(role):
        raise ForbiddenError(f"this needs the {role} role; {principal.id} has "
                             f"{', '.join(sorted(principal.roles))}")
