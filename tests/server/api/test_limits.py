"""Chat limits over HTTP: a conversation over the limits or the model's window is a 400
naming what to fix, finish_reason says length when the cap was hit, and a client that
disconnects from a non-streaming request stops the local generation."""

from __future__ import annotations

import time

import httpx

from charter.core.aliases import AliasConfig
from tests.server.conftest import Served


def _chat(c: httpx.Client, content: str, **body) -> httpx.Response:  # noqa: ANN003
    return c.post("/v1/chat/completions",
                  json={"messages": [{"role": "user", "content": content}], **body})


def test_finish_reason_says_length_when_max_tokens_cut_the_answer(served: Served) -> None:
    served.runtime.aliases.add(AliasConfig("long", "scripted", "", {
        "replies": [" ".join(["word"] * 60)], "context_window": 2048}))
    with served.client("user") as c:
        cut = _chat(c, "Talk.", model="long", max_tokens=5).json()
        assert cut["choices"][0]["finish_reason"] == "length"
        whole = _chat(c, "Talk.", model="long", max_tokens=2**31 - 1).json()
        assert whole["choices"][0]["finish_reason"] == "stop"
        with c.stream("POST", "/v1/chat/completions", json={
                "model": "long", "max_tokens": 5, "stream": True,
                "messages": [{"role": "user", "content": "Talk."}]}) as r:
            finishes = [line for line in r.iter_lines() if '"finish_reason":"length"' in line]
        assert len(finishes) == 1


def test_a_conversation_over_the_window_or_the_limits_is_a_clear_400(served: Served) -> None:
    served.runtime.aliases.add(AliasConfig("tiny", "scripted", "", {"context_window": 100}))
    with served.client("user") as c:
        r = _chat(c, "word " * 300, model="tiny")
        assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
        assert "shorten" in r.json()["error"]["message"]
        many = [{"role": "user", "content": "hi"}] * (served.runtime.settings.max_messages + 1)
        r = c.post("/v1/chat/completions", json={"messages": many})
        assert r.status_code == 400 and "max_messages" in r.json()["error"]["message"]
        assert _chat(c, "Still there?").status_code == 200


def test_a_disconnected_non_streaming_request_stops_generating(served: Served) -> None:
    served.runtime.aliases.add(AliasConfig("slow", "scripted", "", {
        "replies": [" ".join(["word"] * 1000)], "token_delay": 0.02}))  # 20 s if not stopped
    with served.client("user") as c:
        try:
            c.post("/v1/chat/completions", timeout=0.5,
                   json={"model": "slow", "messages": [{"role": "user", "content": "Talk."}]})
        except httpx.TimeoutException:
            pass  # the client gave up and closed the connection
    deadline = time.monotonic() + 15
    records = []
    while time.monotonic() < deadline and not records:
        records = [r for r in served.runtime.audit.records() if r.event == "chat"]
        time.sleep(0.1)
    assert records, "no record of the request"
    assert records[-1].payload["error"]["code"] == "cancelled"


def test_a_chat_body_too_large_for_the_character_limit_is_refused_unparsed(
        settings) -> None:  # noqa: ANN001
    from tests.server.conftest import _start

    for served in _start(settings.with_overrides(max_conversation_chars=1_000), scripted=True):
        with served.client("user") as c:
            big = _chat(c, "x" * (12 * 1_000 + (1 << 14) + 10))
            assert big.status_code == 400
            assert big.json()["error"]["code"] == "conversation_too_large"
            assert "bytes" in big.json()["error"]["message"]  # refused before parsing
            parsed = _chat(c, "x" * 1_001)
            assert parsed.status_code == 400 and "1,001 characters" in parsed.text
            assert _chat(c, "x" * 900).status_code == 200
