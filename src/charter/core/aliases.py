"""Model aliases: names that users, routes and settings speak in, mapped to a backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class AliasConfig:
    """A stored alias: a name that maps to a backend, a model and options."""

    name: str
    backend: str
    model: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    kind: Literal["chat", "embedding"] = "chat"

    @property
    def external(self) -> bool:
        """The model runs outside the organisation: personal data is redacted first."""
        return bool(self.options.get("external"))
