"""Strategies: how a routed request is answered (one call; plan, research, write and
review in steps; parallel drafts with a judge).

``for_route`` builds the strategy a route calls for; the gateway calls it through the
``Strategy`` Protocol (strategies/base.py) without knowing which one it has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from charter.agents.spec import Budget
from charter.backends import registry
from charter.backends.base import ChatModel
from charter.core.aliases import AliasConfig
from charter.core.config import Settings
from charter.core.routes import JUDGE, PRO, THINKING
from charter.strategies.base import Research, Strategy
from charter.strategies.fast import FastStrategy
from charter.strategies.pro import ProStrategy
from charter.strategies.thinking import ThinkingStrategy

__all__ = ["FastStrategy", "ProStrategy", "Research", "Strategy", "ThinkingStrategy",
           "for_route", "thinking_budget"]


def thinking_budget(settings: Settings) -> Budget:
    """The bounds of one thinking answer, from the ``thinking_*`` settings."""
    return Budget(steps=settings.thinking_steps, tool_calls=settings.thinking_searches,
                  tokens=settings.thinking_tokens, wall_seconds=settings.thinking_seconds)


def for_route(route: str, alias: AliasConfig, alias_of: Callable[[str], AliasConfig],
              settings: Settings, research: Research | None = None) -> Strategy:
    """The strategy for ``route`` served by ``alias``; ``alias_of`` finds other aliases a
    strategy needs (pro's judge); ``research`` lets thinking search for each part."""
    model = cast(ChatModel, registry.build(alias, settings))
    if route == THINKING:
        return ThinkingStrategy(model, alias, research, budget=thinking_budget(settings),
                                max_parts=settings.thinking_parts)
    if route == PRO:
        judge_alias = alias_of(JUDGE)
        judge = cast(ChatModel, registry.build(judge_alias, settings))
        return ProStrategy(model, alias, judge, judge_alias, drafts=settings.pro_drafts)
    return FastStrategy(model, alias)
