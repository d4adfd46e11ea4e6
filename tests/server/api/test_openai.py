"""The official openai client against a running server; error shapes and codes."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.server.conftest import Served


def client(served: Served, role: str = "user") -> openai.OpenAI:
    return openai.OpenAI(base_url=served.url + "/v1", api_key=served.keys[role], max_retries=0)


def test_openai_client_chats_streams_and_lists_models(served: Served) -> None:
    oc = client(served)
    chat = oc.chat.completions.create(model="fast", messages=[{"role": "user", "content": "Hello"}])
    assert chat.choices[0].message.content == "Answer from fast."
    extra = chat.model_extra["charter"]
    assert extra["route"]["name"] == "fast" and extra["request_id"] == chat.id
    assert extra["label"] and chat.usage.total_tokens > 0

    stream = oc.chat.completions.create(
        model="auto", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Think step by step: how do I plan a trip?"}])
    pieces, usage, charter = [], None, None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
        if (chunk.model_extra or {}).get("charter"):
            charter = chunk.model_extra["charter"]
    assert "".join(pieces) == "Answer from thinking."
    assert usage is not None and usage.completion_tokens > 0
    assert charter["route"]["name"] == "thinking" and "step by step" in charter["route"]["reason"]

    ids = {m.id for m in oc.models.list()}
    assert {"auto", "fast", "thinking", "pro", "mini", "local"} <= ids


def test_free_tier_keys_do_not_list_pro(served: Served) -> None:
    rt = served.runtime
    rt.accounts.add_user("free@example.com", tier="free")
    key = rt.accounts.create_key("free@example.com")[1]
    oc = openai.OpenAI(base_url=served.url + "/v1", api_key=key, max_retries=0)
    assert "pro" not in {m.id for m in oc.models.list()}


def test_embeddings(served: Served) -> None:
    out = client(served).embeddings.create(model="embed", input=["annual leave", "expenses"])
    assert len(out.data) == 2 and len(out.data[0].embedding) == 384


def test_charter_refusal_travels_in_the_charter_object(served: Served) -> None:
    with served.client() as c:
        r = c.post("/v1/chat/completions", json={"model": "auto", "messages": [
            {"role": "user", "content": "Help me track where my girlfriend goes every day "
                                        "without her finding out."}]})
    assert r.status_code == 200
    body = r.json()
    assert body["charter"]["decision"]["action"] == "refuse"
    assert body["charter"]["decision"]["alternatives"]
    assert body["choices"][0]["message"]["content"].startswith("I can't help")


@pytest.mark.parametrize("case, status, code", [
    ("no key", 401, "invalid_api_key"),
    ("bad key", 401, "invalid_api_key"),
    ("not a reviewer", 403, "forbidden"),
    ("unknown model", 404, "model_not_found"),
    ("unknown path", 404, "not_found"),
    ("bad field", 422, "invalid_value"),
    ("empty question", 400, "invalid_input"),
    ("too large", 413, "payload_too_large"),
    ("quota", 429, "quota_exceeded"),
    ("backend down", 503, "backend_unavailable"),
    ("approved twice", 409, None),
])
def test_error_shapes_and_codes(served: Served, case: str, status: int, code: str | None) -> None:
    from charter.core.aliases import AliasConfig

    rt = served.runtime
    chat = {"model": "fast", "messages": [{"role": "user", "content": "Hello"}]}
    role: str | None = "user"
    method, path, body = "post", "/v1/chat/completions", chat
    if case == "no key":
        role = None
    elif case == "bad key":
        served.keys["bad"] = "chk_not_a_key"
        role = "bad"
    elif case == "not a reviewer":
        method, path, body = "get", "/api/reviews", None
    elif case == "unknown model":
        body = {**chat, "model": "gpt-99"}
    elif case == "unknown path":
        method, path, body = "get", "/v1/nothing", None
    elif case == "bad field":
        body = {**chat, "temperature": 7}
    elif case == "empty question":
        body = {**chat, "messages": [{"role": "user", "content": "   "}]}
    elif case == "too large":
        body = {**chat, "messages": [{"role": "user", "content": "x" * 100_000}]}
    elif case == "quota":
        rt.quotas.set_limit("pro", "fast", window_s=3600, max_requests=0, max_tokens=0)
        rt.quotas.set_limit("pro", "mini", window_s=3600, max_requests=0, max_tokens=0)
    elif case == "backend down":
        rt.aliases.add(AliasConfig("down", "scripted", "", {"fail": "unavailable"}))
        body = {**chat, "model": "down"}
    elif case == "approved twice":
        with served.client("reviewer") as c:
            held = c.post("/v1/chat/completions", json={**chat, "model": "auto", "messages": [
                {"role": "user", "content": "Decide which employees to lay off next month."}]})
            review_id = held.json()["charter"]["decision"]["review_id"]
            assert review_id
            ok = c.post(f"/api/reviews/{review_id}/approve", json={"note": "fine"})
            assert ok.status_code == 200, ok.text
        role, method, path, body = "reviewer", "post", f"/api/reviews/{review_id}/approve", {"note": "again"}
    with served.client(role) as c:
        r = c.request(method, path, json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "code"} and err["message"]
    if code:
        assert err["code"] == code


def test_stream_errors_before_the_first_token_are_plain_responses(served: Served) -> None:
    with served.client() as c:
        r = c.post("/v1/chat/completions", json={"model": "nope", "stream": True,
                                                 "messages": [{"role": "user", "content": "Hi"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


def test_sse_wire_format(served: Served) -> None:
    with served.client() as c, c.stream("POST", "/v1/chat/completions", json={
            "model": "fast", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}) as r:
        lines = [line for line in r.iter_lines() if line]
    assert r.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] > 0
    assert httpx  # the client library used above


def test_client_disconnect_cancels_the_backend_stream(served: Served) -> None:
    """The client reads two chunks of a slow stream and hangs up: the backend stops long
    before its 100 pieces are done, and the audit records the request as cancelled."""
    import time

    from charter.core.aliases import AliasConfig

    rt = served.runtime
    rt.aliases.add(AliasConfig("slow", "scripted", "", {
        "replies": [" ".join(f"word{i}" for i in range(100))], "token_delay": 0.05}))
    started = time.monotonic()
    with served.client() as c, c.stream("POST", "/v1/chat/completions", json={
            "model": "slow", "stream": True,
            "messages": [{"role": "user", "content": "Tell me a long story"}]}) as r:
        seen = []
        for line in r.iter_lines():
            if line.startswith("data: {"):
                seen.append(json.loads(line[6:]))
            if len(seen) >= 2:
                break
    request_id = seen[0]["id"]
    assert request_id.startswith("req_") and seen[1]["id"] == request_id
    deadline = time.monotonic() + 4
    records = []
    while time.monotonic() < deadline and not records:
        records = rt.audit.records(request_id=request_id)
        time.sleep(0.1)
    assert records, "no audit record for the cancelled stream"
    payload = records[0].payload
    assert payload["status"] == "error" and payload["error"]["code"] == "cancelled"
    assert time.monotonic() - started < 5.0  # the 100 pieces would take 5 s


def test_timing_separates_the_backend_from_charter(served: Served) -> None:
    """Server-Timing and ``charter.timing`` say how long the model call took and how long
    Charter's own stages took; a model that takes 0.3 s shows as backend time."""
    from charter.core.aliases import AliasConfig

    served.runtime.aliases.add(AliasConfig("sleepy", "scripted", "", {
        "replies": ["Done."], "delay": 0.3}))
    with served.client() as c:
        r = c.post("/v1/chat/completions", json={
            "model": "sleepy", "messages": [{"role": "user", "content": "Are you there?"}]})
        streamed = c.post("/v1/chat/completions", json={
            "model": "sleepy", "stream": True,
            "messages": [{"role": "user", "content": "Are you there?"}]}).text
    assert r.status_code == 200
    timing = r.json()["charter"]["timing"]
    assert 300 <= timing["backend_ms"] < timing["total_ms"]
    parts = dict(p.strip().split(";dur=") for p in r.headers["server-timing"].split(","))
    assert float(parts["backend"]) == pytest.approx(timing["backend_ms"], abs=0.01)
    assert float(parts["charter"]) == pytest.approx(timing["total_ms"] - timing["backend_ms"],
                                                    abs=0.01)
    final = [json.loads(line[6:]) for line in streamed.splitlines()
             if line.startswith("data: {") and '"charter"' in line][-1]
    assert final["charter"]["timing"]["backend_ms"] >= 300


@pytest.mark.parametrize("warm", [True, False])
def test_the_server_loads_the_screening_models_before_the_first_request(
        settings, warm: bool) -> None:  # noqa: ANN001
    import gc

    from fastapi.testclient import TestClient

    from charter.runtime import Runtime
    from charter.server.app import create_app

    from charter.backends import registry

    registry.clear_cache()  # a fresh embedder, not one an earlier test warmed
    settings = settings.with_overrides(server_warmup=warm)
    rt = Runtime.open(settings)
    try:
        before = gc.get_freeze_count()
        with TestClient(create_app(settings, rt)):
            # No request yet: only the start-up can have built the screening models.
            assert (rt.embedder()._query_batcher is not None) is warm
            # ...and the objects loaded by then are left out of garbage collections.
            assert (gc.get_freeze_count() > before) is warm
        if warm:
            assert gc.get_freeze_count() == 0  # unfrozen when the app stops
    finally:
        rt.close()


def test_backend_errors_hide_internals_from_everyone_but_administrators(served: Served) -> None:
    from charter.core.aliases import AliasConfig

    from tests.server.conftest import free_port

    secret_url = f"http://127.0.0.1:{free_port()}/private-gpu-cluster/v1"
    served.runtime.aliases.add(AliasConfig("remote", "openai_compat", "m", {
        "base_url": secret_url, "max_retries": 0}))
    chat = {"model": "remote", "messages": [{"role": "user", "content": "Hello"}]}
    with served.client("user") as c:
        plain = c.post("/v1/chat/completions", json=chat)
        streamed = c.post("/v1/chat/completions", json={**chat, "stream": True})
    with served.client("admin") as c:
        admin = c.post("/v1/chat/completions", json=chat)
    assert plain.status_code == 503, plain.text
    message = plain.json()["error"]["message"]
    assert "private-gpu-cluster" not in message and "127.0.0.1" not in message
    assert "reference" in message and plain.json()["error"]["code"] == "backend_unavailable"
    assert "private-gpu-cluster" not in streamed.text and "127.0.0.1" not in streamed.text
    assert admin.status_code == 503 and "private-gpu-cluster" in admin.json()["error"]["message"]
