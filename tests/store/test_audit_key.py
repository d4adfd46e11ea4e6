"""The audit head's key file: created owner-only, and clear errors when it is unusable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from charter.audit import load_key
from charter.core.errors import ConfigError


def test_the_key_is_created_once_and_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit.key"
    key = load_key(path)
    assert len(key) >= 32 and load_key(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_unusable_key_file_says_what_to_fix(tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_text("abc")
    with pytest.raises(ConfigError, match="fewer than 32 characters"):
        load_key(short)
    folder = tmp_path / "a-directory"
    folder.mkdir()
    with pytest.raises(ConfigError, match="set audit_key_file"):
        load_key(folder)
