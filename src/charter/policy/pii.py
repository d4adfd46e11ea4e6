"""PII detection and redaction: Presidio's pattern recognizers and Charter's PII model.

The pattern recognizers run offline: e-mail, phone (libphonenumber), payment card
(Luhn-checked), IBAN (checksum), IP address, URL, US SSN, UK NHS number and UK National
Insurance number. Person names, street addresses, places, organisations and dates come
from the PII model (``policy/pii_model.py``, trained by ``charter finetune pii``); where
a pattern and the model both find something, the pattern's span is kept.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from charter.policy.pii_model import MODEL_ENTITIES, EntityTagger

PATTERN_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS",
                    "URL", "US_SSN", "UK_NHS", "UK_NINO")
SUPPORTED = (*PATTERN_ENTITIES, *MODEL_ENTITIES)
log = logging.getLogger("charter.policy")


# Context recognizers written for Charter: numbers that Presidio's format-based patterns
# miss (12- and 19-digit cards, local phone numbers) but that the words around them give away.
_CARD_CONTEXT = re.compile(
    r"\b(card|cc|credit|debit|visa|mastercard|amex|maestro|jcb|diners)\b[^0-9\n]{0,30}"
    r"(?P<num>\d(?:[ -]?\d){11,18})\b", re.IGNORECASE)
_PHONE_CONTEXT = re.compile(
    r"\b(phone|tel|telephone|mobile|cell|fax|call me (?:on|at)|answering at|reach me (?:on|at)|"
    r"registered|number is)\b[:\s]*(?P<num>\+?\(?\d[\d ().-]{5,18}\d)(?!\d)", re.IGNORECASE)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _context_spans(text: str, entities: Sequence[str]) -> list[Span]:
    out = []
    if "CREDIT_CARD" in entities:
        for m in _CARD_CONTEXT.finditer(text):
            digits = re.sub(r"\D", "", m.group("num"))
            if 12 <= len(digits) <= 19 and _luhn(digits):
                out.append(Span("CREDIT_CARD", m.start("num"), m.end("num"), 0.8, m.group("num")))
    if "PHONE_NUMBER" in entities:
        for m in _PHONE_CONTEXT.finditer(text):
            digits = re.sub(r"\D", "", m.group("num"))
            if 6 <= len(digits) <= 15:
                out.append(Span("PHONE_NUMBER", m.start("num"), m.end("num"), 0.5, m.group("num")))
    return out


NEUTRAL = {"EMAIL_ADDRESS": "an e-mail address", "PHONE_NUMBER": "a phone number",
           "CREDIT_CARD": "a card number", "IBAN_CODE": "a bank account", "IP_ADDRESS": "an address",
           "URL": "a link", "US_SSN": "an id number", "UK_NHS": "an id number",
           "UK_NINO": "an id number", "PERSON": "a person", "STREET_ADDRESS": "an address",
           "LOCATION": "a place", "ORGANIZATION": "an organisation", "DATE_TIME": "a date"}


@dataclass(frozen=True)
class Span:
    entity: str
    start: int
    end: int
    score: float
    text: str


def _offline_tldextract() -> None:
    # Presidio's e-mail recognizer calls tldextract, whose default extractor would fetch
    # the public suffix list over the network on first use. Point it at the snapshot
    # that ships inside the tldextract wheel instead.
    import tldextract.tldextract as tld

    tld.TLD_EXTRACTOR.suffix_list_urls = ()
    tld.TLD_EXTRACTOR.fallback_to_snapshot = True


@cache
def _prepare_offline() -> None:
    _offline_tldextract()
    import tldextract.tldextract as tld

    tld.TLD_EXTRACTOR("example.org")  # loads the suffix list once, before threads share it


# Each thread has its own recognizers: they keep small caches that are not thread-safe,
# and one shared set behind a lock made concurrent requests queue for each other.
_local = threading.local()


_build_lock = threading.Lock()


def _recognizers() -> list[Any]:
    recs: list[Any] | None = getattr(_local, "recognizers", None)
    if recs is None:
        with _build_lock:
            recs = _local.recognizers = _build_recognizers()
    return recs


def _build_recognizers() -> list[Any]:
    _prepare_offline()
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        NhsRecognizer,
        PhoneRecognizer,
        UkNinoRecognizer,
        UrlRecognizer,
        UsSsnRecognizer,
    )

    return [EmailRecognizer(), PhoneRecognizer(), CreditCardRecognizer(), IbanRecognizer(),
            IpRecognizer(), UrlRecognizer(), UsSsnRecognizer(), NhsRecognizer(),
            UkNinoRecognizer()]


_IBAN_START = re.compile(r"[A-Z]{2}[0-9]{2}")

# The fewest digits a phone number written with its country code has ("+43" and four
# digits, by phonenumbers' metadata; a test recomputes it). A text with fewer digits can
# only hold numbers written the national way, which are at least as long as the shortest
# number of their region.
INTERNATIONAL_MIN_DIGITS = 6


@cache
def _region_min_digits(region: str) -> int:
    from phonenumbers import PhoneMetadata

    meta = PhoneMetadata.metadata_for_region(region)
    lengths = meta.general_desc.possible_length if meta is not None else ()
    return min(lengths) if lengths else 0


def _phone_regions(regions: Sequence[str], digits: int) -> tuple[str, ...]:
    """The regions whose phone matcher could find a number in a text with ``digits``
    digits: all of them from the international minimum on, else those whose shortest
    national number fits. The matcher runs once per region, so a text with a year in it
    ("the 2025 policy") no longer pays for eight full parses."""
    if digits >= INTERNATIONAL_MIN_DIGITS:
        return tuple(regions)
    return tuple(r for r in regions if _region_min_digits(r) <= digits)


def _phone_recognizer(regions: tuple[str, ...]) -> Any:
    """This thread's phone recognizer for just these regions."""
    cached: dict[tuple[str, ...], Any] | None = getattr(_local, "phones", None)
    if cached is None:
        cached = _local.phones = {}
    rec = cached.get(regions)
    if rec is None:
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer

        rec = cached[regions] = PhoneRecognizer(supported_regions=regions)
    return rec


def _could_match(name: str, text: str, digits: int) -> bool:
    """A necessary condition for each recognizer's patterns: a text without it cannot
    hold that kind of span, so the recognizer (the phone matcher above all) is skipped."""
    if name == "EmailRecognizer":
        return "@" in text
    if name == "UrlRecognizer":
        return "." in text or "://" in text
    if name == "IpRecognizer":
        return ":" in text or ("." in text and digits >= 4)
    if name == "IbanRecognizer":  # its pattern starts with a country code and two digits
        return _IBAN_START.search(text) is not None
    # Phone numbers: see _phone_regions, which knows each region's shortest number.
    least = {"CreditCardRecognizer": 12,
             "UsSsnRecognizer": 9, "NhsRecognizer": 10, "UkNinoRecognizer": 6}
    return digits >= least.get(name, 0)


def _outside(start: int, end: int, taken: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end) that no range of ``taken`` (sorted) covers."""
    parts, at = [], start
    for a, z in taken:
        if z <= at or a >= end:
            continue
        if a > at:
            parts.append((at, a))
        at = max(at, z)
    if at < end:
        parts.append((at, end))
    return parts


class PiiDetector:
    """Finds PII spans; ``redact`` replaces them with ``<ENTITY>`` placeholders.

    ``tagger`` is the PII model; without it the model's entities are not found (a
    warning says so when some were asked for)."""

    def __init__(self, entities: Sequence[str] = PATTERN_ENTITIES, min_score: float = 0.4,
                 tagger: EntityTagger | None = None) -> None:
        unknown = sorted(set(entities) - set(SUPPORTED))
        if unknown:
            from charter.core.errors import InvalidInputError

            raise InvalidInputError(f"PII entities not supported offline: {', '.join(unknown)}; "
                                    f"supported: {', '.join(SUPPORTED)}")
        self.entities = list(entities)
        self.min_score = min_score
        self.tagger = tagger
        self.model_entities = [e for e in self.entities if e in MODEL_ENTITIES]
        if self.model_entities and tagger is None:
            log.warning("PII entities %s need the PII model, which is off "
                        "(CHARTER_PII_MODEL=false) or missing; they are not detected",
                        ", ".join(self.model_entities))

    @property
    def claimed(self) -> list[str]:
        """The entities this detector finds."""
        return [e for e in self.entities if e not in MODEL_ENTITIES or self.tagger is not None]

    def find(self, text: str) -> list[Span]:
        if not text:
            return []
        found: list[Span] = []
        digits = sum(c.isdigit() for c in text)
        for rec in _recognizers():
            wanted = [e for e in rec.supported_entities if e in self.entities]
            if not wanted or not _could_match(type(rec).__name__, text, digits):
                continue
            if type(rec).__name__ == "PhoneRecognizer":
                regions = _phone_regions(rec.supported_regions, digits)
                if not regions:
                    continue
                if regions != tuple(rec.supported_regions):
                    rec = _phone_recognizer(regions)
            for r in rec.analyze(text, wanted, None) or []:
                if r.score < self.min_score:
                    continue
                end = r.end
                while end > r.start and text[end - 1] in ".,;:!?)]}'\"":
                    end -= 1  # sentence punctuation after a URL is not part of it
                found.append(Span(r.entity_type, r.start, end, r.score, text[r.start:end]))
        found.extend(_context_spans(text, self.entities))
        # Keep the strongest of overlapping spans (a URL inside an e-mail, say).
        found.sort(key=lambda s: (-s.score, -(s.end - s.start), s.start))
        kept: list[Span] = []
        for span in found:
            if all(span.end <= k.start or span.start >= k.end for k in kept):
                kept.append(span)
        if self.tagger is not None and self.model_entities:
            # The model's spans fill in around the patterns' (a pattern's span wins; the
            # parts of a model span on either side of it are kept).
            patterns = sorted((k.start, k.end) for k in kept)
            for t in self.tagger.find(text, self.model_entities):
                for a, z in _outside(t.start, t.end, patterns):
                    while a < z and not text[a].isalnum():
                        a += 1
                    while z > a and not text[z - 1].isalnum():
                        z -= 1
                    if z > a:
                        kept.append(Span(t.entity, a, z, round(t.score, 3), text[a:z]))
        return sorted(kept, key=lambda s: s.start)

    def redact(self, text: str, spans: list[Span] | None = None) -> tuple[str, list[Span]]:
        spans = self.find(text) if spans is None else spans
        out = text
        for span in reversed(spans):
            out = out[:span.start] + f"<{span.entity}>" + out[span.end:]
        return out, spans

    @staticmethod
    def neutral(text: str, spans: list[Span]) -> str:
        """The text with each span replaced by plain words ("an e-mail address"): what the
        request is about stays readable for a classifier, without anyone's details or the
        bracketed placeholders that would skew it."""
        out = text
        for span in reversed(spans):
            out = out[:span.start] + NEUTRAL.get(span.entity, "a number") + out[span.end:]
        return out
