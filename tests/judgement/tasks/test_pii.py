"""The PII task's data, split, tags and span scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from charter.core.errors import InvalidInputError
from charter.judgement.encoder import Tokenizer
from charter.judgement.tasks import pii
from charter.policy.pii_model import TAGS

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "pii"


def _sample(text: str, *spans: tuple[str, str], template: int = 2) -> pii.Sample:
    found = []
    for label, value in spans:
        start = text.index(value)
        found.append((label, start, start + len(value)))
    masked = text
    for label, value in spans:
        masked = masked.replace(value, "{{" + label + "}}", 1)
    return pii.Sample(text, tuple(sorted(found)), template, masked)


def test_tokens_get_bio_tags_of_the_span_they_start_in() -> None:
    tok = Tokenizer()
    s = _sample("Ada Lovelace lives at 12 Baker Street today", ("PERSON", "Ada Lovelace"),
                ("STREET_ADDRESS", "12 Baker Street"))
    enc = tok.encode([s.text], offsets=True)
    tags = pii.token_tags(enc["offsets"][0], s.spans)
    words = [s.text[a:b] for a, b in enc["offsets"][0]]
    assert tags[0] == -100 and tags[-1] == -100  # [CLS] and [SEP]
    assert TAGS[tags[words.index("Ada")]] == "B-PERSON"
    assert all(TAGS[t] == "I-PERSON" for w, t in zip(words, tags, strict=True)
               if w and w in "Lovelace")  # every word piece of the surname
    assert TAGS[tags[words.index("12")]] == "B-STREET_ADDRESS"
    assert TAGS[tags[words.index("Street")]] == "I-STREET_ADDRESS"
    assert TAGS[tags[words.index("lives")]] == "O"
    assert TAGS[tags[words.index("today")]] == "O"


def test_labels_the_model_does_not_claim_are_outside() -> None:
    tok = Tokenizer()
    s = _sample("Card 4111111111111111 for Ann", ("CREDIT_CARD", "4111111111111111"),
                ("PERSON", "Ann"))
    enc = tok.encode([s.text], offsets=True)
    tags = [TAGS[t] for t in pii.token_tags(enc["offsets"][0], s.spans) if t >= 0]
    assert set(tags) == {"O", "B-PERSON"}


def test_refilled_sentences_keep_the_template_and_take_values_from_the_others() -> None:
    samples = [_sample("Call Ann in Oslo", ("PERSON", "Ann"), ("GPE", "Oslo")),
               _sample("Bob moved to Lima last year", ("PERSON", "Bob"), ("GPE", "Lima"))]
    out = pii.refill(samples, variants=5, seed=3)
    assert out[:2] == samples and len(out) == 12
    values = {"PERSON": {"Ann", "Bob"}, "GPE": {"Oslo", "Lima"}}
    for s in out[2:]:
        assert s.template == 2
        assert s.text.startswith("Call ") or s.text.endswith(" last year")
        for label, start, end in s.spans:
            assert s.text[start:end] in values[label]


def test_the_split_is_by_template(tmp_path: Path) -> None:
    rows = [{"full_text": f"Hi Ann {i}", "masked": f"Hi {{{{PERSON}}}} {i}",
             "spans": [{"entity_type": "PERSON", "entity_value": "Ann", "start_position": 3,
                        "end_position": 6}], "template_id": i % 7} for i in range(40)]
    path = tmp_path / "synth.json"
    path.write_text(json.dumps(rows))
    train, validation, test = pii.split(pii.load(path))
    parts = [{s.template for s in part} for part in (train, validation, test)]
    assert parts[1] == {0, 5} and parts[2] == {1, 6} and parts[0] == {2, 3, 4}
    assert len(train) + len(validation) + len(test) == 40


def test_a_file_in_another_format_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"text": "no spans here"}]))
    with pytest.raises(InvalidInputError, match="research format"):
        pii.load(path)
    with pytest.raises(InvalidInputError, match="missing"):
        pii.load(tmp_path / "absent.json")


def test_span_scoring_needs_half_the_gold_span_and_the_same_entity() -> None:
    gold = [[("PERSON", 0, 10), ("LOCATION", 20, 26)]]
    half = pii.score_spans(gold, [[("PERSON", 5, 12), ("LOCATION", 20, 22)]],
                           ["PERSON", "LOCATION"])
    assert half["entities"]["PERSON"] == {"precision": 1.0, "recall": 1.0, "f2": 1.0, "gold": 1}
    assert half["entities"]["LOCATION"]["recall"] == 0.0  # 2 of 6 characters
    wrong = pii.score_spans(gold, [[("LOCATION", 0, 10)]], ["PERSON", "LOCATION"])
    assert wrong["precision"] == 0.0 and wrong["recall"] == 0.0
    # One prediction matches at most one gold span, and only if it is not mostly
    # something else: a span over a whole sentence matches nothing.
    twice = pii.score_spans([[("PERSON", 0, 4), ("PERSON", 5, 7)]], [[("PERSON", 0, 7)]],
                            ["PERSON"])
    assert twice["entities"]["PERSON"]["recall"] == 0.5
    sentence = pii.score_spans([[("PERSON", 0, 4)]], [[("PERSON", 0, 40)]], ["PERSON"])
    assert sentence["entities"]["PERSON"]["precision"] == 0.0


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data/pii")
def test_the_shared_data_fills_every_part() -> None:
    train, validation, test = pii.split(pii.load(SHARED))
    assert len(train) > 500 and len(validation) > 150 and len(test) > 150
    assert not {s.template for s in train} & {s.template for s in test}
    labels = {label for s in test for label, _, _ in s.spans}
    assert set(pii.GOLD) <= labels


def test_charter_templates_are_filled_from_faker_and_train_only() -> None:
    templates = pii.own_templates()
    assert any("{{PERSON}}" in t for t in templates)
    assert any("{{" not in t for t in templates)  # requests with no personal details
    fake = pii._faker(7)
    made = pii.from_templates(templates[:3] + ["Nothing personal here."], fake, variants=3)
    assert len(made) == 10
    assert all(s.template < 0 for s in made)  # never a Presidio template id, never split
    for s in made:
        for label, start, end in s.spans:
            value = s.text[start:end]
            assert value.strip() and "{{" not in value, (label, value)
    assert made[-1].spans == ()


def test_ordinary_requests_teach_only_their_lower_case_words() -> None:
    tok = Tokenizer()
    s = pii.Sample("Plan a trip to Lisbon with 2 friends", (), -1, unlabelled_names=True)
    batch = pii.collate_with(tok)([s])
    enc = tok.encode([s.text], offsets=True)
    words = [s.text[a:b] for a, b in enc["offsets"][0]]
    tags = batch["labels"][0].tolist()
    assert tags[words.index("trip")] == 0 and tags[words.index("friends")] == 0
    assert tags[words.index("Lisbon")] == -100 and tags[words.index("2")] == -100
    assert tags[words.index("Plan")] == -100  # a sentence's first word says nothing
    parts = pii.ordinary_requests()
    assert parts["train"] and parts["validation"] and parts["test"]
    assert not {x.text for x in parts["train"]} & {x.text for x in parts["test"]}


def test_word_scoring_counts_words_however_the_spans_are_cut() -> None:
    text = "Ship to 12 Baker Street London today"
    gold = [[("STREET_ADDRESS", 8, 23), ("LOCATION", 24, 30)]]
    whole = pii.score_words([text], gold, [[("STREET_ADDRESS", 8, 30)]],
                            ["STREET_ADDRESS", "LOCATION"])
    assert whole["STREET_ADDRESS"] == 0.9375 and whole["LOCATION"] == 0.0  # London: 1 FP
    # 3 of 4 gold words found, 1 word wrong: P 3/4, R 3/4.
    assert whole["all"] == 0.75
    none = pii.score_words([text], gold, [[]], ["STREET_ADDRESS", "LOCATION"])
    assert none["all"] == 0.0
