"""The JSON walkers: the first malformed string or the first too-deep place, named by
path, in memory linear in the value however long its keys."""

from __future__ import annotations

import tracemalloc

from charter.core.text import too_deep, value_problem


def test_paths_name_the_place() -> None:
    assert value_problem({"messages": [{"content": "a\x00"}]}) == (
        "messages.0.content", "holds a NUL character (U+0000); remove it")
    assert too_deep({"a": [[["x"]]]}, max_depth=3) == "a.0.0.0"
    assert too_deep({"a": [[["x"]]]}, max_depth=4) is None
    assert value_problem({"ok": ["fine"]}) is None


def test_long_keys_over_wide_lists_cost_memory_linear_in_the_value() -> None:
    value = {"k" * 20_000: [0] * 10_000}  # quadratic if every child copied the path
    tracemalloc.start()
    try:
        assert value_problem(value) is None and too_deep(value) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, peak
