"""The key-guessing bench drives a real server and reads its memory."""

from __future__ import annotations

import pytest

from charter.bench import auth

pytestmark = pytest.mark.slow


def test_guesses_are_refused_and_the_server_is_measured() -> None:
    unlimited = auth.run(requests=60, concurrency=4, failures_per_minute=0)
    assert unlimited["codes"] == {401: 60}
    assert unlimited["rss_before_mb"] > 50 and unlimited["rss_after_mb"] > 50
    limited = auth.run(requests=60, concurrency=4)  # the warm-up spent the 30 allowed
    assert limited["codes"] == {429: 60}
