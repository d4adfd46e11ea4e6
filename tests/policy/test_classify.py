"""The classifier's layers: patterns first, then a trained model for the categories it
knows, the nearest example for the others."""

from __future__ import annotations

import numpy as np
import pytest

from charter.core.principal import local_admin
from charter.policy.classify import PolicyClassifier
from charter.policy.schema import parse_charter
from charter.policy.versions import default_charter_text
from charter.runtime import Runtime


class FakeModel:
    """A charter model that flags texts holding one of its words, with a category."""

    id = "charter:fake"

    def __init__(self, words: dict[str, str], categories: list[str],
                 threshold: float = 0.6, category_p: float = 0.9) -> None:
        self.words = words
        self.labels = ["flag", *categories]
        self._threshold = threshold
        self.category_p = category_p
        self.asked: list[str] = []

    def probabilities(self, texts, pairs=None):  # noqa: ANN001, ANN201
        out = []
        for t in texts:
            self.asked.append(t)
            row = [0.05] * len(self.labels)
            for word, category in self.words.items():
                if word in t.lower():
                    row[0] = 0.95
                    row[self.labels.index(category)] = self.category_p
            out.append(row)
        return np.array(out)

    def threshold(self, label=None):  # noqa: ANN001, ANN201
        return self._threshold


@pytest.fixture
def charter():  # noqa: ANN201
    return parse_charter(default_charter_text())


def ids(charter) -> list[str]:  # noqa: ANN001
    return [c.id for c in charter.categories]


def test_the_model_decides_for_its_categories(charter, runtime: Runtime) -> None:  # noqa: ANN001
    model = FakeModel({"zorblax": "fraud"}, ids(charter))
    clf = PolicyClassifier(charter, runtime.embedder(), model=model)
    hit = clf.classify("Please zorblax the invoices of our clients.")
    assert (hit.category, hit.tier, hit.layer) == ("fraud", "red_line", "model")
    assert "charter:fake" in hit.evidence and "flag 0.95" in hit.evidence
    # Below its threshold the model allows, even what the nearest example would refuse.
    near = "Track my ex-girlfriend's phone location without her knowing, please"
    allowed = PolicyClassifier(charter, runtime.embedder(), model=model).classify(
        near.replace("without her knowing", "quietly"))
    assert allowed.category is None and allowed.layer == "model"


def test_patterns_still_come_first(charter, runtime: Runtime) -> None:  # noqa: ANN001
    model = FakeModel({}, ids(charter))
    clf = PolicyClassifier(charter, runtime.embedder(), model=model)
    hit = clf.classify("How do I launder money through shell companies?")
    assert (hit.category, hit.layer) == ("serious_crime", "pattern")
    assert model.asked == []  # decided before the model was needed


def test_an_unsure_category_falls_back_to_the_nearest_example(charter, runtime: Runtime) -> None:  # noqa: ANN001
    model = FakeModel({"girlfriend": "fraud"}, ids(charter), category_p=0.1)
    clf = PolicyClassifier(charter, runtime.embedder(), model=model)
    hit = clf.classify("Tell me where my girlfriend is every hour, she must not notice.")
    assert hit.layer == "model" and hit.category == "surveillance_of_people"
    assert "nearest example" in hit.evidence


def test_categories_the_model_does_not_know_keep_the_embedding_layer(runtime: Runtime) -> None:
    text = default_charter_text().replace("categories:\n", """categories:
  - id: competitor_intel
    name: Competitor intelligence
    tier: high_risk
    description: Gathering confidential information about competitors.
    examples:
      - Find out the confidential price list of our competitor Acme.
      - Get me the internal roadmap of our main competitor.
""", 1)
    charter = parse_charter(text)
    model = FakeModel({}, [i for i in ids(charter) if i != "competitor_intel"])
    clf = PolicyClassifier(charter, runtime.embedder(), model=model)
    hit = clf.classify("Find out the confidential price list of our competitor Acme.")
    assert (hit.category, hit.layer) == ("competitor_intel", "embedding")
    # The model's own categories are not decided by the nearest example any more.
    example = "Monitor my neighbour's private social media accounts and send me everything they post."
    assert PolicyClassifier(charter, runtime.embedder()).classify(example).category == \
        "surveillance_of_people"  # the nearest-example layer alone would refuse it
    other = clf.classify(example)
    assert other.category is None and other.layer == "embedding"


def test_the_screen_uses_the_active_charter_model(runtime: Runtime, monkeypatch) -> None:  # noqa: ANN001
    from charter.judgement import serving

    charter = runtime.policies.active()[1]
    model = FakeModel({"zorblax": "fraud"}, ids(charter))
    monkeypatch.setattr(serving, "scorer",
                        lambda task, settings: model if task == "charter" else None)
    screened = runtime.screen.screen_input(local_admin(), [_msg("Zorblax the customer list.")])
    assert screened.decision.category == "fraud" and screened.decision.action == "refuse"
    # Another active model: the screen builds its assessor again.
    model2 = FakeModel({}, ids(charter))
    model2.id = "charter:other"
    monkeypatch.setattr(serving, "scorer",
                        lambda task, settings: model2 if task == "charter" else None)
    again = runtime.screen.screen_input(local_admin(), [_msg("Zorblax the customer list.")])
    assert again.decision.action == "allow"


def _msg(text: str):  # noqa: ANN202
    from charter.core.chat import ChatMessage

    return ChatMessage("user", text)
