"""Retrieval stage. First form: no knowledge base, so no passages."""

from __future__ import annotations

from typing import Protocol

from charter.auth import Principal
from charter.backends.base import Passage


class Retriever(Protocol):
    def retrieve(self, principal: Principal, question: str) -> list[Passage]: ...


class NoRetrieval:
    """Returns no passages."""

    def retrieve(self, principal: Principal, question: str) -> list[Passage]:
        return []
