"""The contracts every model backend meets: ``ChatModel`` and ``Embedder``.

A backend is built from a stored alias (``AliasConfig``) and the process settings.
Its options are a pydantic model with ``extra="forbid"`` so a typo in
``charter models add --set`` is caught when the alias is added, not at request time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class Passage:
    """A piece of evidence handed to a model, numbered ``n`` for citations ``[n]``."""

    n: int
    text: str
    document: str = ""
    location: str = ""
    passage_id: str = ""


@dataclass(frozen=True)
class ChatRequest:
    """What a strategy asks of a chat model."""

    messages: Sequence[ChatMessage]
    passages: Sequence[Passage] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    stop: Sequence[str] = ()

    @property
    def question(self) -> str:
        """The latest user message."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""

    def prompt_messages(self) -> list[ChatMessage]:
        """Messages for a generative model, with the passages as numbered sources."""
        if not self.passages:
            return list(self.messages)
        sources = "\n\n".join(f"[{p.n}] {p.text}" for p in self.passages)
        guide = (
            "Answer only from the numbered sources below and cite each claim as [n]. "
            "If the sources do not answer the question, say so.\n\n" + sources
        )
        return [ChatMessage("system", guide), *self.messages]


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


@dataclass(frozen=True)
class StreamChunk:
    """A piece of a streamed answer. The last chunk carries ``usage`` and ``finish_reason``."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


class BackendOptions(BaseModel):
    """Options common to every chat backend; backends extend this."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = None
    temperature: float | None = None
    # The model runs outside the organisation: personal data is redacted before it is sent.
    external: bool = False


@dataclass(frozen=True)
class AliasConfig:
    """A stored alias: a name that maps to a backend, a model and options."""

    name: str
    backend: str
    model: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    kind: Literal["chat", "embedding"] = "chat"


@runtime_checkable
class ChatModel(Protocol):
    """A chat model.

    ``complete`` returns the whole answer with token usage. ``stream`` yields text
    chunks as they are produced and ends with one chunk that carries ``usage`` and
    ``finish_reason``; joined, the chunk texts equal what ``complete`` would return
    for a deterministic request. Both raise only ``charter.errors.CharterError``.
    Implementations are safe to call from several threads at once.
    """

    backend_name: ClassVar[str]
    Options: ClassVar[type[BackendOptions]]

    @property
    def model_id(self) -> str: ...

    def complete(self, request: ChatRequest) -> Completion: ...

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into fixed-size vectors.

    ``embed`` returns one vector of length ``dimension`` per input text, in order,
    L2-normalised, and batches internally. ``model_id`` names the model so an
    index can refuse vectors from another one.

    ``embed_queries`` embeds texts the way request screening does (the question for the
    charter classifier, the injection check and the router, and whatever is compared with
    them: policy examples, classifier and router training), so offline training and
    evaluation see the vectors live requests produce. A backend may use a cheaper
    approximation of the same model there; ``query_model_id`` then differs from
    ``model_id``, and search embeds its query with ``embed`` instead of reusing it.
    """

    backend_name: ClassVar[str]

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]: ...

    @property
    def query_model_id(self) -> str: ...


def approx_tokens(text: str) -> int:
    """A rough token count for backends that do not tokenize (about 0.75 words a token)."""
    words = len(text.split())
    return max(1, round(words * 4 / 3)) if words else 0
