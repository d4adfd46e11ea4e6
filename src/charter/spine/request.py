"""A request as it enters the spine, and its codec.

``AskRequest`` is what both edges (the CLI's ``charter ask`` and the HTTP API) hand the
gateway. A held request is stored with ``encode`` and served later, after approval,
from ``decode``: the codec is the one place that knows how a request looks as JSON.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from charter.core.chat import TOOL_AUTO, ChatMessage, ToolChoice, ToolSpec, question_of
from charter.core.errors import ConversationTooLargeError, InvalidInputError
from charter.core.principal import Principal
from charter.core.routes import AUTO


@dataclass(frozen=True)
class AskRequest:
    """A request as it enters the spine."""

    messages: Sequence[ChatMessage]
    principal: Principal
    model: str = AUTO
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    use_case: str | None = None
    # Set when a reviewer has approved this held request: serve it instead of holding it.
    approved_review: str | None = None
    # Per-request overrides of the user's stored profile (None: use the profile).
    personality: str | None = None
    instructions: str | None = None
    # Where the request comes from when it is not a person's own chat: an agent run's
    # step ("run_...:agent"), recorded in the audit record.
    origin: str | None = None
    # Functions the model may call (an agent's tools), passed to the backend as function
    # calling; the calls come back in ``Result.tool_calls``, never run by the gateway.
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = TOOL_AUTO

    @property
    def question(self) -> str:
        """The latest user message: what is routed, retrieved for and logged."""
        return question_of(self.messages)

    @property
    def turns(self) -> int:
        return sum(1 for m in self.messages if m.role == "user")

    def check(self, *, max_messages: int | None = None, max_chars: int | None = None) -> None:
        """Refuse a request without a question, or larger than the limits (checked before
        any screening, so an oversized request costs nothing but this count)."""
        if max_messages is not None and len(self.messages) > max_messages:
            raise ConversationTooLargeError(
                f"the request holds {len(self.messages):,} messages; at most {max_messages:,} "
                "are accepted (setting max_messages): send fewer, or summarise earlier turns")
        if max_chars is not None:
            chars = sum(len(m.content) for m in self.messages) + len(self.instructions or "")
            if chars > max_chars:
                raise ConversationTooLargeError(
                    f"the request's messages hold {chars:,} characters; at most {max_chars:,} "
                    "are accepted (setting max_conversation_chars): shorten them, or send "
                    "long documents to the knowledge base instead")
        if not any(m.role == "user" and m.content.strip() for m in self.messages):
            raise InvalidInputError("the request has no question: send at least one non-empty "
                                    "user message")


@dataclass(frozen=True)
class Delta:
    """A piece of streamed answer text."""

    text: str
    request_id: str = ""  # the same id the final Result carries


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


def encode(req: AskRequest) -> dict[str, Any]:
    """The request as JSON, principal included (as it was when the request was made)."""
    p = req.principal
    return {"messages": [{"role": m.role, "content": m.content} for m in req.messages],
            "principal": {"id": p.id, "roles": sorted(p.roles), "clearance": p.clearance,
                          "groups": sorted(p.groups), "tier": p.tier},
            "model": req.model, "max_tokens": req.max_tokens,
            "temperature": req.temperature, "seed": req.seed, "use_case": req.use_case,
            "personality": req.personality, "instructions": req.instructions,
            "origin": req.origin,
            "tools": [{"name": t.name, "description": t.description,
                       "parameters": dict(t.parameters)} for t in req.tools],
            "tool_choice": req.tool_choice}


def decode(data: dict[str, Any], **overrides: Any) -> AskRequest:
    """The request ``encode`` wrote; ``overrides`` replace fields (e.g. the approval)."""
    p = data["principal"]
    principal = Principal(p["id"], frozenset(p["roles"]), p["clearance"],
                          frozenset(p["groups"]), p["tier"])
    fields: dict[str, Any] = {
        "messages": [ChatMessage(m["role"], m["content"]) for m in data["messages"]],
        "principal": principal, "model": data["model"], "max_tokens": data["max_tokens"],
        "temperature": data["temperature"], "seed": data["seed"],
        "use_case": data["use_case"], "personality": data.get("personality"),
        "instructions": data.get("instructions"), "origin": data.get("origin"),
        "tools": tuple(ToolSpec(t["name"], t["description"], t["parameters"])
                       for t in data.get("tools") or ()),
        "tool_choice": data.get("tool_choice") or TOOL_AUTO}
    fields.update(overrides)
    return AskRequest(**fields)
