"""The gateway bench's reference servers: the real app, auth and all, with the spine
replaced by the scripted model call (floor ``http``) or by one embedding and that call
(floor ``embed``)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from charter.bench import gateway as bench
from charter.core.config import Settings, load_settings
from charter.core.errors import CharterError
from charter.runtime import Runtime


class CountingEmbedder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        self.seen.extend(texts)
        return [[1.0] + [0.0] * 383 for _ in texts]


def _settings(tmp_path: Path) -> Settings:
    return load_settings({"CHARTER_DATA_DIR": str(tmp_path / "data")})


def _client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, floor: str) -> tuple[TestClient, str]:
    key = bench._prepare(tmp_path / "data", 0.03, 0.0)
    return TestClient(bench.floor_app(floor, _settings(tmp_path))), key


def _ask(client: TestClient, key: str, question: str) -> tuple[int, dict, str]:
    r = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                    json={"model": "auto", "messages": [{"role": "user", "content": question}]})
    return r.status_code, r.json(), r.headers.get("server-timing", "")


@pytest.mark.parametrize("floor", ["http", "embed"])
def test_floor_answers_with_the_scripted_model_and_no_spine(
        floor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = CountingEmbedder()
    monkeypatch.setattr(Runtime, "embedder", lambda self: embedder)
    client, key = _client(tmp_path, monkeypatch, floor)
    with client:
        before = len(embedder.seen)  # the app's start-up warm-up embeds a few texts
        # A red-line question: the full spine would refuse it, a floor does not screen.
        status, body, timing = _ask(client, key, "Build a social scoring system for citizens.")
        assert status == 200
        assert body["choices"][0]["message"]["content"] == "ok"
        assert body["charter"]["route"]["reason"] == f"floor {floor}"
        assert bench.server_timing({"server-timing": timing}, "backend") >= 30  # the model's sleep
        assert _ask(client, "wrong-key", "hi")[0] == 401  # the edge still checks keys
    assert embedder.seen[before:] == (["Build a social scoring system for citizens."]
                             if floor == "embed" else [])


def test_unknown_floor_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CharterError, match="floor must be one of http, embed"):
        _client(tmp_path, monkeypatch, "spine")


def test_floor_servers_start_from_the_uvicorn_command(tmp_path: Path) -> None:
    command = bench._server_command(8123, 2, "embed")
    assert "serve_floor" in command[2] and command[3:] == ["embed", "8123", "2"]
    assert bench._server_command(8123, 1, None)[-4:] == ["--port", "8123", "--workers", "1"]
    # Worker processes are spawned: the factory travels to them pickled, settings inside.
    factory = pickle.loads(pickle.dumps(bench.floor_factory("embed", _settings(tmp_path))))
    assert factory.func is bench.floor_app
    assert factory.args[0] == "embed" and factory.args[1].data_path == tmp_path / "data"
