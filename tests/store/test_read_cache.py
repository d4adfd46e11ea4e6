"""The shared read cache: writes in this process show at once, other processes' writes
within the TTL, and a TTL of 0 turns it off."""

from __future__ import annotations

import time
from pathlib import Path

from charter.core.aliases import AliasConfig
from charter.store.aliases import AliasRepository
from charter.store.cache import ReadCache
from charter.store.db import Database


def test_entries_expire_and_areas_invalidate() -> None:
    cache = ReadCache(ttl=0.2)
    calls = []

    def load() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get(("a", "x"), load) == 1
    assert cache.get(("a", "x"), load) == 1  # cached
    cache.invalidate("b")
    assert cache.get(("a", "x"), load) == 1  # another area: untouched
    cache.invalidate("a")
    assert cache.get(("a", "x"), load) == 2
    time.sleep(0.25)
    assert cache.get(("a", "x"), load) == 3
    off = ReadCache(ttl=0)
    assert off.get(("a",), load) == 4 and off.get(("a",), load) == 5


def test_a_write_elsewhere_is_seen_within_the_ttl(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    here, there = Database(url, cache_ttl=0.3), Database(url, cache_ttl=0.3)
    here.upgrade()
    mine, theirs = AliasRepository(here), AliasRepository(there)
    mine.add(AliasConfig("a1", "scripted", "", {"replies": ["one"]}))
    assert mine.find("a1").options == {"replies": ["one"]}
    assert theirs.find("a1").options == {"replies": ["one"]}
    mine.add(AliasConfig("a1", "scripted", "", {"replies": ["two"]}), replace=True)
    assert mine.find("a1").options == {"replies": ["two"]}  # this process: at once
    assert theirs.find("a1").options == {"replies": ["one"]}  # the other: not yet
    time.sleep(0.35)
    assert theirs.find("a1").options == {"replies": ["two"]}  # within the TTL
    here.dispose()
    there.dispose()


def test_revoking_a_key_or_disabling_a_user_takes_effect_at_once(tmp_path: Path) -> None:
    import pytest

    from charter.accounts import Accounts
    from charter.core.errors import AuthError

    db = Database(f"sqlite:///{tmp_path / 'k.db'}", cache_ttl=60)
    db.upgrade()
    accounts = Accounts(db)
    accounts.add_user("ann@example.com")
    key, secret = accounts.create_key("ann@example.com")
    other = accounts.create_key("ann@example.com")[1]
    assert accounts.authenticate(secret).id == "ann@example.com"  # now cached
    accounts.revoke_key(key.id)
    with pytest.raises(AuthError, match="revoked"):
        accounts.authenticate(secret)
    assert accounts.authenticate(other).id == "ann@example.com"
    accounts.set_disabled("ann@example.com")
    with pytest.raises(AuthError, match="disabled"):
        accounts.authenticate(other)
