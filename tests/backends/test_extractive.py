"""The extractive composer answers only with the passages' own sentences, or abstains."""

import re

import pytest

from charter.core.chat import ChatMessage, ChatRequest, Passage
from charter.backends.extractive import NO_SOURCES, NOT_FOUND, ExtractiveChat, ExtractiveOptions
from charter.core.text import split_sentences
from tests.backends.chat_conformance import ChatModelConformance

PASSAGES = [
    Passage(1, "Employees receive 25 days of paid annual leave per year. Leave requests go "
               "through the HR portal at least two weeks ahead.", "handbook/leave.md", "Leave"),
    Passage(2, "Expense claims must be filed within 30 days. Receipts are required for any "
               "expense above 20 euros.", "handbook/expenses.md", "Expenses"),
    Passage(3, "Model Orion-2 has 7 billion parameters. It was trained on public text.",
            "models.md", "Orion"),
]


def ask(question: str, passages=PASSAGES, **opts) -> str:
    model = ExtractiveChat(ExtractiveOptions(**opts))
    return model.complete(ChatRequest([ChatMessage("user", question)], passages=passages)).text


class TestExtractiveConformance(ChatModelConformance):
    @pytest.fixture
    def model(self) -> ExtractiveChat:
        return ExtractiveChat()

    def request(self) -> ChatRequest:
        return ChatRequest([ChatMessage("user", "How many days of annual leave do employees get?")],
                           passages=PASSAGES)


def test_answers_with_cited_sentences_copied_from_the_passages() -> None:
    answer = ask("How many days of annual leave do employees get?")
    assert "25 days of paid annual leave" in answer
    assert "[1]" in answer
    all_sentences = {s for p in PASSAGES for s in split_sentences(p.text)}
    # Every sentence of the answer, with its marker removed, is a sentence of a passage.
    for sentence in re.split(r"\s*\[\d+\]\s*", answer):
        if sentence:
            assert sentence in all_sentences


def test_cites_the_passage_each_sentence_came_from() -> None:
    answer = ask("Within how many days must expense claims be filed?")
    assert answer.startswith("Expense claims must be filed within 30 days.")
    assert "[2]" in answer and "[1]" not in answer


def test_abstains_without_passages() -> None:
    assert ask("How many days of leave?", passages=[]) == NO_SOURCES


def test_abstains_off_topic() -> None:
    assert ask("What is the capital of Mongolia?") == NOT_FOUND


def test_abstains_when_the_named_subject_is_not_in_the_sources() -> None:
    # On topic (parameters of a model) but the sources only give Orion-2's count.
    assert ask("How many parameters does Vega-9 have?") == NOT_FOUND
    assert "7 billion parameters" in ask("How many parameters does Orion-2 have?")


def test_abstains_when_the_number_asked_about_is_absent() -> None:
    assert ask("What happens to expense claims filed after 90 days?") == NOT_FOUND


def test_respects_max_sentences() -> None:
    question = "annual leave days, leave requests and the HR portal"
    assert ask(question).count("[") == 2
    assert ask(question, max_sentences=1, min_coverage=0.1).count("[") == 1


def test_questions_in_the_sources_are_not_quoted_as_answers() -> None:
    passage = Passage(1, "What is an audit trail? An audit trail is a record of who did what.")
    answer = ask("What is an audit trail?", passages=[passage])
    assert answer == "An audit trail is a record of who did what. [1]"


def test_abstains_when_a_subject_word_is_absent_from_the_quoted_passages() -> None:
    # "contractors" appears nowhere near the leave rules.
    assert ask("How many days of annual leave do contractors get?") == NOT_FOUND
