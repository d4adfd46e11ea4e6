"""What every endpoint shares: the runtime, the spine, the caller, the per-key rate limit,
request-body models that refuse unknown fields, and plain JSON of dataclasses."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict, deque
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from charter.core.errors import AuthError, RateLimitedError
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
    """Sliding one-minute window of request times per key (a user, or a client address
    for failed authentications), in this process. At most ``max_keys`` keys are tracked;
    the least recently seen leave first, so made-up keys cannot grow it."""

    def __init__(self, per_minute: int, *, what: str = "this user",
                 max_keys: int = 10_000) -> None:
        self.per_minute = per_minute
        self.what = what
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _window(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        self._hits.move_to_end(key)
        while hits and now - hits[0] >= 60.0:
            hits.popleft()
        return hits

    def _refuse(self, hits: deque[float], now: float) -> None:
        wait = 60.0 - (now - hits[0])
        raise RateLimitedError(f"more than {self.per_minute} requests in a minute for "
                               f"{self.what}; retry in {wait:.0f} s")

    def check(self, key: str, *, count: bool = True) -> None:
        """429 when the window is full; else the request counts (unless ``count`` is
        false: a check before the work is known)."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            hits = self._window(key, now)
            if len(hits) >= self.per_minute:
                self._refuse(hits, now)
            if count:
                hits.append(now)

    def count(self, key: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self._window(key, now).append(now)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"



async def caller(request: Request) -> Principal:
    """The principal behind the request's API key (401 without a valid one).

    A key seen within the read cache's TTL is answered on the event loop; otherwise the
    database lookup runs in a worker thread.
    """
    header = request.headers.get("authorization", "")
    secret = header[7:].strip() if header.lower().startswith("bearer ") else None
    rt = runtime(request)
    principal = accounts.authenticate_cached(rt, secret)
    if principal is None:
        # A client that keeps failing is refused before its next lookup.
        failures: RateLimiter = request.app.state.auth_failures
        address = client_address(request)
        failures.check(address, count=False)
        try:
            principal = await run_in_threadpool(accounts.authenticate, rt, secret)
        except AuthError:
            failures.count(address)
            raise
    # Per user, not per key: more keys do not buy more requests.
    request.app.state.limiter.check(principal.id)
    request.state.principal = principal
    return principal
