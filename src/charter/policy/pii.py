"""PII detection and redaction with Presidio's pattern recognizers (no NLP model needed).

Only recognizers that run offline are used: e-mail, phone (libphonenumber), payment
card (Luhn-checked), IBAN (checksum), IP address, URL, US SSN, UK NHS number and UK
National Insurance number. Names and street addresses need a language model and are
not claimed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

SUPPORTED = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "URL",
             "US_SSN", "UK_NHS", "UK_NINO")


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
def _recognizers() -> list[Any]:
    _offline_tldextract()
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


_lock = threading.Lock()


class PiiDetector:
    """Finds PII spans; ``redact`` replaces them with ``<ENTITY>`` placeholders."""

    def __init__(self, entities: Sequence[str] = SUPPORTED, min_score: float = 0.4) -> None:
        unknown = sorted(set(entities) - set(SUPPORTED))
        if unknown:
            from charter.errors import InvalidInputError

            raise InvalidInputError(f"PII entities not supported offline: {', '.join(unknown)}; "
                                    f"supported: {', '.join(SUPPORTED)}")
        self.entities = list(entities)
        self.min_score = min_score

    def find(self, text: str) -> list[Span]:
        if not text:
            return []
        found: list[Span] = []
        with _lock:  # recognizers keep small caches that are not thread-safe
            for rec in _recognizers():
                wanted = [e for e in rec.supported_entities if e in self.entities]
                if not wanted:
                    continue
                for r in rec.analyze(text, wanted, None) or []:
                    if r.score < self.min_score:
                        continue
                    end = r.end
                    while end > r.start and text[end - 1] in ".,;:!?)]}'\"":
                        end -= 1  # sentence punctuation after a URL is not part of it
                    found.append(Span(r.entity_type, r.start, end, r.score, text[r.start:end]))
        # Keep the strongest of overlapping spans (a URL inside an e-mail, say).
        found.sort(key=lambda s: (-s.score, -(s.end - s.start), s.start))
        kept: list[Span] = []
        for span in found:
            if all(span.end <= k.start or span.start >= k.end for k in kept):
                kept.append(span)
        return sorted(kept, key=lambda s: s.start)

    def redact(self, text: str) -> tuple[str, list[Span]]:
        spans = self.find(text)
        out = text
        for span in reversed(spans):
            out = out[:span.start] + f"<{span.entity}>" + out[span.end:]
        return out, spans
