"""The request as the spine receives it, and its codec (held requests are stored with it)."""

from __future__ import annotations

import json

import pytest

from charter.core.chat import ChatMessage
from charter.core.errors import InvalidInputError
from charter.core.principal import Principal
from charter.spine.request import AskRequest, decode, encode

ASKER = Principal("ann", frozenset({"user"}), "confidential", frozenset({"hr", "legal"}), "plus")


def test_encode_decode_round_trips_every_field() -> None:
    req = AskRequest([ChatMessage("system", "Be brief."), ChatMessage("user", "First?"),
                      ChatMessage("assistant", "One."), ChatMessage("user", "And then?")],
                     ASKER, model="thinking", max_tokens=64, temperature=0.2, seed=5,
                     use_case="hr-help", personality="nerd", instructions="Metric units.")
    stored = json.loads(json.dumps(encode(req)))  # as the review queue keeps it
    assert decode(stored) == req
    approved = decode(stored, approved_review="rev_1")
    assert approved.approved_review == "rev_1" and approved.messages == req.messages


def test_the_question_is_the_latest_user_message() -> None:
    req = AskRequest([ChatMessage("user", "First?"), ChatMessage("assistant", "One."),
                      ChatMessage("user", "And then?"), ChatMessage("assistant", "Two.")], ASKER)
    assert req.question == "And then?" and req.turns == 2


@pytest.mark.parametrize("messages", [[], [ChatMessage("system", "Hi")],
                                      [ChatMessage("user", "   ")]])
def test_a_request_without_a_question_is_refused(messages: list[ChatMessage]) -> None:
    with pytest.raises(InvalidInputError, match="no question"):
        AskRequest(messages, ASKER).check()
