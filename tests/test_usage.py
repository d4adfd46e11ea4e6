"""Tiers and quotas: exact accounting under concurrency on SQLite and PostgreSQL, the
switch to mini with the reason in the response, tiers without the pro route."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from charter.core.principal import Principal
from charter.core.chat import ChatMessage
from charter.core.aliases import AliasConfig
from charter.core.config import Settings
from charter.core.errors import CharterError, InvalidInputError, NotFoundError, QuotaExceededError
from charter.spine.gateway import Gateway
from charter.spine.request import AskRequest
from charter.runtime import Runtime
from charter.usage import Quotas

FREE = Principal("alice", tier="free")


def gateway_for(settings: Settings, database_url: str | None = None) -> tuple[Runtime, Gateway]:
    if database_url:
        settings = settings.with_overrides(database_url=database_url)
    rt = Runtime.open(settings)
    for name in ("fast", "mini", "thinking", "pro"):
        rt.aliases.remove(name) if rt.aliases.find(name) else None
        rt.aliases.add(AliasConfig(name, "scripted", "", {"replies": [f"answer from {name}"]}))
    # Screening is tested elsewhere; this gateway isolates the quota stage.
    return rt, Gateway(rt.settings, rt.db, quotas=rt.quotas, routers=rt.routers)


def ask(gw: Gateway, model: str = "fast", principal: Principal = FREE, text: str = "Hello there"):
    return gw.ask(AskRequest([ChatMessage("user", text)], principal, model=model))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_fifty_parallel_requests_against_a_limit_of_ten(settings: Settings, backend: str,
                                                        request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    rt, gw = gateway_for(settings, url)
    try:
        rt.quotas.set_limit("free", "fast", window_s=3600, max_requests=10, max_tokens=None)
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(lambda i: ask(gw, text=f"question {i}"), range(50)))
        routes = Counter(r.route.name for r in results)
        assert routes == {"fast": 10, "mini": 40}
        served_by_mini = [r for r in results if r.route.name == "mini"]
        assert all(r.route.quota_exhausted for r in served_by_mini)
        assert all("limit for this window is used up" in r.route.reason for r in served_by_mini)
        usage = {u.route: u.requests for u in rt.quotas.usage("alice")}
        assert usage["fast"] == 10 and usage["mini"] == 40
    finally:
        rt.close()


def test_tokens_count_and_a_token_limit_switches_to_mini(settings: Settings) -> None:
    rt, gw = gateway_for(settings)
    rt.quotas.set_limit("free", "fast", window_s=3600, max_requests=100, max_tokens=5)
    first = ask(gw)
    assert first.route.name == "fast"
    used = rt.quotas.usage("alice")[0]
    assert used.tokens == first.usage.prompt_tokens + first.usage.completion_tokens > 5
    second = ask(gw)
    assert second.route.name == "mini" and second.route.quota_exhausted


def test_pro_is_not_part_of_the_free_tier(settings: Settings) -> None:
    rt, gw = gateway_for(settings)
    result = ask(gw, model="pro")
    assert result.route.name == "mini"
    assert "not part of the free tier" in result.route.reason
    pro_user = Principal("paula", tier="pro")
    assert ask(gw, model="pro", principal=pro_user).route.name == "pro"


def test_when_mini_is_spent_too_the_request_is_refused_with_429(settings: Settings) -> None:
    rt, gw = gateway_for(settings)
    rt.quotas.set_limit("free", "fast", window_s=3600, max_requests=1, max_tokens=None)
    rt.quotas.set_limit("free", "mini", window_s=3600, max_requests=1, max_tokens=None)
    ask(gw)
    ask(gw)
    with pytest.raises(QuotaExceededError) as err:
        ask(gw)
    assert err.value.status == 429 and "mini" in err.value.message


def test_windows_reset_the_count(settings: Settings) -> None:
    now = [1_000_000.0]
    rt = Runtime.open(settings)
    quotas = Quotas(rt.db, clock=lambda: now[0])
    quotas.set_limit("free", "fast", window_s=60, max_requests=1, max_tokens=None)
    assert not quotas.try_reserve("bob", "free", "fast").exhausted
    assert quotas.try_reserve("bob", "free", "fast").exhausted
    now[0] += 60
    assert not quotas.try_reserve("bob", "free", "fast").exhausted


def test_admin_tier_changes_and_bad_limits(settings: Settings) -> None:
    rt, gw = gateway_for(settings)
    rt.quotas.set_tier("alice", "pro")
    assert ask(gw, model="pro").route.name == "pro"  # alice's own tier said free
    with pytest.raises(NotFoundError, match="no tier 'gold'"):
        rt.quotas.set_tier("alice", "gold")
    with pytest.raises(InvalidInputError, match="--requests must be zero or more"):
        rt.quotas.set_limit("free", "fast", window_s=60, max_requests=-1, max_tokens=None)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_routes_without_limits_count_every_request_when_it_ends(
        settings: Settings, backend: str, request: pytest.FixtureRequest) -> None:
    """No limit to enforce: nothing is reserved up front, and the request is counted with
    its tokens in the final transaction, failures included."""
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    rt, gw = gateway_for(settings, url)
    try:
        team = Principal("tess", tier="team")  # fast has no limit in the team tier
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: ask(gw, "fast", team), range(20)))
        rt.aliases.remove("fast")
        rt.aliases.add(AliasConfig("fast", "scripted", "", {"fail": "unavailable"}))
        with pytest.raises(CharterError, match="unavailable|not available|reach"):
            ask(gw, "fast", team)
        row = next(r for r in rt.quotas.usage("tess") if r.route == "fast")
        assert row.requests == 21
        assert row.tokens > 20 and row.max_requests is None
    finally:
        rt.close()
