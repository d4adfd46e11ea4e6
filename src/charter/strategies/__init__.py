"""Strategies: how a routed request is answered (one call, parallel drafts with a judge).

``for_route`` builds the strategy a route calls for; the gateway calls it through the
``Strategy`` Protocol (strategies/base.py) without knowing which one it has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from charter.backends import registry
from charter.backends.base import ChatModel
from charter.core.aliases import AliasConfig
from charter.core.config import Settings
from charter.core.routes import JUDGE, PRO
from charter.strategies.base import Strategy
from charter.strategies.fast import FastStrategy
from charter.strategies.pro import ProStrategy

__all__ = ["FastStrategy", "ProStrategy", "Strategy", "for_route"]


def for_route(route: str, alias: AliasConfig, alias_of: Callable[[str], AliasConfig],
              settings: Settings) -> Strategy:
    """The strategy for ``route`` served by ``alias``; ``alias_of`` finds other aliases a
    strategy needs (pro's judge)."""
    model = cast(ChatModel, registry.build(alias, settings))
    if route == PRO:
        judge_alias = alias_of(JUDGE)
        judge = cast(ChatModel, registry.build(judge_alias, settings))
        return ProStrategy(model, alias, judge, judge_alias, drafts=settings.pro_drafts)
    return FastStrategy(model, alias)
