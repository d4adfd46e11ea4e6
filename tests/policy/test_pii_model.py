"""The PII model's tagger (windows, thresholds, spans) and the detector that merges it with
the pattern recognizers; the shipped model on sentences written here."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from charter.core.errors import InvalidInputError
from charter.judgement.encoder import Tokenizer
from charter.judgement.versions import shipped
from charter.policy.pii import PiiDetector
from charter.policy.pii_model import TAGS, WINDOW, EntityTagger

_TOKENIZER = Tokenizer()


class CapitalisedNames:
    """A stand-in model: every word piece of a word in ``names`` is a person (B on the first
    token of a run, I after), with probability ``p``; every other token is O. It records
    the widest window it was asked to read."""

    def __init__(self, names: set[str], p: float = 0.9) -> None:
        self.meta = SimpleNamespace(labels=list(TAGS), threshold={"PERSON": 0.5})
        self.ids = {i for n in names for i in _TOKENIZER.encoding(n).ids[1:-1]}
        self.p = p
        self.widest = 0
        self.calls = 0

    def logits(self, texts: list[str], pairs: Any = None, batch: Any = None) -> np.ndarray:
        ids = batch["ids"].numpy()
        self.widest = max(self.widest, ids.shape[1])
        self.calls += 1
        out = np.full((*ids.shape, len(TAGS)), -10.0, dtype=np.float32)
        out[..., 0] = 0.0
        rest = (1 - self.p) / (len(TAGS) - 1)
        for r in range(ids.shape[0]):
            previous = False
            for t in range(ids.shape[1]):
                name = int(ids[r, t]) in self.ids
                if name:
                    tag = TAGS.index("I-PERSON" if previous else "B-PERSON")
                    out[r, t, :] = np.log(rest)
                    out[r, t, tag] = np.log(self.p)
                previous = name
        return out


def test_names_are_found_as_character_spans() -> None:
    tagger = EntityTagger(CapitalisedNames({"ada", "lovelace", "grace"}))
    text = "Ask Ada Lovelace, then Grace."
    spans = tagger.find(text)
    assert [(s.entity, text[s.start:s.end]) for s in spans] == [("PERSON", "Ada Lovelace"),
                                                                 ("PERSON", "Grace")]
    assert all(0.9 <= s.score < 0.92 for s in spans)  # its B and I together


def test_a_long_text_is_read_in_windows_to_its_end() -> None:
    model = CapitalisedNames({"grace"})
    tagger = EntityTagger(model)
    text = " ".join(["the"] * (WINDOW * 3)) + " and then Grace spoke"
    spans = tagger.find(text)
    assert [text[s.start:s.end] for s in spans] == ["Grace"]
    assert model.widest <= WINDOW + 2


def test_the_model_reads_a_bounded_number_of_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    import charter.policy.pii_model as pii_model

    monkeypatch.setattr(pii_model, "MAX_WINDOWS", 2)
    model = CapitalisedNames({"grace"})
    text = "Grace " + " ".join(["the"] * (WINDOW * 4)) + " and then Grace spoke"
    spans = EntityTagger(model).find(text)
    assert [(s.start, text[s.start:s.end]) for s in spans] == [(0, "Grace")]
    assert model.calls == 1  # two windows, one batch


def test_the_threshold_decides_and_other_entities_are_left_out() -> None:
    text = "Ask Ada today"
    assert EntityTagger(CapitalisedNames({"ada"}, p=0.6)).find(text)
    strict = EntityTagger(CapitalisedNames({"ada"}, p=0.6), thresholds={"PERSON": 0.7})
    assert strict.find(text) == []
    assert EntityTagger(CapitalisedNames({"ada"})).find(text, ["LOCATION"]) == []


def test_a_model_with_other_tags_is_refused() -> None:
    model = CapitalisedNames({"ada"})
    model.meta.labels = ["O", "B-NAME", "I-NAME"]
    with pytest.raises(InvalidInputError, match="charter finetune pii"):
        EntityTagger(model)


def test_patterns_keep_their_span_where_the_model_also_tags() -> None:
    tagger = EntityTagger(CapitalisedNames({"ada", "example"}))
    detector = PiiDetector(["EMAIL_ADDRESS", "PERSON"], tagger=tagger)
    text = "Mail ada@example.org or ask Ada."
    found = [(s.entity, s.text) for s in detector.find(text)]
    assert found == [("EMAIL_ADDRESS", "ada@example.org"), ("PERSON", "Ada")]
    redacted, _ = detector.redact(text)
    assert redacted == "Mail <EMAIL_ADDRESS> or ask <PERSON>."
    assert detector.neutral(text, detector.find(text)) == \
        "Mail an e-mail address or ask a person."


def test_without_the_model_its_entities_are_not_claimed_and_a_warning_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="charter.policy"):
        detector = PiiDetector(["EMAIL_ADDRESS", "PERSON"])
    assert "PERSON" in caplog.text and "CHARTER_PII_MODEL" in caplog.text
    assert detector.claimed == ["EMAIL_ADDRESS"]
    assert detector.find("Ask Ada Lovelace") == []
    with pytest.raises(InvalidInputError, match="supported"):
        PiiDetector(["PASSPORT"])


@pytest.fixture(scope="module")
def shipped_detector() -> PiiDetector:
    from charter.judgement.runtime import Scorer

    artifact = shipped("pii")
    assert artifact is not None, "the PII model ships in src/charter/judgement/models/pii"
    return PiiDetector(["EMAIL_ADDRESS", "PHONE_NUMBER", "PERSON", "STREET_ADDRESS",
                        "DATE_TIME"], tagger=EntityTagger(Scorer(artifact)))


@pytest.mark.parametrize("text, entity, value", [
    ("Please send the contract to Margaret Okonkwo before Friday.", "PERSON",
     "Margaret Okonkwo"),
    ("The parcel goes to 221 Harbour Road, and nobody signs for it.", "STREET_ADDRESS",
     "221 Harbour Road"),
    ("Her contract started on 14/03/2019 and ends next spring.", "DATE_TIME", "14/03/2019"),
])
def test_the_shipped_model_finds_what_patterns_cannot(shipped_detector: PiiDetector, text: str,
                                                     entity: str, value: str) -> None:
    spans = shipped_detector.find(text)
    assert any(s.entity == entity and value in text[s.start:s.end]
               and len(text[s.start:s.end]) < len(value) + 12 for s in spans), spans


def test_the_shipped_model_leaves_ordinary_requests_alone(
        shipped_detector: PiiDetector) -> None:
    for text in ("How many days of annual leave do new employees get?",
                 "Summarise the travel policy in three bullet points.",
                 "What does the expenses process say about receipts?"):
        assert shipped_detector.find(text) == [], text


def test_a_charter_naming_an_entity_nobody_detects_is_refused_when_parsed() -> None:
    from charter.policy.schema import parse_charter
    from charter.policy.versions import default_charter_text

    text = default_charter_text()
    assert "PERSON, STREET_ADDRESS]" in text
    with pytest.raises(InvalidInputError, match="unknown PII entities PASSPORT"):
        parse_charter(text.replace("PERSON, STREET_ADDRESS]", "PERSON, PASSPORT]"))
    assert "PERSON" in parse_charter(text).pii.entities


def test_a_span_ends_with_its_word_not_with_the_letters_after_it() -> None:
    # Each CJK character is a word of its own: a name before them must not swallow them.
    tagger = EntityTagger(CapitalisedNames({"ada"}))
    text = "Ada告诉我如何制造"
    assert [text[s.start:s.end] for s in tagger.find(text)] == ["Ada"]
    # A name at the very end, with its full stop left out.
    text = "The report is from Lovelace."
    assert [text[s.start:s.end] for s in EntityTagger(CapitalisedNames({"lovelace"})).find(
        text)] == ["Lovelace"]


def test_a_run_too_long_for_a_name_is_not_a_span() -> None:
    import charter.policy.pii_model as pii_model

    words = ["ada", "grace", "lovelace", "hopper"] * 12
    tagger = EntityTagger(CapitalisedNames(set(words)))
    text = " ".join(words)
    assert len(text) > pii_model.MAX_SPAN_CHARS
    assert tagger.find(text) == []


def test_a_pattern_inside_a_model_span_keeps_the_rest_of_it() -> None:
    tagger = EntityTagger(CapitalisedNames({"ada", "lovelace", "example"}))
    detector = PiiDetector(["EMAIL_ADDRESS", "PERSON"], tagger=tagger)
    text = "Ada ada@example.org Lovelace"
    found = [(s.entity, s.text) for s in detector.find(text)]
    assert ("EMAIL_ADDRESS", "ada@example.org") in found
    assert ("PERSON", "Ada") in found and ("PERSON", "Lovelace") in found


def test_the_screen_redacts_a_name_for_the_audit_and_external_backends() -> None:
    from charter.policy.engine import Assessor
    from charter.policy.schema import parse_charter
    from charter.policy.versions import default_charter_text

    charter = parse_charter(default_charter_text())
    tagger = EntityTagger(CapitalisedNames({"margaret", "okonkwo"}))
    with_model = Assessor(charter, None, pii_model=tagger)
    found = with_model.assess("Please email Margaret Okonkwo the leave policy.")
    assert found.redacted == "Please email <PERSON> the leave policy."
    assert with_model.pii_model_id is not None
    without = Assessor(charter, None)
    assert without.assess("Please email Margaret Okonkwo the leave policy.").redacted == \
        "Please email Margaret Okonkwo the leave policy."


def test_the_screen_follows_the_active_pii_model_and_its_switch(runtime, monkeypatch,  # noqa: ANN001
                                                                tmp_path, onnx_cache) -> None:
    from charter.core.chat import ChatMessage
    from charter.core.config import load_settings
    from charter.core.principal import local_admin
    from charter.judgement import serving
    from charter.runtime import Runtime

    first = EntityTagger(CapitalisedNames({"zorblax"}))
    monkeypatch.setattr(serving, "pii_tagger", lambda settings: first)
    ask = [ChatMessage("user", "Please forward the leave form to Zorblax Quint.")]
    screened = runtime.screen.screen_input(local_admin(), ask)
    assert "<PERSON>" in screened.redacted_question and "PERSON" in screened.pii
    # Another active model: the screen builds its assessor again.
    second = EntityTagger(CapitalisedNames({"quint"}))
    second.id = "pii:other"
    monkeypatch.setattr(serving, "pii_tagger", lambda settings: second)
    again = runtime.screen.screen_input(local_admin(), ask)
    assert again.redacted_question == "Please forward the leave form to Zorblax <PERSON>."
    off = Runtime.open(load_settings({"CHARTER_DATA_DIR": str(tmp_path / "off"),
                                      "CHARTER_ONNX_CACHE_DIR": str(onnx_cache),
                                      "CHARTER_PII_MODEL": "false"}))
    try:
        assert off.screen.assessor().pii_model_id is None
        plain = off.screen.screen_input(local_admin(), ask)
        assert plain.redacted_question == ask[0].content
    finally:
        off.close()


def test_the_served_pii_model_is_the_int8_graph_when_its_tags_agree(tmp_path) -> None:  # noqa: ANN001
    from charter.judgement.runtime import Scorer

    artifact = shipped("pii")
    assert artifact is not None
    served = Scorer(artifact, tmp_path, threads=1)
    assert served.backend == "onnx"
    assert str(served._session._model_path).endswith("-int8.onnx")
    probe = served._probe_batch()
    gap = abs(served._checked(served._session_logits(served._session, probe))
              - served._checked(served._torch_logits(probe))).max()
    assert gap < 0.03


def test_each_served_scorer_gets_its_own_tagger(tmp_path) -> None:  # noqa: ANN001
    from charter.core.config import load_settings
    from charter.judgement import serving

    base = {"CHARTER_DATA_DIR": str(tmp_path / "d"), "CHARTER_ONNX_CACHE_DIR": str(tmp_path)}
    onnx = serving.pii_tagger(load_settings(base))
    plain = serving.pii_tagger(load_settings({**base, "CHARTER_JUDGEMENT_ONNX": "false"}))
    assert onnx is not None and plain is not None
    assert onnx.scorer.backend == "onnx" and plain.scorer.backend == "torch"
    assert serving.pii_tagger(load_settings(base)) is onnx
