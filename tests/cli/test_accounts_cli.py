"""`charter users` and `charter keys`: the first admin comes from the CLI; keys shown once."""

from __future__ import annotations

import re

from charter.accounts import hash_key


def test_users_and_keys(cli) -> None:
    r = cli("users", "add", "ann@example.com", "--roles", "admin", "--clearance", "restricted",
            "--groups", "hr,legal", "--tier", "team")
    assert r.code == 0, r.err
    secret = re.search(r"chk_\S+", r.out).group(0)
    listing = cli("users", "list").out
    assert "ann@example.com" in listing and "admin" in listing and "hr,legal" in listing
    keys = cli("keys", "list").out
    assert secret not in keys and secret[:12] in keys  # only the prefix is ever shown again
    created = cli("keys", "create", "ann@example.com", "--name", "laptop").out
    key_id = re.search(r"key_[0-9a-f]+", created).group(0)
    assert "revoked" in cli("keys", "revoke", key_id).out
    assert "revoked" in cli("keys", "list", "--user", "ann@example.com").out
    assert "disabled ann@example.com" in cli("users", "disable", "ann@example.com").out
    assert "DISABLED" in cli("users", "list").out
    assert len(hash_key(secret)) == 64


def test_bad_account_input(cli) -> None:
    assert "roles must be among" in cli("users", "add", "x@example.com", "--roles", "boss").err
    assert "clearance must be one of" in cli("users", "add", "x@example.com",
                                             "--clearance", "secret").err
    assert "user id" in cli("users", "add", "bad id with spaces").err
    assert cli("users", "add", "x@example.com").code == 0
    assert "already exists" in cli("users", "add", "x@example.com").err
    assert "no user 'nobody'" in cli("keys", "create", "nobody").err
    assert "no API key" in cli("keys", "revoke", "key_nothing").err
