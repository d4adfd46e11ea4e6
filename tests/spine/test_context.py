"""Requests fitted to the answering model's context window: passages trimmed weakest
first, max_tokens capped, overflow a 400; conversation limits; finish_reason length;
a non-streaming local generation stopped when its client goes."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage, ChatRequest, Passage, approx_tokens
from charter.core.errors import (
    CancelledRequestError,
    ContextOverflowError,
    ConversationTooLargeError,
)
from charter.core.principal import local_admin
from charter.runtime import Runtime
from charter.spine import context
from charter.spine.request import AskRequest

ADMIN = local_admin()
PASSAGES = [Passage(i, f"passage {i} " + "word " * 40) for i in range(1, 6)]


def _build(passages: Sequence[Passage]) -> ChatRequest:
    body = "\n".join(p.text for p in passages)
    return ChatRequest([ChatMessage("system", "Answer. " + body),
                        ChatMessage("user", "question " * 10)], passages=passages)


def _fit(window: int | None, requested: int | None = None) -> context.Fitted:
    return context.fit(_build, PASSAGES, window=window, count=approx_tokens,
                       requested=requested, default=64, alias="fast")


def test_without_a_window_nothing_changes() -> None:
    fitted = _fit(None, requested=10**9)
    assert fitted.passages == tuple(PASSAGES) and fitted.request.max_tokens is None


def test_passages_are_left_out_weakest_first_until_the_answer_fits() -> None:
    full = sum(approx_tokens(m.content) for m in _build(PASSAGES).messages)
    fitted = _fit(full + 64 - 30)  # short of the room by about half a passage (56 tokens)
    assert [p.n for p in fitted.passages] == [1, 2, 3, 4] and fitted.left_out == 1
    assert fitted.prompt_tokens + fitted.request.max_tokens <= full + 64 - 30
    assert fitted.request.max_tokens == 64


def test_max_tokens_is_capped_at_the_room_left() -> None:
    bare = sum(approx_tokens(m.content) for m in _build([]).messages)
    fitted = _fit(bare + 40, requested=2**31 - 1)
    assert fitted.passages == () and fitted.request.max_tokens == 40


def test_a_huge_max_tokens_keeps_the_passages_and_takes_the_room_left() -> None:
    full = sum(approx_tokens(m.content) for m in _build(PASSAGES).messages)
    fitted = _fit(full + 200, requested=2**31 - 1)
    assert fitted.passages == tuple(PASSAGES) and fitted.request.max_tokens == 200


def test_a_conversation_that_leaves_no_room_is_a_400_saying_by_how_much() -> None:
    bare = sum(approx_tokens(m.content) for m in _build([]).messages)
    with pytest.raises(ContextOverflowError, match=f"about {bare:,} tokens") as info:
        _fit(bare + context.MIN_ANSWER_TOKENS - 1)
    assert info.value.status == 400 and info.value.code == "context_length_exceeded"


@pytest.fixture
def small(runtime: Runtime) -> Runtime:
    """A scripted alias with a 120-token window whose reply is 50 words long."""
    runtime.aliases.add(AliasConfig("small", "scripted", "", {
        "replies": [" ".join(f"w{i}" for i in range(50))], "context_window": 120}))
    return runtime


def _ask(text: str, **kw) -> AskRequest:  # noqa: ANN003
    return AskRequest([ChatMessage("user", text)], ADMIN, model="small", **kw)


def test_an_answer_cut_at_the_cap_says_length_plain_and_streamed(small: Runtime) -> None:
    result = small.gateway.ask(_ask("Say fifty words.", max_tokens=10))
    assert result.finish_reason == "length" and len(result.answer.split()) <= 10
    *_, last = small.gateway.ask_stream(_ask("Say fifty words.", max_tokens=10))
    assert last.finish_reason == "length"
    whole = small.gateway.ask(_ask("Say fifty words.", max_tokens=100))
    # The window (120) less the prompt caps the answer below the 100 asked for.
    assert whole.finish_reason == "length" and whole.usage.completion_tokens < 100
    small.aliases.remove("small")
    small.aliases.add(AliasConfig("small", "scripted", "", {"replies": ["Short."],
                                                            "context_window": 4096}))
    assert small.gateway.ask(_ask("Hi?", max_tokens=100)).finish_reason == "stop"


def test_a_conversation_over_the_window_is_a_400_not_a_backend_error(small: Runtime) -> None:
    with pytest.raises(ContextOverflowError):
        small.gateway.ask(_ask("word " * 200))
    events = small.audit.records()
    assert events[-1].payload["error"]["code"] == "context_length_exceeded"


def test_conversation_limits_are_checked_before_screening(runtime: Runtime,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    screened: list[int] = []
    monkeypatch.setattr(runtime.gateway.screen, "screen_input",
                        lambda *a, **k: screened.append(1))
    gw = runtime.gateway
    limit = runtime.settings.max_conversation_chars
    with pytest.raises(ConversationTooLargeError, match="max_conversation_chars"):
        gw.ask(AskRequest([ChatMessage("user", "a" * (limit + 1))], ADMIN))
    many = [ChatMessage("user", "hi")] * (runtime.settings.max_messages + 1)
    with pytest.raises(ConversationTooLargeError, match="max_messages"):
        gw.ask(AskRequest(many, ADMIN))
    with pytest.raises(ConversationTooLargeError, match="max_conversation_chars"):
        gw.ask(AskRequest([ChatMessage("user", "hi")], ADMIN,
                          instructions="b" * (limit + 1)))
    assert screened == []


def test_a_cancelled_local_generation_stops_and_is_recorded(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from charter.backends import scripted

    runtime.aliases.add(AliasConfig("slow", "scripted", "", {
        "replies": [" ".join(["word"] * 200)], "token_delay": 0.001}))
    cancel = threading.Event()
    pieces: list[float] = []

    def sleep(seconds: float) -> None:  # each streamed piece; the client leaves at the 5th
        pieces.append(seconds)
        if len(pieces) == 5:
            cancel.set()

    monkeypatch.setattr(scripted.time, "sleep", sleep)
    with pytest.raises(CancelledRequestError):
        runtime.gateway.ask(AskRequest([ChatMessage("user", "Talk.")], ADMIN, model="slow"),
                            cancel)
    assert len(pieces) <= 6  # stopped at the next piece, not after all 200
    record = runtime.audit.records()[-1].payload
    assert record["error"]["code"] == "cancelled"
    # Without a cancel (the CLI), the same request is answered whole.
    assert len(runtime.gateway.ask(AskRequest([ChatMessage("user", "Talk.")], ADMIN,
                                              model="slow")).answer.split()) == 200


def test_a_request_cancelled_before_any_text_is_charged_the_prompt_it_sent(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime.aliases.add(AliasConfig("slow", "scripted", "", {
        "replies": ["one two three"], "token_delay": 0.001}))
    cancel = threading.Event()
    cancel.set()  # the client left before the first piece: it is stopped there
    charged: list[int] = []
    quotas = runtime.gateway.quotas
    assert quotas is not None
    monkeypatch.setattr(quotas, "add_tokens",
                        lambda principal, state, tokens, **kw: charged.append(tokens))
    question = "Please talk about audit trails at some length."
    with pytest.raises(CancelledRequestError):
        runtime.gateway.ask(AskRequest([ChatMessage("user", question)], ADMIN, model="slow"),
                            cancel)
    assert charged and charged[0] >= approx_tokens(question) > 0
