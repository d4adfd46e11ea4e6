"""The thinking strategy: plan, research each part, write, review, revise once, within
its budget."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest

from charter.agents.spec import Budget
from charter.backends.extractive import NOT_FOUND
from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage, ChatRequest, Completion, Passage, StreamChunk, Usage
from charter.core.config import Settings
from charter.core.errors import BackendUnavailableError
from charter.core.routes import THINKING
from charter.core.text import content_terms
from charter.strategies import Strategy, ThinkingStrategy, for_route
from tests.strategies.conformance import StrategyConformance

ALIAS = AliasConfig(THINKING, "scripted", "", {})


class Shelf:
    """A knowledge base whose passages are found by trigger words in the query."""

    def __init__(self, passages: dict[str, str]) -> None:
        self.passages = passages  # trigger word -> text
        self.queries: list[str] = []

    def search(self, query: str) -> list[Passage]:
        self.queries.append(query)
        hits = [text for trigger, text in self.passages.items()
                if trigger.lower() in query.lower()]
        return [Passage(i, t, document=f"doc{hash(t) % 97}", passage_id=t[:20])
                for i, t in enumerate(hits, start=1)]

    def prompt(self, ask: str, passages: Sequence[Passage], *, window: int | None,
               count: Callable[[str], int]) -> ChatRequest:
        return ChatRequest([ChatMessage("user", ask)], passages=passages)


class Writer:
    """Quotes every passage sentence sharing a word with the part asked (the text
    before a search's added subject), cited; else says nothing answers."""

    model_id = "writer"
    context_window = None
    generates_in_process = False

    def __init__(self, extra: str = "", fail: bool = False) -> None:
        self.extra, self.fail = extra, fail
        self.asked: list[ChatRequest] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, request: ChatRequest) -> Completion:
        self.asked.append(request)
        if self.fail:
            raise BackendUnavailableError("writer down")
        ask = set(content_terms(request.question.split(" (")[0]))
        said = [f"{p.text} [{p.n}]" for p in request.passages if ask & set(content_terms(p.text))]
        text = " ".join(said) + self.extra if said else NOT_FOUND
        return Completion(text, Usage(10, 5), model=self.model_id)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        done = self.complete(request)
        yield StreamChunk(text=done.text)
        yield StreamChunk(usage=done.usage, finish_reason="stop")


LEAVE = "Full-time staff receive 25 days of annual leave."
BIKES = "Bicycles are parked in the basement garage."
BADGE = "The badge office is run by Helga Lind."
ROOM = "Helga Lind works from room 4.12 on Tuesdays."


def thinking(shelf: Shelf | None, writer: Writer, **budget: int) -> ThinkingStrategy:
    return ThinkingStrategy(writer, ALIAS, shelf, budget=Budget(**budget))  # type: ignore[arg-type]


def ask(strategy: ThinkingStrategy, question: str) -> Completion:
    return strategy.complete(ChatRequest([ChatMessage("user", question)]))


class TestThinkingStrategy(StrategyConformance):
    @pytest.fixture
    def strategy(self) -> Strategy:
        return thinking(Shelf({"audit": "Audit trails show who changed what and when."}),
                        Writer())

    @pytest.fixture
    def failing(self) -> Strategy:
        return thinking(Shelf({"audit": "Audit trails show who changed what."}),
                        Writer(fail=True))


def test_each_part_is_searched_and_answered_with_its_own_passage() -> None:
    shelf = Shelf({"leave": LEAVE, "bicycle": BIKES})
    done = ask(thinking(shelf, Writer()),
               "How much annual leave do staff get, and where are bicycles parked?")
    first, second = done.text.split("\n\n")
    assert first == f"{LEAVE} [1]" and second == f"{BIKES} [2]"
    assert [p.text for p in done.passages or ()] == [LEAVE, BIKES]
    assert len(shelf.queries) == 2 and "bicycles" in shelf.queries[1]
    assert done.note and "2 part(s), 2 answered" in done.note
    assert done.usage == Usage(20, 10)  # both writes counted


def test_a_missing_part_is_searched_again_with_the_bridge_from_the_answer_before_it() -> None:
    shelf = Shelf({"badge": BADGE, "Lind": ROOM})
    done = ask(thinking(shelf, Writer()),
               "Who runs the badge office? Which room is the office manager in on Tuesdays?")
    assert "room 4.12" in done.text and done.text.count(BADGE) == 1
    assert "Helga" in shelf.queries[-1] and "Lind" in shelf.queries[-1]
    assert done.note and "revised 1" in done.note and "2 answered" in done.note


def test_a_part_the_sources_never_answer_is_named_and_revised_only_once() -> None:
    shelf = Shelf({"leave": LEAVE})
    writer = Writer()
    done = ask(thinking(shelf, writer),
               "How much annual leave do staff get, and who painted the lobby mural?")
    assert done.text.startswith(f"{LEAVE} [1]")
    assert done.text.endswith("do not answer this part: who painted the lobby mural?")
    assert len(shelf.queries) == 3  # two parts, one second search for the missing one


def test_a_sentence_its_citation_does_not_support_is_dropped() -> None:
    # One part: the passages the gateway found for the question are used, not searched again.
    shelf = Shelf({"leave": LEAVE})
    done = thinking(shelf, Writer(
        extra=" Staff may also take unlimited sabbaticals on full pay [1].")).complete(
        ChatRequest([ChatMessage("user", "How much annual leave do staff get?")],
                    passages=[Passage(1, LEAVE, "doc")]))
    assert shelf.queries == []
    assert done.text == f"{LEAVE} [1]"
    assert done.note and "dropped 1 unsupported" in done.note


def test_the_budget_stops_steps_and_the_answer_is_made_from_what_was_written() -> None:
    shelf = Shelf({"leave": LEAVE, "bicycle": BIKES})
    writer = Writer()
    done = ask(thinking(shelf, writer, steps=1),
               "How much annual leave do staff get, and where are bicycles parked?")
    assert len(writer.asked) == 1
    assert done.text.startswith(f"{LEAVE} [1]") and BIKES not in done.text
    assert done.note and "stopped early: the run used its 1 model steps" in done.note
    # Spent searches stop searches, not writing what was found.
    searches, writes = Shelf({"leave": LEAVE, "bicycle": BIKES}), Writer()
    done = ask(thinking(searches, writes, tool_calls=1),
               "How much annual leave do staff get, and where are bicycles parked?")
    assert len(searches.queries) == 1 and len(writes.asked) == 1
    assert done.text.startswith(f"{LEAVE} [1]") and "do not answer this part" in done.text
    assert done.note and "the run used its 1 tool calls" in done.note


def test_without_any_passage_the_request_is_answered_as_it_came_in_one_call() -> None:
    writer = Writer()
    request = ChatRequest([ChatMessage("user", "Write a haiku about rain, and explain its form.")])
    done = thinking(Shelf({}), writer).complete(request)
    assert writer.asked == [request] and done.note and "no passages" in done.note
    alone = Writer()
    thinking(None, alone).complete(request)
    assert alone.asked == [request]


def test_for_route_builds_thinking_with_the_settings_budget(settings: Settings) -> None:
    built = for_route(THINKING, AliasConfig(THINKING, "scripted", "", {"replies": ["x"]}),
                      lambda name: pytest.fail(name), settings.with_overrides(thinking_steps=3),
                      research=Shelf({}))
    assert isinstance(built, ThinkingStrategy) and built.budget.steps == 3
