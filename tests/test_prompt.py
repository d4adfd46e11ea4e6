"""Prompt assembly: one system message, layers in a fixed order, the sources last."""

from __future__ import annotations

from charter.core.chat import ChatMessage, Passage
from charter.prompt import build, judge_prompt
from charter.profiles import PERSONALITIES


def test_layers_come_in_order_in_one_system_message() -> None:
    chat = build([ChatMessage("system", "CLIENT SYSTEM"), ChatMessage("user", "Q1"),
                  ChatMessage("assistant", "A1"), ChatMessage("system", "SECOND CLIENT"),
                  ChatMessage("user", "Q2")],
                 policy_version=3, personality="nerd", instructions="Use metric units.",
                 safe_completion="Answer at a safe level only. No doses.",
                 passages=[Passage(1, "Leave is 25 days."), Passage(2, "Trains preferred.")],
                 max_tokens=50, seed=4)
    system, *turns = chat.messages
    assert system.role == "system" and [m.role for m in turns] == ["user", "assistant", "user"]
    text = system.content
    order = ["AI charter (version 3)", "No doses.", PERSONALITIES["nerd"], "Use metric units.",
             "CLIENT SYSTEM", "SECOND CLIENT", "[1] Leave is 25 days.", "[2] Trains preferred."]
    positions = [text.index(piece) for piece in order]
    assert positions == sorted(positions)
    assert chat.passages[0].text == "Leave is 25 days." and chat.max_tokens == 50 and chat.seed == 4


def test_empty_layers_are_left_out() -> None:
    chat = build([ChatMessage("user", "Hi")], policy_version=None, personality="default",
                 instructions="")
    (system, user) = chat.messages
    assert "Style" not in system.content and "custom instructions" not in system.content
    assert "numbered sources" not in system.content and user.content == "Hi"


def test_the_judge_sees_the_question_and_numbered_drafts() -> None:
    text = judge_prompt("Which plan?", ["Plan A", "Plan B"])
    assert text.index("Which plan?") < text.index("Draft 1:\nPlan A") < text.index("Draft 2:\nPlan B")
