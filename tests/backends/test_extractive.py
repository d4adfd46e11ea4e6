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


class KeywordScorer:
    """A stand-in answerability model: a sentence answers when it holds the keyword the
    test names; records what it was asked."""

    id = "answerability:keyword"

    def __init__(self, keyword: str, threshold: float = 0.5) -> None:
        self.keyword = keyword
        self._threshold = threshold
        self.asked: list[tuple[str, str]] = []

    def threshold(self, label: str | None = None) -> float:
        return self._threshold

    def probabilities(self, texts: list[str], pairs: list[str] | None = None):  # noqa: ANN201
        import numpy as np

        self.asked.extend(zip(texts, pairs or [], strict=True))
        return np.array([[0.9 if self.keyword in p.split(" [SEP] ")[0] else 0.1]
                         for p in pairs or []])


def model_ask(question: str, scorer: KeywordScorer, passages=PASSAGES, **opts) -> str:  # noqa: ANN001
    model = ExtractiveChat(ExtractiveOptions(**opts), lambda: scorer)
    return model.complete(ChatRequest([ChatMessage("user", question)], passages=passages)).text


def test_the_model_picks_the_answering_sentence_and_cites_its_passage() -> None:
    scorer = KeywordScorer("30 days")
    answer = model_ask("How long do I have to claim expenses?", scorer)
    assert answer == "Expense claims must be filed within 30 days. [2]"
    # It read each candidate with its document and heading, the question beside it.
    assert ("How long do I have to claim expenses?",
            "Expense claims must be filed within 30 days. [SEP] handbook/expenses.md") in scorer.asked


def test_the_model_abstains_when_no_sentence_clears_its_threshold() -> None:
    assert model_ask("Who founded the company?", KeywordScorer("founded by")) == NOT_FOUND
    assert model_ask("Who founded the company?", KeywordScorer("founded by"), passages=[]) == \
        NO_SOURCES
    # A stricter threshold set on the alias wins over the model's own.
    assert model_ask("How long do I have to claim expenses?", KeywordScorer("30 days"),
                     min_probability=0.95) == NOT_FOUND


def test_the_model_scores_only_the_best_overlap_candidates() -> None:
    scorer = KeywordScorer("Receipts")
    model_ask("Which expense needs receipts?", scorer, candidates=2)
    assert len(scorer.asked) == 2
    assert any("Receipts are required" in pair for _, pair in scorer.asked)


def test_further_sentences_join_only_within_the_margin() -> None:
    class Graded(KeywordScorer):
        def probabilities(self, texts, pairs=None):  # noqa: ANN001, ANN201
            import numpy as np

            scores = {"25 days": 0.95, "two weeks": 0.85, "30 days": 0.6}
            return np.array([[next((v for k, v in scores.items() if k in p), 0.05)]
                             for p in pairs or []])

    text = model_ask("When and how much leave?", Graded(""), margin=0.15, max_sentences=3)
    assert "25 days" in text and "two weeks" in text and "30 days" not in text
    assert text.index("25 days") < text.index("two weeks")
    one = model_ask("When and how much leave?", Graded(""), margin=0.05, max_sentences=3)
    assert "two weeks" not in one
