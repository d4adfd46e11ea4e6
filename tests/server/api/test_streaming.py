"""Streaming answers pass output screening before any byte leaves, and the audit record
is committed before the stream finishes cleanly."""

from __future__ import annotations

import json

import pytest

from charter.core.aliases import AliasConfig
from charter.core.errors import StorageError
from tests.server.conftest import Served

REPLY = ("Your leave is 25 days [3]. For questions write to jane.doe@example.com or call "
         "+44 20 7946 0958. Card 4111 1111 1111 1111 is the team card.")


def _redacting(served: Served) -> None:
    from charter.policy.versions import default_charter_text

    rt = served.runtime
    body = default_charter_text().replace("redact_in_answers: false", "redact_in_answers: true")
    rt.policies.propose(body, "alice", "redact answers too")
    rt.policies.approve(2, "bob")
    rt.aliases.add(AliasConfig("leaky", "scripted", "", {"replies": [REPLY]}))


def _events(served: Served, model: str) -> list[str]:
    with served.client() as c, c.stream("POST", "/v1/chat/completions", json={
            "model": model, "stream": True,
            "messages": [{"role": "user", "content": "How much leave do I get?"}]}) as r:
        assert r.status_code == 200
        return [line for line in r.iter_lines() if line]


def test_no_chunk_carries_pii_or_an_unsupported_marker(served: Served) -> None:
    _redacting(served)
    lines = _events(served, "leaky")
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    for piece in pieces:
        for secret in ("jane", "@example", "7946", "4111", "[3]"):
            assert secret not in piece, (secret, piece)
    text = "".join(pieces)
    assert "<EMAIL_ADDRESS>" in text and "[3]" not in text
    final = next(c["charter"] for c in chunks if c.get("charter"))
    assert final["answer"].startswith(text.strip())
    # The same answer through the non-streaming path.
    with served.client() as c:
        plain = c.post("/v1/chat/completions", json={
            "model": "leaky", "messages": [{"role": "user", "content": "How much leave?"}]})
    assert plain.json()["choices"][0]["message"]["content"].startswith(text.strip())


@pytest.mark.parametrize("failure", [StorageError("the database is gone"),
                                     RuntimeError("disk full")])
def test_a_failed_audit_write_ends_the_stream_with_an_error(served: Served, monkeypatch,
                                                            failure: Exception) -> None:  # noqa: ANN001
    rt = served.runtime
    rt.aliases.add(AliasConfig("long", "scripted", "", {"replies": [REPLY]}))

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise failure

    monkeypatch.setattr(rt.gateway.audit, "append", broken)
    lines = _events(served, "long")
    assert "data: [DONE]" not in lines
    last = json.loads(lines[-1][6:])
    assert "error" in last and last["status"] >= 500
    assert not any('"finish_reason": "stop"' in line or '"finish_reason":"stop"' in line
                   for line in lines)
    text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content", "")
                   for line in lines[:-1] if json.loads(line[6:]).get("choices"))
    assert text and not text.rstrip().endswith("card.")  # its last word was held back
