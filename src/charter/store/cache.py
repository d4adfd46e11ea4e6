"""A small read cache shared by every repository on one ``Database``.

The request path reads a handful of rows that change rarely (the approved charter's
number, model aliases, tier limits, a user's profile, the active router version). Each
read costs a transaction; together they were about a quarter of the gateway's own time.
Entries live ``ttl`` seconds; a write through any repository of this process clears the
entries it affects at once, so only changes made by another process can be seen late,
and by at most ``ttl`` (setting ``read_cache_ttl``; 0 turns the cache off).

The cache holds at most ``max_items`` entries, the least recently used leaving first, so
keys an outsider makes up (random bearer tokens) cannot grow it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = object()


MAX_ITEMS = 4096


class ReadCache:
    def __init__(self, ttl: float = 2.0, max_items: int = MAX_ITEMS) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self._items: OrderedDict[tuple[str, ...], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[str, ...], load: Callable[[], T]) -> T:
        if self.ttl <= 0:
            return load()
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key, (0.0, _MISSING))
        if hit[1] is not _MISSING and now - hit[0] < self.ttl:
            return hit[1]  # type: ignore[no-any-return]
        value = load()
        self.put(key, value, now)
        return value

    def put(self, key: tuple[str, ...], value: Any, at: float | None = None) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() if at is None else at, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def get_found(self, key: tuple[str, ...], load: Callable[[], T | None]) -> T | None:
        """``get`` that keeps only what was found: a lookup that finds nothing (a made-up
        key) is asked again next time and takes no room."""
        if self.ttl <= 0:
            return load()
        hit, value = self.peek(key)
        if hit:
            return value  # type: ignore[no-any-return]
        value = load()
        if value is not None:
            self.put(key, value)
        return value

    def peek(self, key: tuple[str, ...]) -> tuple[bool, Any]:
        """(True, value) when a fresh entry is cached, else (False, None); never loads."""
        if self.ttl <= 0:
            return False, None
        with self._lock:
            at, value = self._items.get(key, (0.0, _MISSING))
        if value is _MISSING or time.monotonic() - at >= self.ttl:
            return False, None
        return True, value

    def invalidate(self, area: str) -> None:
        """Forget every entry whose key starts with ``area``."""
        with self._lock:
            for key in [k for k in self._items if k[0] == area]:
                del self._items[key]
