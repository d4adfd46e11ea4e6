"""Messages, passages, requests to a model, and what comes back.

Every stage, strategy and backend speaks in these types. ``question_of`` is the one
definition of "the question" of a conversation: its latest user message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


def question_of(messages: Sequence[ChatMessage]) -> str:
    """The question a conversation asks: its latest user message ("" when it has none)."""
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""


@dataclass(frozen=True)
class PassageCheck:
    """An injection verdict on a stored chunk, made when it was ingested, and the version
    of the detector that made it (a verdict from another version is not used)."""

    detector: str
    flagged: bool
    score: float = 0.0
    evidence: str = ""


@dataclass(frozen=True)
class Passage:
    """A piece of evidence handed to a model, numbered ``n`` for citations ``[n]``."""

    n: int
    text: str
    document: str = ""  # the document's title (or path)
    location: str = ""
    passage_id: str = ""
    heading: str = ""  # the section the passage is in, when the document has headings
    check: PassageCheck | None = None  # the verdict stored at ingest, when there is one


# Whether a model may answer instead of calling a tool: "auto" (it may), "required" (it
# must call one). The words OpenAI's function calling uses.
ToolChoice = Literal["auto", "required"]
TOOL_AUTO: ToolChoice = "auto"
TOOL_REQUIRED: ToolChoice = "required"


@dataclass(frozen=True)
class ToolSpec:
    """A function a model may ask to call: its name, what it does, and its arguments as
    a JSON schema (an object schema)."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class FunctionCall:
    """A call a model asked for: the tool's name and its arguments as the model wrote
    them (JSON text, not yet parsed: a small model's may need repair)."""

    name: str
    arguments: str


@dataclass(frozen=True)
class ChatRequest:
    """What a strategy asks of a chat model.

    ``messages`` are the complete prompt, assembled once (``charter.prompt``): the
    system message already carries the charter, style and instruction layers and the
    numbered sources. ``passages`` are the same sources as data, for backends that work
    on them directly (the extractive composer) and for citations.
    """

    messages: Sequence[ChatMessage]
    passages: Sequence[Passage] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    stop: Sequence[str] = ()
    # Functions the model may call (OpenAI function calling; a JSON-schema grammar on a
    # local model). "required": the reply must be a call; "auto": a call or text.
    tools: Sequence[ToolSpec] = ()
    tool_choice: ToolChoice = TOOL_AUTO

    @property
    def question(self) -> str:
        return question_of(self.messages)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage
    finish_reason: str = "stop"
    model: str = ""
    # What a strategy did beyond one call, for the audit record (e.g. which pro draft won).
    note: str | None = None
    # Every passage the answer may cite, when the strategy searched beyond the request's
    # own passages (thinking); None: the request's passages.
    passages: tuple[Passage, ...] | None = None
    tool_calls: tuple[FunctionCall, ...] = ()  # calls the model asked for (request.tools)


@dataclass(frozen=True)
class StreamChunk:
    """A piece of a streamed answer. The last chunk carries ``usage`` and ``finish_reason``
    (and a strategy's ``note``, as ``Completion`` does)."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    note: str | None = None
    # As ``Completion.passages``, on the first chunk with text (read before its text).
    passages: tuple[Passage, ...] | None = None


def approx_tokens(text: str) -> int:
    """A rough token count for backends that do not tokenize (about 0.75 words a token)."""
    words = len(text.split())
    return max(1, round(words * 4 / 3)) if words else 0
