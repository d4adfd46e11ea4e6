"""A key revoked or a user disabled from the CLI, another process, stops working on the
running server with the very next request, although the server caches who a key is."""

from __future__ import annotations

import os
import subprocess
import sys

from collections.abc import Iterator

import pytest

from charter.core.config import Settings
from tests.server.conftest import Served, _start


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    """A server that caches credentials for a minute: far longer than the CLI takes."""
    yield from _start(settings.with_overrides(read_cache_ttl=60), scripted=True)


def _cli(served: Served, *args: str) -> None:
    env = {**os.environ, "CHARTER_DATA_DIR": str(served.runtime.settings.data_path)}
    done = subprocess.run([sys.executable, "-m", "charter", *args], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("how", ["revoke the key", "disable the user"])
def test_the_next_request_after_a_change_in_another_process_is_refused(served: Served,
                                                                       how: str) -> None:
    rt = served.runtime
    rt.accounts.add_user("leaver@example.com")
    key, secret = rt.accounts.create_key("leaver@example.com")
    headers = {"Authorization": f"Bearer {secret}"}
    with served.client(None) as c:
        for _ in range(3):  # cached now
            assert c.get("/v1/models", headers=headers).status_code == 200
        if how == "revoke the key":
            _cli(served, "keys", "revoke", key.id)
        else:
            _cli(served, "users", "disable", "leaver@example.com")
        refused = c.get("/v1/models", headers=headers)
        assert refused.status_code == 401, refused.text
        # Everyone else is still served.
        other = {"Authorization": f"Bearer {served.keys['user']}"}
        assert c.get("/v1/models", headers=other).status_code == 200
