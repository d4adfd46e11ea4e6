"""Text that cannot be stored or sent on is refused at the edge with a 400 naming the
field; malformed and deeply nested bodies get an error in the one shape, never a 500."""

from __future__ import annotations

import pytest

from tests.server.conftest import Served

CHAT = '{"model": "fast", "messages": [{"role": "user", "content": "%s"}]%s}'


@pytest.mark.parametrize("body, where", [
    (CHAT % ("Hello \\ud800 there", ""), "messages.0.content"),
    (CHAT % ("Hello \\udc00", ', "stream": true'), "messages.0.content"),
    (CHAT % ("Hello \\u0000", ""), "messages.0.content"),
    ('{"model": "fast\\udfff", "messages": [{"role": "user", "content": "Hi"}]}', "model"),
    ('{"model": "fast", "messages": [{"role": "user", "content": "Hi"}], '
     '"charter": {"instructions": "x\\ud83d"}}', "charter.instructions"),
    ('{"model": "fast", "\\ud800": 1, "messages": []}', "\\ud800"),
])
def test_malformed_text_is_a_400_naming_the_field(served: Served, body: str, where: str) -> None:
    with served.client() as c:
        r = c.post("/v1/chat/completions", content=body.encode(),
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "invalid_text" and err["message"].startswith(where)
        ok = c.post("/v1/chat/completions", json={
            "model": "fast", "messages": [{"role": "user", "content": "Hi"}]})
        assert ok.status_code == 200


def test_a_surrogate_pair_is_ordinary_text(served: Served) -> None:
    with served.client() as c:
        r = c.post("/v1/chat/completions", content=(CHAT % ("Party \\ud83c\\udf89", "")).encode(),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"model": "fast", "messages": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    b'{"model": "fast", "messages": [{"role": "user", "content": "caf\xe9"}]}',
    b'{"model": "fast", "messages": [',
    b"\xff\xfe\x00\x00",
])
def test_hostile_bodies_get_a_clean_error(served: Served, body: bytes) -> None:
    with served.client() as c:
        r = c.post("/v1/chat/completions", content=body,
                   headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, r.text
        assert set(r.json()["error"]) == {"message", "type", "code"}
        assert c.get("/v1/models").status_code == 200


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=utf-8"])
def test_the_check_holds_for_any_casing_of_the_content_type(served: Served,
                                                            content_type: str) -> None:
    body = '{"messages": [{"role": "user", "content": "a \\ud800 b"}]}'
    with served.client() as c:
        r = c.post("/v1/chat/completions", content=body.encode(),
                   headers={"Content-Type": content_type})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_text"
