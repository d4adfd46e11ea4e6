"""Splitting a question into the parts it asks (strategies/plan.py)."""

from __future__ import annotations

import pytest

from charter.strategies.plan import MAX_WORDS, plan


def asks(question: str, max_parts: int = 4) -> list[str]:
    return [p.ask for p in plan(question, max_parts)]


@pytest.mark.parametrize("question, expected", [
    ("What is the refund window, and who signs off on refunds?",
     ["What is the refund window?", "who signs off on refunds?"]),
    ("Where is the office? When does it open?", ["Where is the office?", "When does it open?"]),
    ("Name the two founders; also list the products they launched",
     ["Name the two founders?", "list the products they launched?"]),
    ("Which printers are on floor 3 and also how do I add one to my laptop?",
     ["Which printers are on floor 3?", "how do I add one to my laptop?"]),
    ("What does the badge cost, how long does it take to print?",
     ["What does the badge cost?", "how long does it take to print?"]),
    ("Explain the on-call rota as well as how swaps are requested.",
     ["Explain the on-call rota?", "how swaps are requested."]),
])
def test_a_new_clause_starts_a_new_part(question: str, expected: list[str]) -> None:
    assert asks(question) == expected


@pytest.mark.parametrize("question", [
    "What are the benefits and risks of remote work?",  # one subject, two nouns
    "Who are Alice and Bob?",
    "How do salt and pepper differ in price",
    "What time is lunch?",
])
def test_a_list_of_nouns_is_one_part(question: str) -> None:
    assert len(plan(question)) == 1


@pytest.mark.parametrize("question, expected", [
    ("Compare the basic plan with the premium plan in terms of storage.",
     ["the basic plan in terms of storage", "the premium plan in terms of storage"]),
    ("What is the difference between a lease and a mortgage?", ["a lease", "a mortgage"]),
    ("How does rail travel compare to air travel for short trips?",
     ["rail travel for short trips", "air travel for short trips"]),
])
def test_a_comparison_asks_about_each_side(question: str, expected: list[str]) -> None:
    assert [a.rstrip("?.") for a in asks(question)] == expected
    assert all(p.query == p.ask for p in plan(question))  # each side stands on its own


def test_a_part_that_leans_on_the_one_before_searches_with_its_subject() -> None:
    first, second = plan("What is the canteen's vegan dish, and how much does it cost?")
    assert second.ask == "how much does it cost?"
    assert "canteen's" in second.query and "vegan" in second.query and "dish" in second.query
    assert first.query == first.ask


def test_a_part_without_words_of_its_own_stays_with_the_one_before() -> None:
    assert asks("Is the gym open on Sundays and why?") == ["Is the gym open on Sundays and why?"]


def test_context_sentences_go_with_the_first_part_and_a_leading_joiner_is_dropped() -> None:
    parts = plan("I work nights. What is the night bonus? Also, who approves overtime?")
    assert [p.ask for p in parts] == ["What is the night bonus?", "who approves overtime?"]
    assert parts[0].query.startswith("I work nights.")


def test_parts_are_capped_and_long_texts_are_one_part() -> None:
    many = "What is A1? What is B2? What is C3? What is D4? What is E5?"
    assert asks(many, max_parts=3) == ["What is A1?", "What is B2?", "What is C3? What is D4? What is E5?"]
    pasted = " ".join(["What is this and how does that work?"] * (MAX_WORDS // 4))
    assert len(plan(pasted)) == 1


@pytest.mark.parametrize("question", ["", "   ", "and", "?? ; ;", "; and ; also ;", "?" * 500])
def test_degenerate_input_gives_at_most_one_part_and_never_fails(question: str) -> None:
    parts = plan(question)
    assert len(parts) <= 1 and all(p.ask.strip() for p in parts)
