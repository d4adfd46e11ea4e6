"""The contracts every model backend meets: ``ChatModel`` and ``Embedder``.

A backend is built from a stored alias (``AliasConfig``) and the process settings.
Its options are a pydantic model with ``extra="forbid"`` so a typo in
``charter models add --set`` is caught when the alias is added, not at request time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from charter.core.chat import ChatRequest, Completion, StreamChunk


# How an embedder names the int8 approximation of its model in ``query_model_id``.
INT8_SUFFIX = "#int8"


class BackendOptions(BaseModel):
    """Options common to every chat backend; backends extend this."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = None
    temperature: float | None = None
    # The model runs outside the organisation: personal data is redacted before it is sent.
    external: bool = False
    # Tokens the model reads, prompt and answer together (None: not known, not checked).
    # Requests are fitted to it: passages trimmed, max_tokens capped, overflow a 400.
    context_window: int | None = Field(None, ge=64)


@runtime_checkable
class ChatModel(Protocol):
    """A chat model.

    ``complete`` returns the whole answer with token usage. ``stream`` yields text
    chunks as they are produced and ends with one chunk that carries ``usage`` and
    ``finish_reason``; joined, the chunk texts equal what ``complete`` would return
    for a deterministic request. ``finish_reason`` is ``length`` when the answer stopped
    at ``max_tokens``. Both raise only ``charter.errors.CharterError``.
    Implementations are safe to call from several threads at once.
    """

    backend_name: ClassVar[str]
    Options: ClassVar[type[BackendOptions]]
    # Generation runs in this process (so a request whose client has gone can stop it
    # between tokens) rather than on a server elsewhere.
    generates_in_process: ClassVar[bool]

    @property
    def model_id(self) -> str: ...

    @property
    def context_window(self) -> int | None:
        """Tokens the model reads, prompt and answer together; None when not known."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's prompt (exact, or a safe estimate)."""
        ...

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
