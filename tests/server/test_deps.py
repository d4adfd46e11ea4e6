"""Authentication and rate limits at the edge: bounded state whatever outsiders send."""

from __future__ import annotations

import secrets

import pytest

from charter.core.config import Settings
from charter.core.errors import ConflictError
from charter.runtime import Runtime
from charter.server.deps import RateLimiter

FAILED_AUTH_PER_MINUTE = 30  # the setting's default
from charter.store.cache import ReadCache


def test_made_up_keys_take_no_room_in_the_read_cache(runtime: Runtime) -> None:
    from charter.core.errors import AuthError

    before = len(runtime.db.cache)
    for _ in range(300):
        with pytest.raises(AuthError):
            runtime.accounts.authenticate("chk_" + secrets.token_urlsafe(16))
    assert len(runtime.db.cache) == before


def test_the_read_cache_is_bounded() -> None:
    cache = ReadCache(ttl=60, max_items=5)
    for i in range(50):
        cache.get(("k", str(i)), lambda i=i: i)
    assert len(cache) == 5
    assert cache.peek(("k", "49")) == (True, 49) and cache.peek(("k", "0")) == (False, None)


def test_the_limiter_forgets_the_least_recent_keys() -> None:
    limiter = RateLimiter(2, max_keys=3)
    for i in range(10):
        limiter.check(f"client-{i}")
    assert len(limiter._hits) == 3  # noqa: SLF001


def test_one_user_may_hold_a_bounded_number_of_keys(runtime: Runtime) -> None:
    from charter.accounts import MAX_ACTIVE_KEYS

    runtime.accounts.add_user("many@example.com")
    keys = [runtime.accounts.create_key("many@example.com")[0] for _ in range(MAX_ACTIVE_KEYS)]
    with pytest.raises(ConflictError, match="revoke one"):
        runtime.accounts.create_key("many@example.com")
    runtime.accounts.revoke_key(keys[0].id)
    runtime.accounts.create_key("many@example.com")  # room again


def test_keys_share_their_users_limit_and_random_tokens_get_401_then_429(
        settings: Settings) -> None:
    import httpx

    from tests.server.conftest import _start

    for served in _start(settings, scripted=True, rate_limit=5):
        # Two keys of one user draw on one window of 5.
        rt = served.runtime
        rt.accounts.add_user("two@example.com")
        first, second = (rt.accounts.create_key("two@example.com")[1] for _ in range(2))
        seen = [httpx.get(served.url + "/api/me", headers={
            "Authorization": f"Bearer {first if i % 2 else second}"}).status_code
            for i in range(8)]
        assert seen[:5] == [200] * 5 and set(seen[5:]) == {429}
        # Guessing keys: each guess costs a lookup until the address is refused outright.
        with served.client(None) as c:
            codes = [c.get("/api/me", headers={"Authorization": f"Bearer chk_{i}x"}).status_code
                     for i in range(FAILED_AUTH_PER_MINUTE + 5)]
        assert codes[:FAILED_AUTH_PER_MINUTE] == [401] * FAILED_AUTH_PER_MINUTE
        assert set(codes[FAILED_AUTH_PER_MINUTE:]) == {429}
