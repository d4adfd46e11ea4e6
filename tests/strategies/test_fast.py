"""The fast strategy: one call to the route's alias."""

from __future__ import annotations

from typing import cast

import pytest

from charter.backends import registry
from charter.backends.base import ChatModel
from charter.core.aliases import AliasConfig
from charter.core.config import Settings
from charter.core.routes import FAST
from charter.strategies import FastStrategy, Strategy, for_route
from tests.strategies.conformance import StrategyConformance

ALIAS = AliasConfig(FAST, "scripted", "", {"replies": ["Audit trails show who did what."]})
BROKEN = AliasConfig(FAST, "scripted", "", {"fail": "unavailable"})


class TestFastStrategy(StrategyConformance):
    @pytest.fixture
    def strategy(self, settings: Settings) -> Strategy:
        return FastStrategy(cast(ChatModel, registry.build(ALIAS, settings)), ALIAS)

    @pytest.fixture
    def failing(self, settings: Settings) -> Strategy:
        return FastStrategy(cast(ChatModel, registry.build(BROKEN, settings)), BROKEN)


def test_for_route_builds_one_call_for_every_route_but_pro_and_thinking(
        settings: Settings) -> None:
    for route in ("fast", "mini", "bot"):
        built = for_route(route, ALIAS, lambda name: pytest.fail(f"looked up {name}"), settings)
        assert isinstance(built, FastStrategy) and built.aliases == (ALIAS,)
