from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from charter.backends import registry
from charter.cli.app import main


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        onnx_cache: Path):
    """Runs `charter ARGS` in-process with a private data dir; returns code, stdout, stderr."""
    for key in list(os.environ):
        if key.startswith("CHARTER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHARTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHARTER_ONNX_CACHE_DIR", str(onnx_cache))

    def run(*args: str, env: dict[str, str] | None = None) -> Run:
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            for k in env or {}:
                monkeypatch.delenv(k)
            registry.clear_cache()
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
