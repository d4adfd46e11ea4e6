"""The offline defaults: aliases that work on a laptop with nothing but the wheels.

``fast``, ``thinking``, ``pro`` and ``mini`` use the extractive composer, so the default
install answers only from sources and never invents facts; ``local`` is the packaged
Gemma 3 270M for open-ended text; ``embed`` is the packaged all-MiniLM-L6-v2.
"""

from __future__ import annotations

from charter.core.aliases import AliasConfig
from charter.core.routes import FAST, MINI, PRO, THINKING
from charter.store.aliases import AliasRepository

DEFAULT_ALIASES: tuple[AliasConfig, ...] = (
    AliasConfig(FAST, "extractive", "", {"max_sentences": 3}),
    AliasConfig(THINKING, "extractive", "", {"max_sentences": 5}),
    AliasConfig(PRO, "extractive", "", {"max_sentences": 5}),
    AliasConfig(MINI, "extractive", "", {"max_sentences": 2}),
    AliasConfig("local", "llamacpp", "packaged", {"max_tokens": 128, "temperature": 0.7}),
    AliasConfig("embed", "sentence_transformers", "all-MiniLM-L6-v2", {}, kind="embedding"),
)


def seed_defaults(repo: AliasRepository) -> list[str]:
    """Add the default aliases that are missing; returns the names added."""
    added = []
    for alias in DEFAULT_ALIASES:
        if repo.find(alias.name) is None:
            repo.add(alias)
            added.append(alias.name)
    return added
