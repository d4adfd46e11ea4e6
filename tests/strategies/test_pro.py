"""The pro strategy: parallel drafts from the route's alias, a judge picks one."""

from __future__ import annotations

from typing import cast

import pytest

from charter.backends import registry
from charter.backends.base import ChatModel
from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage, ChatRequest, Completion, Usage
from charter.core.config import Settings
from charter.core.errors import BackendUnavailableError
from charter.core.routes import PRO, THINKING
from charter.strategies import ProStrategy, Strategy, for_route, pro
from tests.strategies.conformance import StrategyConformance

# One reply for every draft: which thread gets which reply is up to the scheduler.
DRAFTS = AliasConfig(PRO, "scripted", "", {"replies": ["Audit trails show who did what."]})
JUDGE = AliasConfig(THINKING, "scripted", "", {"replies": ["2"]})
BROKEN = AliasConfig(PRO, "scripted", "", {"fail": "unavailable"})


def _build(alias: AliasConfig, settings: Settings) -> ChatModel:
    return cast(ChatModel, registry.build(alias, settings))


class TestProStrategy(StrategyConformance):
    @pytest.fixture
    def strategy(self, settings: Settings) -> Strategy:
        return ProStrategy(_build(DRAFTS, settings), DRAFTS, _build(JUDGE, settings), JUDGE,
                           drafts=3)

    @pytest.fixture
    def failing(self, settings: Settings) -> Strategy:
        return ProStrategy(_build(BROKEN, settings), BROKEN, _build(JUDGE, settings), JUDGE,
                           drafts=2)


def test_for_route_gives_pro_its_judge(settings: Settings) -> None:
    built = for_route(PRO, DRAFTS, lambda name: JUDGE if name == THINKING else pytest.fail(name),
                      settings)
    assert isinstance(built, ProStrategy) and built.aliases == (DRAFTS, JUDGE)
    done = built.complete(ChatRequest([ChatMessage("user", "Plan the offsite")]))
    assert done.note and done.note.startswith("judge picked draft")


class Drafts:
    """A model whose answer depends on the seed, to tell drafts apart."""

    model_id = "drafts"

    def __init__(self, fail_seeds: tuple[int, ...] = ()) -> None:
        self.fail_seeds = fail_seeds

    def complete(self, request: ChatRequest) -> Completion:
        if request.seed in self.fail_seeds:
            raise BackendUnavailableError("draft backend down")
        return Completion(f"draft with seed {request.seed}", Usage(10, 5))


class Judge:
    model_id = "judge"

    def __init__(self, reply: str | None) -> None:
        self.reply = reply
        self.seen = ""

    def complete(self, request: ChatRequest) -> Completion:
        if self.reply is None:
            raise BackendUnavailableError("judge down")
        self.seen = request.question
        return Completion(self.reply, Usage(50, 1))


def test_pro_writes_drafts_and_the_judge_picks_one() -> None:
    question = ChatRequest([ChatMessage("user", "Compare two plans")], seed=10)
    judge = Judge("Draft 2 is best")
    out = pro.run(Drafts(), judge, question, drafts=3)  # type: ignore[arg-type]
    assert out.completion.text == "draft with seed 11" and out.chosen == 2
    assert "Draft 3:\ndraft with seed 12" in judge.seen
    assert out.completion.usage == Usage(3 * 10 + 50, 3 * 5 + 1)
    unclear = pro.run(Drafts(), Judge("hmm"), question, drafts=3)  # type: ignore[arg-type]
    assert unclear.chosen == 1 and "unclear" in unclear.note
    judge_down = pro.run(Drafts(), Judge(None), question, drafts=3)  # type: ignore[arg-type]
    assert judge_down.chosen == 1 and "judge failed" in judge_down.note
    one_left = pro.run(Drafts(fail_seeds=(10, 12)), Judge("1"), question, drafts=3)  # type: ignore[arg-type]
    assert one_left.completion.text == "draft with seed 11"
    with pytest.raises(BackendUnavailableError):
        pro.run(Drafts(fail_seeds=(10, 11, 12)), Judge("1"), question, drafts=3)  # type: ignore[arg-type]


def test_a_judge_whose_context_the_drafts_overflow_keeps_the_first_draft() -> None:
    from charter.core.errors import ContextOverflowError

    class Overflowing(Judge):
        def complete(self, request: ChatRequest) -> Completion:
            raise ContextOverflowError("the drafts do not fit the judge's context")

    question = ChatRequest([ChatMessage("user", "Compare two plans")], seed=10)
    out = pro.run(Drafts(), Overflowing("1"), question, drafts=3)  # type: ignore[arg-type]
    assert out.chosen == 1 and "context_length_exceeded" in out.note
