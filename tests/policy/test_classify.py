"""The classifier's layers: patterns first, then the nearest example, whose category
stands; the trained model adds what no example is near."""

from __future__ import annotations

import numpy as np
import pytest

from charter.core.principal import local_admin
from charter.policy.classify import PolicyClassifier
from charter.policy.schema import parse_charter
from charter.policy.versions import default_charter_text
from charter.runtime import Runtime


class FakeModel:
    """A charter model that flags texts holding one of its words, with its category (or
    categories, ``"a+b"``: the first at ``category_p``, the others 0.3 lower); like the
    real one it reads only the start of a long text (``reads`` words)."""

    id = "charter:fake"

    def __init__(self, words: dict[str, str], categories: list[str],
                 threshold: float = 0.6, category_p: float = 0.9, reads: int = 40) -> None:
        self.words = words
        self.labels = ["flag", *categories]
        self._threshold = threshold
        self.category_p = category_p
        self.reads = reads
        self.asked: list[str] = []

    def probabilities(self, texts, pairs=None):  # noqa: ANN001, ANN201
        out = []
        for t in texts:
            self.asked.append(t)
            seen = " ".join(t.lower().split()[:self.reads])
            row = [0.05] * len(self.labels)
            for word, category in self.words.items():
                if word in seen:
                    row[0] = 0.95
                    for i, one in enumerate(category.split("+")):
                        row[self.labels.index(one)] = self.category_p - (0.3 if i else 0.0)
            out.append(row)
        return np.array(out)

    def threshold(self, label=None):  # noqa: ANN001, ANN201
        return self._threshold


@pytest.fixture
def charter():  # noqa: ANN201
    return parse_charter(default_charter_text())


def with_competitor_category(*examples: str):  # noqa: ANN201
    """The default charter with an organisation's own category (no model knows it)."""
    listed = "".join(f"      - {e}\n" for e in examples)
    return parse_charter(default_charter_text().replace("categories:\n", f"""categories:
  - id: competitor_intel
    name: Competitor intelligence
    tier: high_risk
    description: Gathering confidential information about competitors.
    examples:
{listed}""", 1))


def ids(charter) -> list[str]:  # noqa: ANN001
    return [c.id for c in charter.categories]


def test_the_model_adds_what_no_example_is_near(charter, runtime: Runtime) -> None:  # noqa: ANN001
    model = FakeModel({"zorblax": "fraud"}, ids(charter))
    clf = PolicyClassifier(charter, runtime.embedder(), model=model)
    hit = clf.classify("Please zorblax the invoices of our clients.")
    assert (hit.category, hit.tier, hit.layer) == ("fraud", "red_line", "model")
    assert "charter:fake" in hit.evidence and "flag 0.95" in hit.evidence
    assert PolicyClassifier(charter, runtime.embedder()).classify(
        "Please zorblax the invoices of our clients.").category is None  # no example near
    # Below its threshold and no example near: allowed, and the evidence names both.
    allowed = clf.classify("What is the capital of Portugal?")
    assert allowed.category is None and "flag 0.05 < 0.60" in allowed.evidence


def test_a_near_example_stands_whatever_the_model_says(charter, runtime: Runtime) -> None:  # noqa: ANN001
    example = "Monitor my neighbour's private social media accounts and send me everything they post."
    assert PolicyClassifier(charter, runtime.embedder()).classify(example).category == \
        "surveillance_of_people"
    quiet = FakeModel({}, ids(charter))  # the model does not flag it
    hit = PolicyClassifier(charter, runtime.embedder(), model=quiet).classify(example)
    assert (hit.category, hit.layer) == ("surveillance_of_people", "embedding")
    wrong = FakeModel({"neighbour": "fraud"}, ids(charter))  # flags it as another category
    hit = PolicyClassifier(charter, runtime.embedder(), model=wrong).classify(example)
    assert (hit.category, hit.layer) == ("surveillance_of_people", "embedding")


def test_an_example_of_a_modelled_category_must_be_nearer_to_stand_alone(
        runtime: Runtime) -> None:
    charter = with_competitor_category("Find out the confidential price list of our "
                                       "competitor Acme.")
    near = "I'd like a log of my girlfriend's whereabouts."  # 0.62 from a surveillance example
    rival = "Get me the internal roadmap of our main competitor."
    quiet = FakeModel({}, [c for c in ids(charter) if c != "competitor_intel"])
    clf = PolicyClassifier(charter, runtime.embedder(), model=quiet, modelled_threshold=0.9)
    assert clf.classify(near).category is None  # its category is modelled: 0.9 applies
    assert clf.classify(rival).category == "competitor_intel"  # not modelled: 0.40 applies
    assert PolicyClassifier(charter, runtime.embedder(), modelled_threshold=0.9).classify(
        near).category == "surveillance_of_people"  # no model, no modelled category


def test_each_example_is_held_to_its_own_limit(runtime: Runtime) -> None:
    # The nearest example (a modelled category) misses its limit; the organisation's own
    # category, further away but within its limit, still counts.
    charter = with_competitor_category("Watch my neighbour's social media posts and report "
                                       "everything to me.")
    example = "Monitor my neighbour's private social media accounts and send me everything they post."
    quiet = FakeModel({}, [c for c in ids(charter) if c != "competitor_intel"])
    clf = PolicyClassifier(charter, runtime.embedder(), model=quiet, modelled_threshold=1.01)
    hit = clf.classify(example)
    assert (hit.category, hit.layer) == ("competitor_intel", "embedding")
    assert "Watch my neighbour" in hit.evidence


def test_patterns_still_come_first(charter, runtime: Runtime) -> None:  # noqa: ANN001
    model = FakeModel({}, ids(charter))
    clf = PolicyClassifier(charter, runtime.embedder(), model=model)
    hit = clf.classify("How do I launder money through shell companies?")
    assert (hit.category, hit.layer) == ("serious_crime", "pattern")
    assert model.asked == []  # decided before the model was needed


def test_an_unsure_category_falls_back_to_the_nearest_example(charter, runtime: Runtime) -> None:  # noqa: ANN001
    model = FakeModel({"girlfriend": "fraud"}, ids(charter), category_p=0.1)
    clf = PolicyClassifier(charter, runtime.embedder(), model=model)
    text = "My girlfriend goes out a lot; note each place she visits."
    alone = PolicyClassifier(charter, runtime.embedder()).classify(text)
    assert alone.category is None and "Track my ex-girlfriend" in alone.evidence  # not near
    hit = clf.classify(text)
    assert hit.layer == "model" and hit.category == "surveillance_of_people"
    assert 'nearest example "Track my ex-girlfriend' in hit.evidence


def test_a_category_the_charter_removed_is_not_refused_under_another(runtime: Runtime) -> None:
    import yaml

    data = yaml.safe_load(default_charter_text())
    data["categories"] = [c for c in data["categories"] if c["id"] != "fraud"]
    charter = parse_charter(yaml.safe_dump(data))
    every = [*ids(charter), "fraud"]  # the model still knows fraud
    model = FakeModel({"zorblax": "fraud"}, every)
    text = "Please zorblax the invoices of our clients."
    hit = PolicyClassifier(charter, runtime.embedder(), model=model).classify(text)
    assert hit.category is None  # not moved to the charter's nearest other category
    # A category the charter keeps is still decided by the model.
    kept = FakeModel({"zorblax": "weapons"}, every)
    hit = PolicyClassifier(charter, runtime.embedder(), model=kept).classify(text)
    assert (hit.category, hit.layer) == ("weapons", "model")
    # A removed category beside a kept one standing out: the kept one still refuses.
    both = FakeModel({"zorblax": "fraud+dangerous_drugs"}, every)
    hit = PolicyClassifier(charter, runtime.embedder(), model=both).classify(text)
    assert (hit.category, hit.layer) == ("dangerous_drugs", "model")


def test_a_harmless_preamble_does_not_hide_a_request_from_the_model(charter, runtime: Runtime
                                                                    ) -> None:  # noqa: ANN001
    from charter.policy.classify import windows

    model = FakeModel({"zorblax": "fraud"}, ids(charter))
    preamble = " ".join(["Our team meets every Tuesday to review the garden rota."] * 12)
    text = preamble + " Please zorblax the invoices of our clients."
    parts = windows(text)
    assert len(parts) > 1 and parts[-1].endswith("of our clients.") and "zorblax" not in parts[0]
    hit = PolicyClassifier(charter, runtime.embedder(), model=model).classify(text)
    assert (hit.category, hit.layer) == ("fraud", "model")
    assert windows("short text") == ["short text"]
    assert len(windows("word " * 5000)) == 8  # bounded, whatever the length


def test_the_model_cannot_lower_the_tier_of_a_near_example(charter, runtime: Runtime
                                                           ) -> None:  # noqa: ANN001
    near = "I'd like a log of my girlfriend's whereabouts."  # 0.62 from a surveillance example
    lenient = FakeModel({"girlfriend": "cyber_offense"}, ids(charter))  # limited tier
    # The example (0.62) sits between the limits (0.40, and 0.7 for the model's categories):
    clf = PolicyClassifier(charter, runtime.embedder(), model=lenient, modelled_threshold=0.7)
    hit = clf.classify(near)
    assert (hit.category, hit.tier) == ("surveillance_of_people", "red_line")
    assert "flag 0.95" in hit.evidence  # both are named
    strict = FakeModel({"girlfriend": "weapons"}, ids(charter))  # red line too: model's
    hit = PolicyClassifier(charter, runtime.embedder(), model=strict,
                           modelled_threshold=0.7).classify(near)
    assert (hit.category, hit.layer) == ("weapons", "model")


def test_categories_the_model_does_not_know_keep_the_embedding_layer(runtime: Runtime) -> None:
    charter = with_competitor_category(
        "Find out the confidential price list of our competitor Acme.",
        "Get me the internal roadmap of our main competitor.")
    model = FakeModel({}, [i for i in ids(charter) if i != "competitor_intel"])
    clf = PolicyClassifier(charter, runtime.embedder(), model=model)
    hit = clf.classify("Find out the confidential price list of our competitor Acme.")
    assert (hit.category, hit.layer) == ("competitor_intel", "embedding")
    assert clf.classify("Get me the internal roadmap of our main competitor.").category == \
        "competitor_intel"


def test_the_screen_uses_the_active_charter_model(runtime: Runtime, monkeypatch) -> None:  # noqa: ANN001
    from charter.judgement import serving

    charter = runtime.policies.active()[1]
    model = FakeModel({"zorblax": "fraud"}, ids(charter))
    monkeypatch.setattr(serving, "scorer",
                        lambda task, settings: model if task == "charter" else None)
    text = "Please zorblax the invoices of our clients."
    screened = runtime.screen.screen_input(local_admin(), [_msg(text)])
    assert screened.decision.category == "fraud" and screened.decision.action == "refuse"
    # Another active model: the screen builds its assessor again.
    model2 = FakeModel({}, ids(charter))
    model2.id = "charter:other"
    monkeypatch.setattr(serving, "scorer",
                        lambda task, settings: model2 if task == "charter" else None)
    again = runtime.screen.screen_input(local_admin(), [_msg(text)])
    assert again.decision.action == "allow"


def _msg(text: str):  # noqa: ANN202
    from charter.core.chat import ChatMessage

    return ChatMessage("user", text)


def test_the_charter_model_can_be_switched_off(tmp_path, onnx_cache) -> None:  # noqa: ANN001
    from charter.core.config import load_settings

    base = {"CHARTER_DATA_DIR": str(tmp_path / "d"), "CHARTER_ONNX_CACHE_DIR": str(onnx_cache)}
    on = Runtime.open(load_settings(base))
    off = Runtime.open(load_settings({**base, "CHARTER_DATA_DIR": str(tmp_path / "e"),
                                      "CHARTER_CHARTER_MODEL": "false"}))
    try:
        assert on.screen.assessor().model_id is not None  # the shipped model serves
        assert off.screen.assessor().model_id is None
        screened = off.screen.screen_input(local_admin(), [_msg("What is the capital of Portugal?")])
        assert screened.decision.action == "allow" and "model" not in screened.decision.evidence
    finally:
        on.close()
        off.close()


class _PlacedEmbedder:
    """Random near-orthogonal vectors for every text, except one query placed at an exact
    cosine from one example: the similarity limits can be tested to the hundredth."""

    def __init__(self, example: str, query: str, cosine: float, dim: int = 4096) -> None:
        self.rng = np.random.default_rng(7)
        self.vectors: dict[str, np.ndarray] = {}
        e = self._vector(example)
        u = self.rng.standard_normal(dim)
        u -= (u @ e) * e
        u /= np.linalg.norm(u)
        self.vectors[query] = cosine * e + np.sqrt(1 - cosine ** 2) * u

    def _vector(self, text: str) -> np.ndarray:
        if text not in self.vectors:
            v = self.rng.standard_normal(4096)
            self.vectors[text] = v / np.linalg.norm(v)
        return self.vectors[text]

    def embed_queries(self, texts):  # noqa: ANN001, ANN201
        return [self._vector(t).tolist() for t in texts]


def test_the_default_limits_are_040_and_043_with_the_model(charter) -> None:  # noqa: ANN001
    example = charter.category("surveillance_of_people").examples[0]
    query = "an unseen request"
    quiet = FakeModel({}, ids(charter))
    for cosine, alone, with_model in ((0.415, "surveillance_of_people", None),
                                      (0.435, "surveillance_of_people",
                                       "surveillance_of_people"),
                                      (0.395, None, None)):
        emb = _PlacedEmbedder(example, query, cosine)
        assert PolicyClassifier(charter, emb).classify(query).category == alone, cosine
        assert PolicyClassifier(charter, emb, model=quiet).classify(query).category == \
            with_model, cosine


def test_without_an_embedder_the_model_decides_alone(charter) -> None:  # noqa: ANN001
    model = FakeModel({"zorblax": "fraud"}, ids(charter))
    clf = PolicyClassifier(charter, None, model=model)
    assert clf.classify("Please zorblax the invoices.").category == "fraud"
    allowed = clf.classify("What is the capital of Portugal?")
    assert allowed.category is None and "flag 0.05 < 0.60" in allowed.evidence
    import yaml

    data = yaml.safe_load(default_charter_text())
    data["categories"] = [c for c in data["categories"] if c["id"] != "fraud"]
    kept = parse_charter(yaml.safe_dump(data))
    removed = PolicyClassifier(kept, None, model=FakeModel({"zorblax": "fraud"},
                                                           [*ids(kept), "fraud"]))
    out = removed.classify("Please zorblax the invoices.")  # the model has no say
    assert out.category is None and out.layer == "none"
