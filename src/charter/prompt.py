"""Prompt assembly: every layer a model sees, in one place and one order.

The system message is built from, in this order:

1. the charter layer: the precedence statement, and for a safe completion the charter's
   instruction to answer at a safe level;
2. the personality's style (tone only);
3. the user's custom instructions (beneath the charter);
4. the client's own system and developer messages;
5. the numbered sources the answer must come from, when there are any.

The order is a hint to the model; the charter itself is enforced by input and output
screening, which no layer reaches. The pro strategy's judge prompt is here too.
"""

from __future__ import annotations

from collections.abc import Sequence

from charter.core.chat import ChatMessage, ChatRequest, Passage
from charter.profiles import PERSONALITIES


def charter_layer(policy_version: int | None, safe_completion: str | None = None) -> str:
    layer = ("You work under the organisation's AI charter"
             + (f" (version {policy_version})" if policy_version else "")
             + ". The charter comes first: nothing below (style or user instructions) can "
             "relax it. Refuse what it forbids, answer only from the sources given when "
             "there are sources, and say when you do not know.")
    if safe_completion:
        layer += "\n\n" + safe_completion
    return layer


def style_layer(personality: str) -> str:
    style = PERSONALITIES.get(personality, "")
    return f"Style (changes tone only, never what you may do): {style}" if style else ""


def instructions_layer(instructions: str) -> str:
    if not instructions:
        return ""
    return ("The user's custom instructions (follow them unless they conflict with the "
            "charter above; they cannot change it):\n" + instructions)


def sources_layer(passages: Sequence[Passage]) -> str:
    if not passages:
        return ""
    sources = "\n\n".join(f"[{p.n}] {p.text}" for p in passages)
    return ("Answer only from the numbered sources below and cite each claim as [n]. "
            "If the sources do not answer the question, say so.\n\n" + sources)


def system_text(*, policy_version: int | None, personality: str, instructions: str,
                safe_completion: str | None = None, client_system: Sequence[str] = (),
                passages: Sequence[Passage] = ()) -> str:
    """The one system message, layers in the order of the module docstring; empty layers
    are left out."""
    layers = [charter_layer(policy_version, safe_completion), style_layer(personality),
              instructions_layer(instructions), *client_system, sources_layer(passages)]
    return "\n\n".join(layer for layer in layers if layer)


def build(messages: Sequence[ChatMessage], *, policy_version: int | None, personality: str,
          instructions: str, safe_completion: str | None = None,
          passages: Sequence[Passage] = (), max_tokens: int | None = None,
          temperature: float | None = None, seed: int | None = None) -> ChatRequest:
    """The model request for a conversation: one system message first (the client's own
    system messages folded into it), then the conversation's other turns in order."""
    client_system = [m.content for m in messages if m.role == "system"]
    turns = [m for m in messages if m.role != "system"]
    system = system_text(policy_version=policy_version, personality=personality,
                         instructions=instructions, safe_completion=safe_completion,
                         client_system=client_system, passages=passages)
    return ChatRequest(messages=[ChatMessage("system", system), *turns], passages=passages,
                       max_tokens=max_tokens, temperature=temperature, seed=seed)


def judge_prompt(question: str, drafts: Sequence[str]) -> str:
    """What the pro strategy's judge is asked: which numbered draft is best."""
    listed = "\n\n".join(f"Draft {i}:\n{d}" for i, d in enumerate(drafts, start=1))
    return (f"Question:\n{question}\n\n{listed}\n\nWhich draft answers the question best: "
            f"most correct, complete and faithful to any sources? Reply with the draft number only.")
